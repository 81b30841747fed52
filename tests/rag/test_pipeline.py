"""The Pipeline API and ``ambigrag ask`` on a real index of the hand-written example corpus."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from rag.pipeline import Pipeline
from rag.types import Answer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bobby_carpenter.jsonl"
Q = "What sport is Bobby Carpenter associated with?"


@pytest.fixture(scope="module")
def example_index(tmp_path_factory, encoder) -> Path:
    from indexes import build

    return build(EXAMPLE, tmp_path_factory.mktemp("bc") / "idx", encoder=encoder, progress=False)


class _ScriptedLLM:
    """A deterministic stand-in for a chat model (no local chat model ships in ``.[dev]``): it
    answers with the sport named in the passage, as a small instruct model does."""

    id = "scripted"

    def generate(self, prompts, max_tokens=64, stop=None):
        out = []
        for p in prompts:
            passage = p.split("<passage>")[-1].split("</passage>")[0]
            sport = "ice hockey" if "ice hockey" in passage else "American football" if "football" in passage else "none"
            out.append(f"{sport}.")
        return out

    def score(self, prompts, continuations):
        raise NotImplementedError


@pytest.fixture(scope="module")
def pipe(example_index) -> Pipeline:
    return Pipeline.from_index(example_index, llm=_ScriptedLLM(), k=6)


def test_ambiguous_name_gets_a_complete_answer_naming_both_readings(pipe):
    ans = pipe.ask(Q)
    assert ans.kind == "multi"
    assert {r.label for r in ans.readings} == {"Bobby Carpenter (American football)", "Bobby Carpenter (ice hockey)"}
    assert {r.answer for r in ans.readings} == {"American football", "ice hockey"}
    # each reading cites exactly the example passages of its own article
    by_title = {}
    for line in EXAMPLE.read_text().splitlines():
        d = json.loads(line)
        by_title.setdefault(d["title"], set()).add(d["id"])
    for r in ans.readings:
        assert set(r.citations) == by_title[r.label], r.label
    assert "For Bobby Carpenter (ice hockey): ice hockey [" in ans.text
    assert ans.sources[0] in {c for r in ans.readings for c in r.citations}


def test_interactive_ask_clarifies_and_the_reply_picks_a_reading(pipe):
    state = pipe.ask(Q, interactive=True)
    assert state.kind == "clarify"
    assert "ice hockey" in state.clarifying_question and "American football" in state.clarifying_question
    ans = pipe.reply(state, "I mean the hockey player")
    assert ans.kind == "single" and ans.readings[0].answer == "ice hockey"
    again = pipe.reply(state, "no idea")
    assert again.kind == "clarify" and again.turn == 1
    final = pipe.reply(again, "still no idea")
    assert final.kind == "multi" and len(final.readings) == 2
    with pytest.raises(ValueError, match="clarify"):
        pipe.reply(ans, "2")


def test_a_question_without_support_abstains_with_a_reason(pipe):
    ans = pipe.ask("Who won the 1950 Tour de France?")
    assert (ans.kind, ans.readings) == ("abstain", ())
    assert ans.reason == "no supporting evidence in the retrieved passages"


def test_answer_many_equals_ask_and_bad_questions_are_named(pipe):
    qs = [Q, "Who won the 1950 Tour de France?"]
    assert pipe.answer_many(qs, progress=False) == [pipe.ask(q) for q in qs]
    with pytest.raises(ValueError, match="non-empty"):
        pipe.ask("  ")


def test_eight_threads_get_the_serial_answers(pipe):
    qs = [Q, "Which team drafted Bobby Carpenter?", "Who won the 1950 Tour de France?",
          "Where is Lancaster, Ohio?"] * 4
    serial = [pipe.ask(q) for q in qs]
    results: list[Answer | None] = [None] * len(qs)

    def work(i):
        results[i] = pipe.ask(qs[i])

    threads = [threading.Thread(target=lambda j=j: [work(i) for i in range(j, len(qs), 8)]) for j in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == serial


def test_answers_serialise_to_json(pipe):
    d = json.loads(json.dumps(pipe.ask(Q).to_dict()))
    assert d["kind"] == "multi" and {r["answer"] for r in d["readings"]} == {"American football", "ice hockey"}


def test_cli_ask_json_and_interactive(example_index, monkeypatch, capsys):
    from rag import cli, pipeline

    monkeypatch.setattr(pipeline, "default_llm", lambda cache=True: _ScriptedLLM())
    assert cli.main(["-q", "ask", "--index", str(example_index), "--json", Q]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["kind"] == "multi"
    monkeypatch.setattr("sys.stdin", io.StringIO("2\n"))
    assert cli.main(["-q", "ask", "--index", str(example_index), "--interactive", Q]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("Which do you mean:") and "ice hockey" in lines[-1] + lines[0]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["-q", "ask", "--index", str(example_index), "--interactive", Q]) == 2


def test_the_pipeline_as_a_langchain_runnable(pipe):
    pytest.importorskip("langchain_core")
    from rag.integrations.langchain import as_runnable

    chain = as_runnable(pipe)
    out = chain.invoke(Q)
    assert out["kind"] == "multi" and {r["answer"] for r in out["readings"]} == {"American football", "ice hockey"}
    assert chain.invoke({"question": Q}) == out
    assert chain.batch([Q, "Who won the 1950 Tour de France?"])[1]["kind"] == "abstain"
    with pytest.raises(TypeError, match="question"):
        chain.invoke(42)

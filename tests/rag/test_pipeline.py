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
def pipe(example_index, encoder) -> Pipeline:
    return Pipeline.from_index(example_index, llm=_ScriptedLLM(), k=6, encoder=encoder, extract="llm")


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
    # citation numbers run 1, 2, 3 ... in the text without gaps, and [n] is sources[n - 1]
    first, second = ans.readings
    n1 = "".join(f"[{i}]" for i in range(1, len(first.citations) + 1))
    n2 = "".join(f"[{i}]" for i in range(len(first.citations) + 1, len(first.citations) + len(second.citations) + 1))
    assert ans.text == f"For {first.label}: {first.answer} {n1}. For {second.label}: {second.answer} {n2}."
    assert ans.sources[:len(first.citations) + len(second.citations)] == first.citations + second.citations
    assert len(ans.sources) == 6     # every passage read is still a source, the uncited ones last


def test_interactive_ask_clarifies_and_the_reply_picks_a_reading(pipe):
    state = pipe.ask(Q, interactive=True)
    assert state.kind == "clarify"
    assert "ice hockey" in state.clarifying_question and "American football" in state.clarifying_question
    ans = pipe.reply(state, "I mean the hockey player")
    assert ans.kind == "single" and ans.readings[0].answer == "ice hockey"
    cited = ans.readings[0].citations     # the second option's passages are [1], [2] of this answer
    assert ans.text == "ice hockey " + "".join(f"[{i}]" for i in range(1, len(cited) + 1)) + "."
    assert ans.sources[:len(cited)] == cited and sorted(ans.sources) == sorted(state.sources)
    assert (state.turn, ans.turn) == (0, 1)          # a pick on the first reply was turn 0
    again = pipe.reply(state, "no idea")
    assert again.kind == "clarify" and again.turn == 1
    final = pipe.reply(again, "still no idea")
    assert final.kind == "multi" and len(final.readings) == 2 and final.turn == 2
    assert pipe.reply(again, "the hockey one").turn == 2
    with pytest.raises(ValueError, match="clarify"):
        pipe.reply(ans, "2")


def test_a_question_without_support_abstains_with_a_reason(pipe):
    ans = pipe.ask("Who won the 1950 Tour de France?")
    assert (ans.kind, ans.readings) == ("abstain", ())
    assert ans.reason == "no supporting evidence in the retrieved passages"


def test_answer_many_equals_ask_and_bad_questions_are_named(pipe):
    qs = [Q, "Who won the 1950 Tour de France?"]
    assert pipe.answer_many(qs, progress=False) == [pipe.ask(q) for q in qs]
    with pytest.raises(ValueError, match="question is only whitespace"):
        pipe.ask("  ")
    with pytest.raises(ValueError, match="retrieve takes a list of questions, got one string"):
        pipe.retrieve("Who?")           # was 4 runs of hits
    with pytest.raises(ValueError, match="answer_many takes a list of questions, got one string"):
        pipe.answer_many("Who?")        # was 4 answers, to 'W', 'h', 'o' and '?'
    for bad in (0, -1, 2.5):             # -1 returned [] and 0 a range() error
        with pytest.raises(ValueError, match=f"batch_size must be an integer >= 1, got {bad}"):
            pipe.answer_many(qs, batch_size=bad, progress=False)


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
    assert cli.main(["-q", "ask", "--index", str(example_index), "--extract", "llm", "--json", Q]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["kind"] == "multi"
    monkeypatch.setattr("sys.stdin", io.StringIO("2\n"))
    assert cli.main(["-q", "ask", "--index", str(example_index), "--extract", "llm", "--interactive", Q]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("Which do you mean:") and "ice hockey" in lines[-1] + lines[0]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["-q", "ask", "--index", str(example_index), "--extract", "llm", "--interactive", Q]) == 2


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
    got = chain.batch([Q, 42], return_exceptions=True)   # raised for both before
    assert got[0] == out and isinstance(got[1], TypeError)


# --- replies to the clarifying question (issue #12.1), through the API and the CLI -------------

REPLIES = [("the hockey one", "ice hockey"), ("option 2", "ice hockey"), ("not the football player", "ice hockey"),
           ("the linebacker", "American football"), ("the centre", "ice hockey"), ("(1)", "American football"),
           ("the Cowboys one", "American football"), ("the last one", "ice hockey")]


def test_replies_pick_the_right_reading_from_a_state_stored_as_json(pipe):
    state = pipe.ask(Q, interactive=True)
    assert [r.label for r in state.readings] == ["Bobby Carpenter (American football)", "Bobby Carpenter (ice hockey)"]
    assert {p.id for p in state.passages} == {c for r in state.readings for c in r.citations}
    stored = Answer.from_dict(json.loads(json.dumps(state.to_dict())))
    assert stored == state
    for reply, sport in REPLIES:
        ans = pipe.reply(stored, reply)
        assert (ans.kind, ans.readings[0].answer) == ("single", sport), reply
        assert ans.question == Q and not ans.passages
    again = pipe.reply(stored, "the American one, not the hockey one... or the hockey one")
    assert again.kind == "clarify" and "Which do you mean: (1)" in again.text and again.passages == state.passages


@pytest.mark.parametrize(("stdin", "sport"), [("the hockey one\n", "ice hockey"),
                                              ("the other one\nthe linebacker\n", "American football")])
def test_cli_interactive_replies(example_index, monkeypatch, capsys, stdin, sport):
    from rag import cli, pipeline

    monkeypatch.setattr(pipeline, "default_llm", lambda cache=True: _ScriptedLLM())
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert cli.main(["-q", "ask", "--index", str(example_index), "--extract", "llm", "--interactive", Q]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("Which do you mean: (1) Bobby Carpenter, American football")
    turns = [x for x in lines if not x.startswith("  [")]
    assert turns[-1].startswith(sport) and len(turns) == stdin.count("\n") + 1
    # under the answer, its cited passages by number: "  [1] Bobby Carpenter (ice hockey): ..."
    cited = lines[len(turns):]
    assert [x[:len("  [1] ")] for x in cited] == [f"  [{i}] " for i in range(1, len(cited) + 1)] and cited
    assert all(x.startswith(f"  [{i}] Bobby Carpenter ({sport}): ") for i, x in enumerate(cited, start=1))
    assert turns[-1] == sport + " " + "".join(f"[{i}]" for i in range(1, len(cited) + 1)) + "."
    if stdin.startswith("the other"):
        assert lines[1].startswith("Sorry, I could not tell which one you mean (no word of the reply matches")


# --- failures surface (issue #12.2) ------------------------------------------------------------

class _OutOfMemoryLLM(_ScriptedLLM):
    id = "oom"

    def generate(self, prompts, max_tokens=64, stop=None):
        raise MemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_a_failing_llm_raises_its_message_never_no_evidence(example_index, encoder, tmp_path):
    from rag.llm.hf import TransformersLLM
    from readers.errors import ReaderError
    from readers.evidence import SpanExtractor
    from readers.reader import AmbigReader

    failing = Pipeline.from_index(example_index, llm=_OutOfMemoryLLM(), k=6, ambiguity=False, encoder=encoder,
                                   extract="llm")
    with pytest.raises(ReaderError, match=r"^the reader failed: MemoryError: CUDA out of memory"):
        failing.ask(Q)
    soft = Pipeline(failing.retriever, failing.reader, k=6, on_reader_error="abstain")
    ans = soft.ask(Q)
    assert ans.kind == "abstain" and ans.reason.startswith("the reader failed: MemoryError: CUDA out of memory")
    unanswerable = Pipeline(failing.retriever, AmbigReader(SpanExtractor(_ScriptedLLM()))).ask(
        "Who won the 1950 Tour de France?")
    assert unanswerable.reason == "no supporting evidence in the retrieved passages" != ans.reason
    missing = Pipeline(failing.retriever, AmbigReader(SpanExtractor(TransformersLLM(str(tmp_path / "no-model")))))
    with pytest.raises(ReaderError, match="^the reader failed: .*no-model"):
        missing.ask(Q)


def test_cli_reports_a_failing_llm_in_one_line_with_status_1(example_index, monkeypatch, capsys):
    from rag import cli, pipeline

    monkeypatch.setattr(pipeline, "default_llm", lambda cache=True: _OutOfMemoryLLM())
    assert cli.main(["-q", "ask", "--index", str(example_index), "--extract", "llm", "--mode", "bm25", Q]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("Loading weights")]
    assert err == ["ambigrag: error: the reader failed: MemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory) -> Path:
    from indexes import build

    return build(EXAMPLE, tmp_path_factory.mktemp("bc") / "bm25", dense=False, progress=False)


def test_a_bm25_only_index_answers_through_the_pipeline(bm25_index, encoder, monkeypatch, capsys):
    from rag import cli, pipeline

    pipe = Pipeline.from_index(bm25_index, llm=_ScriptedLLM(), k=6, ambiguity=False, encoder=encoder, extract="llm")
    ans = pipe.ask(Q)
    assert ans.kind == "multi" and {r.answer for r in ans.readings} == {"American football", "ice hockey"}
    assert pipe.reply(pipe.ask(Q, interactive=True), "the centre").readings[0].answer == "ice hockey"
    with pytest.raises(ValueError, match="mode 'dense' needs an index with dense"):
        Pipeline.from_index(bm25_index, mode="dense")
    with pytest.raises(ValueError, match="encoder_backend 'onnx-int8': the index .* has no dense part"):
        Pipeline.from_index(bm25_index, encoder_backend="onnx-int8")   # was silently ignored
    monkeypatch.setattr(pipeline, "default_llm", lambda cache=True: _ScriptedLLM())
    assert cli.main(["-q", "ask", "--index", str(bm25_index), "--json", Q]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["kind"] == "multi" and len(out["readings"]) == 2
    assert cli.main(["-q", "search", str(bm25_index), "Bobby Carpenter hockey", "-k", "2", "--json"]) == 0
    assert [json.loads(x)["id"] for x in capsys.readouterr().out.splitlines()] == ["bc-hockey-2", "bc-hockey"]


def test_passages_without_titles_still_give_readings(shared_data, encoder, tmp_path):
    """RAMDocs documents have no titles: readings come from "Name (descriptor)" leads, or, with
    those cut off, from the distinct answers, labelled by their passages' distinctive phrases."""
    import re

    from indexes import build

    with open(shared_data / "ramdocs" / "RAMDocs_dev.jsonl", encoding="utf-8") as f:
        recs = {r["question"]: r for r in map(json.loads, f)}
    lazy, killswitch = 'Who is the artist of the album "Lazy Afternoon"?', 'When was the album "Killswitch Engage" released?'
    rows = [{"id": f"lazy{i}", "text": d["text"]} for i, d in enumerate(recs[lazy]["documents"]) if d["type"] == "correct"]
    rows += [{"id": f"ks{i}", "text": re.sub(r"^.*?\)\s*", "", d["text"], count=1)}
             for i, d in enumerate(recs[killswitch]["documents"]) if d["type"] == "correct"]
    corpus = tmp_path / "untitled.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pipe = Pipeline.from_index(build(corpus, tmp_path / "idx", dense=False, progress=False), k=4, ambiguity=False,
                               encoder=encoder)
    a = pipe.ask(lazy)
    assert a.kind == "multi"
    assert [(r.label, r.answer) for r in a.readings] == [("A Lazy Afternoon (Harold Land album)", "Harold Land"),
                                                         ("Lazy Afternoon (Barbra Streisand album)", "Barbra Streisand")]
    b = pipe.ask(killswitch)
    # (the Lazy Afternoon passages are retrieved too and give their own dates, under their labels);
    # with no lead, each album is labelled by phrases only its own passage has, not by its date
    assert b.kind == "multi" and {("Killswitch Engage (Ferret Music)", "July 4, 2000"),
                                  ("Killswitch Engage (Adam Dutkiewicz and Brendan O'Brien, Howard Jones)",
                                   "June 30, 2009")} <= {(r.label, r.answer) for r in b.readings}
    c = pipe.ask(killswitch, interactive=True)
    assert c.kind == "clarify" and "Ferret Music" in c.text
    assert "2000" not in c.text and "2009" not in c.text  # the options name the albums, not the answers
    assert pipe.reply(c, "the Ferret Music one").readings[0].answer == "July 4, 2000"


# --- question and k validation (issue #12.2) ----------------------------------------------------

BAD_QUESTIONS = [("", "question is empty"), ("  \n\t", "question is only whitespace"),
                 (42, "question must be a string, got int"), (None, "question must be a string, got NoneType"),
                 ("why " * 300, "question is 1199 characters long; the limit is 1000"),
                 ("\u200b", r"question has no letters or digits: '\\u200b'"),
                 ("\x00 ?!", r"question has no letters or digits: '\\x00 \?!'"),
                 # a Latin-1 byte from a shell arrives as a lone surrogate (a traceback in the encoder)
                 ("caf\udce9?", r"question is not valid UTF-8: an undecodable byte at character 4")]


@pytest.mark.parametrize(("question", "message"), BAD_QUESTIONS)
def test_bad_questions_are_refused_by_the_api(pipe, question, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        pipe.ask(question)
    with pytest.raises(ValueError, match=f"^{message.replace('question', 'question 1', 1)}"):
        pipe.answer_many([Q, question], progress=False)


@pytest.mark.parametrize(("argv", "message"), [
    (["ask", ""], "question is empty"), (["ask", "   "], "question is only whitespace"),
    (["ask", "why " * 300], "question is 1199 characters long; the limit is 1000"),
    (["ask", "-k", "0", Q], "k (passages retrieved and read) must be an integer >= 1, got 0"),
    (["search", "IDX", Q, "-k", "0"], "k (passages retrieved and read) must be an integer >= 1, got 0"),
    (["search", "IDX", " "], "query is only whitespace"),
    # --reader-model was silently ignored by the model-free reader
    (["ask", "--extract", "llm", "--no-llm", "--reader-model", "/nonexistent", Q],
     "reader_model (/nonexistent) is the span reader's model; it needs extract='span', got extract='llm'")])
def test_bad_cli_input_is_one_line_and_status_2(example_index, capsys, argv, message):
    from rag import cli

    argv = [str(example_index) if a == "IDX" else a for a in argv]
    index = [] if argv[0] == "search" else ["--index", str(example_index)]
    assert cli.main(["-q", argv[0], *index, *argv[1:]]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"ambigrag: error: {message}"]


def test_k_means_passages_retrieved_and_read_everywhere(pipe, example_index, encoder, sample_corpus, tmp_path,
                                                       monkeypatch, capsys):
    from indexes import build
    from rag import cli, pipeline

    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="k \\(passages retrieved and read\\) must be an integer >= 1"):
            Pipeline(pipe.retriever, pipe.reader, k=bad)
    monkeypatch.setattr(pipeline, "default_llm", lambda cache=True: _ScriptedLLM())
    assert cli.main(["-q", "search", str(example_index), Q, "-k", "3", "--mode", "bm25", "--json"]) == 0
    searched = [json.loads(x)["id"] for x in capsys.readouterr().out.splitlines()]
    assert cli.main(["-q", "ask", "--index", str(example_index), "-k", "3", "--mode", "bm25", "--json", Q]) == 0
    asked = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    api = Pipeline.from_index(example_index, llm=_ScriptedLLM(), k=3, mode="bm25", encoder=encoder,
                              extract="llm").ask(Q)
    assert len(searched) == 3 and sorted(asked["sources"]) == sorted(searched) == sorted(api.sources)
    # all k are read: the reader's own cap of 10 used to cut k=12 to 10 (``sources`` = passages read)
    wide = Pipeline.from_index(build(sample_corpus, tmp_path / "s", dense=False, progress=False), k=12,
                               ambiguity=False, encoder=encoder)
    assert len(wide.ask("who won the 2017 nfl draft first pick").sources) == 12


def test_an_empty_rewrite_is_refused_like_a_comma(example_index, capsys):
    """--rewrite "" was silently ignored (no rewriting), while --rewrite "," was an error."""
    from rag import cli

    for spec in ("", ",", " "):
        assert cli.main(["-q", "ask", "--index", str(example_index), "--rewrite", spec, Q]) == 2
        assert f"rewrites are a comma-separated subset of ('interpretations', 'evidence', 'decompose', " \
               f"'icl'), got {spec!r}" in capsys.readouterr().err


def test_a_retriever_that_repeats_a_passage_gets_the_same_answer(pipe):
    """A custom retriever returning each passage twice doubled every reading's support, and the
    copies filled the reader's k places, pushing distinct passages out."""
    class Twice:
        def retrieve(self, queries, k):
            return [[h for h in run for _ in (0, 1)] for run in pipe.retriever.retrieve(queries, k)]

    once = pipe.ask(Q)
    twice = Pipeline(Twice(), pipe.reader, k=pipe.k).ask(Q)
    assert twice == once and [r.support for r in twice.readings] == [r.support for r in once.readings]
    assert len(set(twice.sources)) == len(twice.sources) == 6


def test_a_possessive_question_reads_the_same_passages(example_index, encoder):
    """"What is Bobby Carpenter's sport?" abstained with the shipped span reader: its relevance gate
    compared 'carpenters' with passages that say 'Carpenter', so every passage was dropped."""
    from readers.spans import content_words

    pipe = Pipeline.from_index(example_index, k=6, encoder=encoder)   # the shipped span reader
    plain = pipe.ask("What is the sport of Bobby Carpenter?")
    assert plain.kind == "multi" and len(plain.readings) == 2
    def shown(ans):   # the spans' probabilities differ with the wording; what is answered does not
        return [(r.label, r.answer, r.citations) for r in ans.readings]

    for q in ("What is Bobby Carpenter's sport?", "What is Bobby Carpenter’s sport?"):
        assert shown(pipe.ask(q)) == shown(plain), q
    assert content_words("Jones' and O'Neal's") == {"jones", "oneal"}


def test_read_names_what_it_takes_when_given_passages(pipe):
    """Passages instead of hits failed as "'Passage' object has no attribute 'passage'"."""
    hits = pipe.retrieve(["When was Bobby Carpenter drafted?"])[0]
    with pytest.raises(TypeError, match=r"read\(\) takes Hits \(from retrieve\(\)\), got Passage at position 0"):
        pipe.read("When was Bobby Carpenter drafted?", [h.passage for h in hits])
    with pytest.raises(TypeError, match="got str at position 1"):
        pipe.read("When was Bobby Carpenter drafted?", [hits[0], "a passage"])

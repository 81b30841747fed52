"""``eval run``: readers side by side on real RAMDocs records and AmbigQA dev questions."""

from __future__ import annotations

import json

import pytest

from eval.data import load_ambigqa, load_ramdocs
from eval.run import ambigqa_prediction, response_text, run_ambigqa, run_gold_docs
from rag.types import Answer, Reading
from readers.baseline import BaselineReader
from readers.reader import AmbigReader


class _EchoLLM:
    """Stands in for a chat model in the baseline: replies with the first passage's first words."""

    id = "echo"

    def generate(self, prompts, max_tokens=64, stop=None):
        return [p.split("[1] ")[1].split(".")[0][:60] if "[1] " in p else "" for p in prompts]


def test_ramdocs_run_scores_both_readers_on_their_own_documents(shared_data):
    records = load_ramdocs()[:8]
    report = run_gold_docs("ramdocs", records, {"ambig": AmbigReader(), "baseline": BaselineReader(_EchoLLM())},
                           progress=False)
    from eval.ramdocs import ramdocs_em
    from eval.run import record_hits

    assert set(report["systems"]) == {"ambig", "baseline"}
    for name, summary in report["systems"].items():
        rows = report["rows"][name]
        assert [r["id"] for r in rows] == [r["id"] for r in records], name
        # each row's EM is the metric on its own response; the summary is their mean
        assert [r["em"] for r in rows] == [ramdocs_em(row["response"], rec["gold_answers"], rec["wrong_answers"])
                                           for row, rec in zip(rows, records)], name
        assert summary["ramdocs_em"] == pytest.approx(sum(r["em"] for r in rows) / 8), name
        assert summary["n"] == 8
    rows = report["rows"]["ambig"]
    assert any(r["em"] for r in rows)  # the span reader gets some right without an LLM
    for row, rec in zip(rows, records):  # the scored response is exactly the readings' answers
        ans = AmbigReader().read(rec["question"], record_hits(rec))
        assert (row["kind"], row["response"]) == (ans.kind, response_text(ans))
    # the baseline scores the LLM's reply as it is: the echo of passage [1]'s opening words
    base = report["rows"]["baseline"]
    assert [r["response"] for r in base] == [r["text"] for r in base]
    assert base[1]["response"] == "Bobby Carpenter (American football) Robert Joseph Carpenter,"
    assert [r["id"] for r in base if r["em"]] == ["1", "4"]  # the title names the sport ("footballer")


def test_structured_responses_and_official_prediction_format():
    a = Answer("multi", (Reading("Bobby Carpenter (ice hockey)", "ice hockey", ("d1",)),
                         Reading("Bobby Carpenter (American football)", "American football", ("d2",))),
               question="What sport is Bobby Carpenter associated with?")
    assert response_text(a) == "ice hockey; American football"
    pred = ambigqa_prediction(a)
    assert pred[0] == {"question": "What sport is Bobby Carpenter associated with, ice hockey?", "answer": "ice hockey"}
    assert ambigqa_prediction(Answer("abstain", reason="x")) == [] and response_text(Answer("abstain")) == ""


def test_ambigqa_run_with_clarification_against_a_simulated_user(small_index, encoder, dev_questions):
    from eval import ambigqa
    from readers.evidence import SpanExtractor
    from readers.reader import AmbiguityScorer
    from retrievers.factory import retriever_for

    records = load_ambigqa()[:12]
    scorer = AmbiguityScorer(encoder=encoder)
    reader = AmbigReader(SpanExtractor(), ambiguity=scorer, max_passages=5)
    report = run_ambigqa(records, retriever_for(small_index, "hybrid", encoder=encoder), {"ambig": reader},
                         k=5, clarify_reader=reader, encoder=encoder, progress=False)
    s = report["systems"]["ambig"]
    preds = report["predictions"]["ambig"]
    assert set(preds) == {r["id"] for r in records}
    assert all(set(x) == {"question", "answer"} for p in preds.values() for x in p)
    # the summary is the official scorer on the written predictions
    official = ambigqa.evaluate(records, preds)["summary"]
    assert s["n"] == 12 and s["n_multi"] == official["n_multi"]
    for key in ("f1_ans_all", "f1_ans_multi", "f1_edit_multi", "coverage"):
        assert s[key] == pytest.approx(official[key]), key
    clar = report["clarification"]
    assert set(clar) == {"classifier", "always"}
    assert clar["always"]["clarify_rate"] >= clar["classifier"]["clarify_rate"]
    assert reader.ambiguity is scorer  # the "always" variant is a second reader, not a mutation


def test_cli_eval_run_writes_reports_and_the_summary_json(tmp_path, capsys):
    from rag.cli import main

    out, js = tmp_path / "out", tmp_path / "summary.json"
    out.mkdir()   # an earlier run's report and its baseline predictions, and the user's own file
    (out / "report.json").write_text(json.dumps({"predictions": {"ambig": {}, "baseline": {}}}))
    (out / "predictions_baseline.json").write_text("{}")
    (out / "predictions_gpt4.json").write_text('{"x": "mine"}')
    assert main(["-q", "eval", "run", "--dataset", "ramdocs", "--reader", "ambig", "--no-llm", "--limit", "5",
                 "--extract", "score", "--out", str(out), "--json", str(js)]) == 0
    summary = json.loads(js.read_text())
    report = json.loads((out / "report.json").read_text())
    assert set(summary) == {"ambig"} and summary["ambig"] == report["systems"]["ambig"]
    rows = report["rows"]["ambig"]
    assert [r["id"] for r in rows] == [r["id"] for r in load_ramdocs()[:5]]
    assert summary["ambig"]["n"] == 5
    assert summary["ambig"]["ramdocs_em"] == pytest.approx(sum(r["em"] for r in rows) / 5)
    assert "| ambig |" in (out / "report.md").read_text()
    assert "ramdocs_em" in capsys.readouterr().out
    # the predictions are written for RAMDocs too (they were for AmbigQA only), and score again the same
    # the earlier run's baseline goes; the user's file, which no report here wrote, stays (it was deleted)
    assert sorted(p.name for p in out.glob("predictions_*.json")) == ["predictions_ambig.json", "predictions_gpt4.json"]
    assert (out / "predictions_gpt4.json").read_text() == '{"x": "mine"}'
    assert main(["-q", "eval", "score", "--dataset", "ramdocs", "--pred", str(out / "predictions_ambig.json"),
                 "--only-predicted", "--json", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())["summary"]
    assert again["ramdocs_em"] == pytest.approx(summary["ambig"]["ramdocs_em"])
    capsys.readouterr()
    data = tmp_path / "two.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in load_ramdocs()[:2]))
    assert main(["-q", "eval", "run", "--dataset", "ramdocs", "--data", str(data), "--reader", "ambig",
                 "--no-llm", "--extract", "score", "--json", str(js)]) == 0   # the span reader trained on them
    assert json.loads(js.read_text())["ambig"]["n"] == 2
    capsys.readouterr()
    assert main(["-q", "eval", "run", "--dataset", "ramdocs", "--reader", "ambig", "--no-llm",
                 "--limit", "0"]) == 2
    assert "--limit must be >= 1, got 0" in capsys.readouterr().err
    assert main(["-q", "eval", "run", "--dataset", "ambigqa", "--no-llm", "--max-passages", "0"]) == 2
    assert "--max-passages must be >= 1, got 0" in capsys.readouterr().err  # scored readers that read nothing


@pytest.mark.parametrize("bad", ['{"question": "q"}\n', "not json\n"])
def test_a_bad_data_file_is_named(tmp_path, bad, capsys):
    from rag.cli import main

    f = tmp_path / "bad.jsonl"
    f.write_text(bad)
    assert main(["-q", "eval", "run", "--dataset", "ramdocs", "--data", str(f), "--reader", "ambig", "--no-llm"]) == 2
    assert str(f) in capsys.readouterr().err


def test_cli_eval_run_ambigqa_on_an_index(small_index_dir, shared_data, tmp_path):
    from rag.cli import main

    js, out = tmp_path / "aq.json", tmp_path / "aq"
    assert main(["-q", "eval", "run", "--dataset", "ambigqa", "--index", str(small_index_dir), "--limit", "4",
                 "--reader", "ambig", "--no-llm", "--extract", "score", "--out", str(out), "--json", str(js)]) == 0
    summary = json.loads(js.read_text())["ambig"]
    preds = json.loads((out / "predictions_ambig.json").read_text())
    from eval import ambigqa
    from eval.retrieval import covered_ids

    dev = load_ambigqa()  # the default subset: the first 4 corpus-covered dev questions
    covered = covered_ids(dev, shared_data / "ambigqa_passages" / "passage_origin.jsonl")
    records = [r for r in dev if r["id"] in covered][:4]
    assert list(preds) == [r["id"] for r in records]

    official = ambigqa.evaluate(records, preds)["summary"]
    assert summary["n"] == 4
    for key in ("f1_ans_all", "f1_ans_multi", "f1_edit_multi"):
        assert summary[key] == pytest.approx(official[key]), key
    assert "Clarification" in (out / "report.md").read_text()


def test_ambigdocs_records_with_documents_are_read_like_ramdocs(tmp_path):
    from pathlib import Path

    from rag.cli import main

    example = Path(__file__).resolve().parents[2] / "examples" / "bobby_carpenter.jsonl"
    docs = [json.loads(line) for line in example.read_text().splitlines()][:3]
    rec = {"question": "What sport is Bobby Carpenter associated with?", "ambiguous_entity": "Bobby Carpenter",
           "documents": [{"title": d["title"], "text": d["text"], "pid": d["id"],
                          "answer": "ice hockey" if "hockey" in d["title"] else "American football"} for d in docs]}
    data, js = tmp_path / "ambigdocs.jsonl", tmp_path / "out.json"
    data.write_text(json.dumps(rec) + "\n")
    assert main(["-q", "eval", "run", "--dataset", "ambigdocs", "--data", str(data), "--reader", "ambig",
                 "--no-llm", "--json", str(js), "--out", str(tmp_path / "out")]) == 0
    s = json.loads(js.read_text())["ambig"]
    (row,) = json.loads((tmp_path / "out" / "report.json").read_text())["rows"]["ambig"]
    # scored with AmbigDocs' own rules on the reader's response, titles included (entity recall)
    from eval.ambigdocs import score_example

    expected = score_example(row["generation"], rec["documents"], rec["ambiguous_entity"])
    assert s["n"] == 1 and row["category"] == expected["category"]
    for key in ("answer_recall", "entity_recall", "ear"):
        assert s[key] == pytest.approx(expected[key]), key


def test_cli_eval_run_refuses_the_span_reader_on_its_own_training_file(capsys):
    from rag.cli import main

    assert main(["-q", "eval", "run", "--dataset", "ramdocs", "--limit", "2"]) == 2
    err = capsys.readouterr().err
    assert "was trained on" in err and "would be in-sample" in err and "RAMDocs_dev.jsonl" in err


def test_cli_eval_run_refuses_part_of_the_training_file_too(shared_data, tmp_path, capsys):
    """`head -12 RAMDocs_dev.jsonl > part.jsonl` passed the whole-file hash check and scored the
    shipped reader on its own training questions."""
    from rag.cli import main

    part = tmp_path / "part.jsonl"
    part.write_text("".join((shared_data / "ramdocs" / "RAMDocs_dev.jsonl").read_text().splitlines(True)[:12]))
    assert main(["-q", "eval", "run", "--dataset", "ramdocs", "--data", str(part), "--limit", "2"]) == 2
    err = capsys.readouterr().err
    assert f"12 question(s) of {part} trained the span reader" in err and "would be in-sample" in err


def test_clarification_is_scored_against_the_best_multi_annotation(encoder):
    """Only the first multipleQAs annotation was scored: a reader answering exactly the second
    annotation got 0.5 where the official F1_ans gives 1.0. (A hand-written record.)"""
    from eval.ambigqa import score_question
    from eval.run import _converse

    record = {"id": "x", "question": "Where was the 1982 World Cup held?", "annotations": [
        {"type": "multipleQAs", "qaPairs": [
            {"question": "Where was the 1982 FIFA World Cup held?", "answer": ["Spain"]},
            {"question": "Where was the 1982 FIBA World Cup held?", "answer": ["Colombia"]}]},
        {"type": "multipleQAs", "qaPairs": [
            {"question": "Where was the 1982 FIFA World Cup held?", "answer": ["Spain"]},
            {"question": "Where was the 1982 World Cup of golf held?", "answer": ["United States"]}]}]}
    readings = (Reading("1982 FIFA World Cup", "Spain"), Reading("1982 World Cup (golf)", "United States"))

    class Scripted:
        def __init__(self, kind):
            self.kind = kind

        def read(self, question, hits, interactive=False):
            return Answer(self.kind, readings, clarifying_question="Do you mean the FIFA World Cup or golf?"
                          if self.kind == "clarify" else None)

    direct = _converse(record, [], Scripted("multi"), encoder)
    assert direct == {"clarified": False, "turns": 0, "f1": 1.0}
    assert score_question(record, ["Spain", "United States"])["f1_ans"] == 1.0
    asked = _converse(record, [], Scripted("clarify"), encoder)
    assert asked["clarified"] and asked["f1"] == 1.0   # each golf / FIFA user gets their own answer

"""``ambigrag eval policy --ramdocs-oof``: RAMDocs outcomes from stored fold predictions, cached,
and scored fold by fold (on 12 real RAMDocs questions read by the shipped reader)."""

from __future__ import annotations

import argparse
import json

import pytest

from eval.data import load_ramdocs


@pytest.fixture(scope="module")
def small_ramdocs(tmp_path_factory):
    """12 real questions (4 with one answer, 8 with several) and their stored spans in 2 folds."""
    from readers.span_reader import SpanReader

    recs = load_ramdocs()
    picked = [r for r in recs if len(r["gold_answers"]) == 1][:4] + [r for r in recs if len(r["gold_answers"]) > 1][:8]
    d = tmp_path_factory.mktemp("ramdocs")
    (d / "ramdocs.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "id"}) + "\n"
                                             for r in picked))
    reader, head = SpanReader(), json.dumps({"settings": {"n_questions": len(picked)}})
    for f in (0, 1):
        rows = []
        for q in range(f, len(picked), 2):
            rec = picked[q]
            out = reader.read(rec["question"], [doc["text"] for doc in rec["documents"]])
            rows.append({"qid": q, "fold": f, "question": rec["question"], "gold_answers": rec["gold_answers"],
                         "wrong_answers": rec["wrong_answers"], "docs": [
                             {"type": doc.get("type"), "answer": doc.get("answer"), "no_answer": ps.no_answer,
                              "spans": [[s.text, s.start, s.end, s.probability] for s in ps.spans]}
                             for doc, ps in zip(rec["documents"], out)]})
        (d / "cv").mkdir(exist_ok=True)
        (d / "cv" / f"oof-fold{f}.jsonl").write_text("\n".join([head, *map(json.dumps, rows)]) + "\n")
    return d, picked


def test_ramdocs_outcomes_are_cached_and_scored_by_fold(small_ramdocs, tmp_path, encoder, capsys):
    from eval.policy_sim import outcome_line
    from rag.commands.policy_cli import _ramdocs, _ramdocs_inputs, _ramdocs_report
    from readers.reader import AmbiguityScorer

    d, picked = small_ramdocs
    args = argparse.Namespace(ramdocs=str(d / "ramdocs.jsonl"), ramdocs_oof=str(d / "cv"))
    classifier = AmbiguityScorer(encoder=encoder).model
    base = {"k": 10, "max_passages": 5}
    inputs = _ramdocs_inputs(args)
    outcomes, folds, p, settings = _ramdocs(args, inputs, tmp_path, base, classifier, encoder)
    assert [o.id for o in outcomes] == [str(i) for i in range(12)]
    assert folds == [i % 2 for i in range(12)] and sorted(settings) == [0, 1]
    assert [o.ambiguous for o in outcomes] == [0] * 4 + [1] * 8
    assert sorted(f.name for f in tmp_path.glob("outcomes-ramdocs-fold*.jsonl")) == \
        ["outcomes-ramdocs-fold0.jsonl", "outcomes-ramdocs-fold1.jsonl"]
    again = _ramdocs(args, inputs, tmp_path, base, classifier, encoder)
    assert list(map(outcome_line, again[0])) == list(map(outcome_line, outcomes))  # NaN != NaN as floats
    assert "ramdocs-fold1: 6 outcomes reused" in capsys.readouterr().err
    row = _ramdocs_report(outcomes, folds, p, settings, [], classifier.threshold)
    assert row["n"] == 12 and row["ambiguous_rate"] == pytest.approx(8 / 12)
    assert [f["fold"] for f in row["folds"]] == [0, 1]
    assert row["fixed"]["abstain"] == {"mean_reward": 0.0, "f1": 0.0, "clarify_rate": 0.0}


def test_a_bad_ramdocs_oof_directory_fails_before_any_work(small_ramdocs, tmp_path, capsys):
    from rag.cli import main

    d, _ = small_ramdocs
    (tmp_path / "cv").mkdir()
    code = main(["eval", "policy", "--out", str(tmp_path / "out"), "--ramdocs", str(d / "ramdocs.jsonl"),
                 "--ramdocs-oof", str(tmp_path / "cv")])
    assert code == 2 and "no oof-fold*.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

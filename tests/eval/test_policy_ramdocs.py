"""The RAMDocs out-of-fold policy: replayed spans, simulated users per entity, fold isolation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.data import load_ramdocs
from eval.policy_ramdocs import (
    StoredSpans,
    out_of_fold_choices,
    ramdocs_targets,
    read_oof_rows,
    specific_question,
)
from eval.policy_sim import Outcome
from eval.run import record_hits
from readers.action_policy import ACTIONS, FEATURE_NAMES


@pytest.fixture(scope="module")
def ramdocs():
    return load_ramdocs()


def _ambiguous(records, n):
    return next(r for r in records if len(r["gold_answers"]) == n)


def test_a_user_per_entity_asks_about_that_entity(ramdocs):
    rec = _ambiguous(ramdocs, 3)
    t = ramdocs_targets(rec)
    assert t.ambiguous == 1
    assert t.gold == tuple((a,) for a in rec["gold_answers"])
    assert [answers for _, answers in t.interpretations] == [(a,) for a in rec["gold_answers"]]
    for (meant, _), entity in zip(t.interpretations, rec["disambig_entity"]):
        assert entity in meant and meant != rec["question"]
    assert ramdocs_targets(_ambiguous(ramdocs, 1)).ambiguous == 0


def test_specific_question_appends_an_entity_it_cannot_place():
    assert specific_question("Who founded it?", "", "Acme (company)") == "Who founded it (Acme (company))?"
    assert specific_question("Where is broken bow?", "Broken Bow", "Broken Bow, Oklahoma") == \
        "Where is Broken Bow, Oklahoma?"


def _rows(records, reader):
    """Rows in the format of ``eval.reader_cv.predict_records``, through JSON as on disk."""
    rows = []
    for qid, rec in records:
        out = reader.read(rec["question"], [d["text"] for d in rec["documents"]])
        rows.append({"qid": qid, "fold": 0, "docs": [
            {"no_answer": ps.no_answer, "spans": [[s.text, s.start, s.end, s.probability] for s in ps.spans]}
            for ps in out]})
    return json.loads(json.dumps(rows))


def test_stored_spans_replay_the_model_exactly(ramdocs, encoder):
    from readers.reader import AmbigReader
    from readers.span_reader import SpanEvidence, SpanReader

    model = SpanReader()
    picked = [(i, r) for i, r in enumerate(ramdocs) if len(r["gold_answers"]) > 1][:2]
    stored = StoredSpans(ramdocs, _rows(picked, model))
    for _, rec in picked:
        texts = [d["text"] for d in rec["documents"]]
        assert stored.read(rec["question"], texts) == model.read(rec["question"], texts)
        live = AmbigReader(SpanEvidence(model, min_margin=0.25), max_passages=20)
        replay = AmbigReader(SpanEvidence(stored, min_margin=0.25), max_passages=20)
        a, b = (r.read(rec["question"], record_hits(rec), interactive=True) for r in (live, replay))
        assert a.readings and a.readings == b.readings and a.kind == b.kind
    with pytest.raises(KeyError, match="no stored prediction"):
        stored.read(picked[0][1]["question"], ["a passage that was never read"])


def test_read_oof_rows_refuses_a_partial_directory(tmp_path):
    head = json.dumps({"settings": {"n_questions": 3}})
    (tmp_path / "oof-fold0.jsonl").write_text(head + "\n" + json.dumps({"qid": 0, "docs": []}) + "\n"
                                              + json.dumps({"qid": 2, "docs": []}) + "\n")
    with pytest.raises(ValueError, match="cover 2 of 3"):
        read_oof_rows(tmp_path, 3)
    with pytest.raises(ValueError, match="made for 3 questions, the data has 4"):
        read_oof_rows(tmp_path, 4)
    (tmp_path / "oof-fold1.jsonl").write_text(head + "\n" + json.dumps({"qid": 1, "docs": []}) + "\n")
    assert [r["qid"] for r in read_oof_rows(tmp_path, 3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="no oof-fold"):
        read_oof_rows(tmp_path / "missing", 3)


def _outcomes(n, seed, flip=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    good = x[:, 0] > 0  # feature 0 says the complete answer is right
    out = []
    for i in range(n):
        multi, single = (0.9, 0.2) if good[i] != flip else (0.1, 0.8)
        out.append(Outcome(str(i), tuple(x[i]), (single, multi, multi - 0.2, 0.0), ACTIONS, int(good[i]),
                           (single, multi, multi - 0.1, 0.0)))
    return out


def test_a_fold_is_decided_by_a_policy_that_never_saw_it():
    outcomes, folds = _outcomes(200, 0), [i % 4 for i in range(200)]
    chosen, scores, lams = out_of_fold_choices(outcomes, folds)
    assert sorted(lams) == [0, 1, 2, 3]
    right = [("multi" if o.ambiguous else "single") == a for o, a in zip(outcomes, chosen)]
    assert np.mean(right) > 0.8  # a linear fit of a step in feature 0; chance is 0.5
    # fold 0's own rewards reversed: its choices cannot move, the others' may
    flipped = _outcomes(200, 0, flip=True)
    mixed = [f if g == 0 else o for o, f, g in zip(outcomes, flipped, folds)]
    again, again_scores, _ = out_of_fold_choices(mixed, folds)
    held = [i for i, g in enumerate(folds) if g == 0]
    assert [again[i] for i in held] == [chosen[i] for i in held]
    assert np.array_equal(again_scores[held], scores[held])
    others = [i for i, g in enumerate(folds) if g != 0]
    assert not np.allclose(again_scores[others], scores[others])  # fold 0 does train the other folds' policies
    with pytest.raises(ValueError, match="200 outcomes but 3 fold numbers"):
        out_of_fold_choices(outcomes, [0, 1, 2])


def test_fold_files_of_other_data_are_not_reused(tmp_path):
    """`train reader` reused out-of-fold results made from another data file with as many
    questions: the key held the settings and the question count, not the data."""
    import json

    from eval.reader_cv import _read_fold, records_digest

    a = [{"question": "Who founded Alpha?", "documents": []}, {"question": "Who founded Beta?", "documents": []}]
    b = [{"question": "Who founded Gamma?", "documents": []}, {"question": "Who founded Delta?", "documents": []}]
    assert records_digest(a) != records_digest(b) and records_digest(a) == records_digest([dict(r) for r in a])
    key = {"epochs": 1, "folds": 2, "n_questions": 2, "records_sha256": records_digest(a)}
    f = tmp_path / "oof-fold0.jsonl"
    f.write_text(json.dumps({"settings": key}) + "\n" + json.dumps({"qid": 0}) + "\n")
    assert _read_fold(f, key) == [{"qid": 0}]
    assert _read_fold(f, {**key, "records_sha256": records_digest(b)}) is None

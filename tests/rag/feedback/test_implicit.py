"""The follow-up classifier on the shipped labelled follow-ups (written by the authors)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from rag.feedback.implicit import (
    DATA,
    LABELS,
    NaiveBayes,
    classify,
    cross_validate,
    load_examples,
    rule_label,
)


def test_the_labelled_set_has_150_distinct_examples_spread_over_the_labels():
    ex = load_examples()
    counts = Counter(y for _, y in ex)
    assert len(ex) >= 150 and len({t.lower() for t, _ in ex}) == len(ex)
    assert set(counts) == set(LABELS) and min(counts.values()) >= 35


def test_cross_validated_accuracy_per_label():
    res = cross_validate(k=5, seed=0)
    assert res["rules+nb"]["n"] == len(load_examples())
    for lab in LABELS:                                    # the shipped classifier, 5-fold
        assert res["rules+nb"][lab] >= 0.85, (lab, res["rules+nb"])
    assert res["rules+nb"]["all"] > max(res["rules"]["all"], res["nb"]["all"])


def test_held_out_follow_ups_written_after_the_rules():
    held = load_examples(DATA.with_name("followups_heldout.jsonl"))
    assert not {t for t, _ in held} & {t for t, _ in load_examples()}
    right = Counter(y for t, y in held if classify(t).label == y)
    assert sum(right.values()) / len(held) >= 0.85
    assert all(right[lab] >= 0.75 * sum(y == lab for _, y in held) for lab in LABELS)


@pytest.mark.parametrize("text, label, source", [
    ("no, I meant the hockey player", "rephrase", "rule:meant"),
    ("that's wrong", "negative", "rule:wrong"),
    ("thanks, that's right", "positive", "rule:thanks"),
    ("who won the 1950 Tour de France?", "new_topic", "rule:question"),
    ("not correct at all", "negative", "rule:not-right"),
    # negated praise is not agreement (it was "positive", rule:agree)
    ("not good", "negative", "rule:not-right"),
    ("Not exactly", "negative", "rule:not-right"),
    ("that isn't right", "negative", "rule:not-right"),       # "n't" inside a word (it went to naive Bayes)
    # "ty" and "cheers" in a question are a name and a title, not thanks (they were "positive")
    ("Who is Ty Cobb?", "new_topic", "rule:question"),
    ("what was the theme song of Cheers", "new_topic", "rule:question"),
    ("cheers!", "positive", "rule:thanks-short"),
])
def test_rules_in_their_documented_order(text, label, source):
    got = classify(text)
    assert (got.label, got.confidence, got.source) == (label, 1.0, source)


def test_naive_bayes_decides_what_no_rule_covers():
    assert rule_label("love it") is None
    got = classify("love it")
    assert got.source == "nb" and got.label == "positive" and 0.25 < got.confidence <= 1.0
    nb = NaiveBayes([("great stuff", "positive"), ("rubbish stuff", "negative")])
    assert nb.predict("great")[0] == "positive" and nb.predict("rubbish")[0] == "negative"
    with pytest.raises(ValueError, match="non-empty string"):
        classify("   ")
    with pytest.raises(ValueError, match="at least one labelled example"):
        NaiveBayes([])


def test_a_bad_data_line_is_named(tmp_path):
    bad = tmp_path / "f.jsonl"
    bad.write_text('{"text": "ok", "label": "positive"}\n{"text": "x", "label": "meh"}\n')
    with pytest.raises(ValueError, match=r"f.jsonl:2: need a non-empty text and a label"):
        load_examples(bad)
    bad.write_text('{"text": "ok", "label": "positive"}\nnot json\n')
    with pytest.raises(ValueError, match=r"f.jsonl:2: invalid JSON"):      # was a bare "Expecting value"
        load_examples(bad)
    bad.write_text('[1]\n')
    with pytest.raises(ValueError, match=r"f.jsonl:1: expected a JSON object, got list"):   # was AttributeError
        load_examples(bad)
    bad.write_text('\n')
    with pytest.raises(ValueError, match=r"f.jsonl: no labelled follow-ups"):   # was a table of zeros
        load_examples(bad)


def test_crossval_prints_a_dash_for_a_label_without_examples(tmp_path, capsys):
    from rag.cli import main

    data = tmp_path / "f.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in [
        ("thanks!", "positive"), ("great, thank you", "positive"), ("that's wrong", "negative"),
        ("nonsense", "negative"), ("who won in 1950?", "new_topic"), ("what about 1951?", "new_topic")]))
    assert main(["-q", "feedback", "crossval", "--data", str(data), "--folds", "2"]) == 0
    rows = {r.split(" | ")[0].strip("| "): r.split(" | ")[1:] for r in capsys.readouterr().out.splitlines()[2:]}
    assert rows["rules"][0] == "-" and rows["rules"][1:4] == ["1.000", "1.000", "1.000"]   # no rephrase examples

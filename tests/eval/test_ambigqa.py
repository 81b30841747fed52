"""AmbigQA metric parity: hand-computed values from the official definitions, and whole-dev invariants."""

from __future__ import annotations

import json

import pytest

from eval import ambigqa
from eval.ambigqa import answer_f1, edit_f1, exact_match, question_edit_f1, score_question
from eval.normalize import normalize_answer, ptb_normalized, ptb_tokenize


def test_squad_normalisation():
    assert normalize_answer("The Beatles") == "beatles"
    assert normalize_answer("  A  tale,  of 'two' cities!! ") == "tale of two cities"
    assert normalize_answer("Theatre an Ant") == "theatre ant"  # only whole-word articles
    assert exact_match(["U.S.A."], "usa") and not exact_match(["U.S.A."], "us")


def test_answer_f1_hand_computed():
    gold = [["Paris"], ["Lyon", "Lyons"], ["Nice"]]
    # 2 of 3 gold matched, 2 of 2 predictions matched: P=1, R=2/3, F1=0.8
    assert answer_f1(gold, ["paris", "the Lyons"]) == pytest.approx(0.8)
    # duplicates are unmatched predictions: P=1/3, R=1/3
    assert answer_f1(gold, ["Paris", "Paris", "Paris"]) == pytest.approx(1 / 3)
    assert answer_f1(gold, ["Berlin"]) == 0.0
    assert answer_f1(gold, []) == 0.0  # abstention: official script would crash; we score 0


def test_greedy_order_is_gold_outer_prediction_inner():
    # Prediction "a" matches both gold items; gold item 0 takes it first, so gold 1 stays unmatched.
    gold = [["a", "b"], ["a"]]
    assert answer_f1(gold, ["a", "b"]) == pytest.approx(0.5)  # only "a"->g0; "b" matches g0 too but g0 is taken
    assert answer_f1(gold, ["b", "a"]) == pytest.approx(1.0)  # g0 takes "b", g1 takes "a"


def test_max_over_annotations_and_single_answer_item():
    rec = {"id": "q", "question": "who", "annotations": [
        {"type": "singleAnswer", "answer": ["X", "Ex"]},
        {"type": "multipleQAs", "qaPairs": [{"question": "who 1", "answer": ["X"]},
                                            {"question": "who 2", "answer": ["Y"]}]}]}
    assert score_question(rec, ["Ex"])["f1_ans"] == 1.0  # the single annotation is one alias list
    assert score_question(rec, ["X", "Y"])["f1_ans"] == 1.0
    assert score_question(rec, ["Y"])["f1_ans"] == pytest.approx(2 / 3)  # multi: P=1, R=1/2
    assert not ambigqa.is_multi(rec)


def test_edit_f1_hand_computed():
    prompt = "who won the world cup"
    # gold edits: +in +2010 ; predicted edits: +in +2014 -> one of two match: F1 = 0.5
    assert edit_f1(prompt, "who won the world cup in 2010", "who won the world cup in 2014") == pytest.approx(0.5)
    assert edit_f1(prompt, "who won the world cup in 2010", "who won the world cup in 2010") == 1.0
    # deletions count: gold deletes "world"; prediction adds "2010"
    assert edit_f1(prompt, "who won the cup", "who won the world cup 2010") == 0.0
    # a gold with no edits scores 0, as in the official script (even when the prediction has none)
    assert edit_f1(prompt, prompt, prompt) == 0.0
    assert edit_f1(prompt, prompt + " in 2010", prompt) == 0.0
    # "|" alternatives: the first one is scored
    assert edit_f1(prompt, "who won the world cup in 2010|who won the 2010 world cup",
                   "who won the world cup in 2010") == 1.0


def test_edit_list_removes_common_tokens_iteratively_with_duplicates():
    # prompt has "the" twice, gold once: one "the" is deleted
    prompt = "who is the king of the north"
    assert edit_f1(prompt, "who is king of the north in got", "who is king of the north in got") == 1.0
    assert ambigqa._edit_list(["a", "b", "a"], ["a", "c"]) == ["[DELETED]b", "[DELETED]a", "[ADDED]c"]


def test_question_edit_f1_pairs_greedily_by_score():
    ann = {"type": "multipleQAs", "qaPairs": [
        {"question": "who won the cup in 2010", "answer": ["Spain"]},
        {"question": "who won the cup in 2014", "answer": ["Germany"]}]}
    pairs = [{"question": "who won the cup in 2010", "answer": "Spain"},
             {"question": "who won the cup in 2014", "answer": "Germany"},
             {"question": "who won the cup in 2018", "answer": "France"}]
    # two matched pairs with edit-F1 1 each; 2*2/(2 gold + 3 predicted) = 0.8
    assert question_edit_f1("who won the cup", ann, pairs) == pytest.approx(0.8)
    assert question_edit_f1("who won the cup", ann, []) == 0.0


def test_ptb_tokenizer_splits_clitics_and_brackets_like_corenlp():
    assert ptb_tokenize("Who's Harry's owl?") == ["who", "'s", "harry", "'s", "owl"]
    assert ptb_tokenize("They don't play well-known songs.") == ["they", "do", "n't", "play", "well-known", "songs"]
    assert ptb_normalized("Who won in 1,000 B.C. (film)?") == "who won in 1000 bc lrb film rrb"


def test_whole_dev_gold_predictions_score_one(dev_questions):
    preds = {}
    for r in dev_questions:
        a = r["annotations"][0]
        preds[r["id"]] = a["answer"][:1] if a["type"] == "singleAnswer" else [q["answer"][0] for q in a["qaPairs"]]
    s = ambigqa.evaluate(dev_questions, preds)["summary"]
    assert s["n"] == 2002 and s["n_multi"] == 1002
    assert s["f1_ans_all"] == pytest.approx(1.0) and s["f1_ans_multi"] == pytest.approx(1.0)


def test_whole_dev_one_gold_answer_gives_known_shape(dev_questions):
    """Predicting one gold answer: against an annotation with n readings that it matches,
    P = 1 and R = 1/n, so F1 = 2/(n+1); against one it does not match, 0. Max over annotations."""
    preds = {r["id"]: [ambigqa.gold_items(r["annotations"][0])[0][0]] for r in dev_questions}
    res = ambigqa.evaluate(dev_questions, preds)
    for rec, row in zip(dev_questions, res["rows"]):
        p = preds[rec["id"]][0]
        expected = max(2 / (len(ambigqa.gold_items(a)) + 1)
                       if any(exact_match(item, p) for item in ambigqa.gold_items(a)) else 0.0
                       for a in rec["annotations"])
        assert row["f1_ans"] == pytest.approx(expected)
    assert all(row["f1_ans"] == 1.0 for rec, row in zip(dev_questions, res["rows"])
               if rec["annotations"][0]["type"] == "singleAnswer")
    assert res["summary"]["f1_ans_multi"] < 0.8


def test_abstention_coverage_and_selective_f1(dev_questions):
    ref = dev_questions[:4]
    preds = {r["id"]: [] for r in ref}
    first = ref[0]["annotations"][0]
    preds[ref[0]["id"]] = first["answer"][:1] if first["type"] == "singleAnswer" else [first["qaPairs"][0]["answer"][0]]
    s = ambigqa.evaluate(ref, preds)["summary"]
    assert s["coverage"] == 0.25
    assert s["selective_f1_ans"] == pytest.approx(ref and ambigqa.evaluate(ref[:1], {ref[0]["id"]: preds[ref[0]["id"]]})["summary"]["f1_ans_all"])
    assert s["f1_ans_all"] == pytest.approx(s["selective_f1_ans"] / 4)


def test_prediction_file_validation(dev_questions, tmp_path):
    from eval.score import score_file

    ids = [r["id"] for r in dev_questions]
    with pytest.raises(ValueError, match="2002 id\\(s\\) missing"):
        ambigqa.validate_predictions({"nope": ["x"]}, ids)
    with pytest.raises(ValueError, match="must be a list of strings"):
        ambigqa.validate_predictions({i: 3 for i in ids}, ids)
    assert ambigqa.validate_predictions({i: "x" for i in ids}, ids)[ids[0]] == ["x"]
    mixed = {i: [] for i in ids} | {ids[3]: ["x"], ids[7]: [{"question": "q?", "answer": "x"}], ids[9]: ["y"]}
    with pytest.raises(ValueError, match=f"mixes answer lists \\(first at id '{ids[3]}'\\) and \\{{question, answer\\}} "
                                         f"pairs \\(first at id '{ids[7]}'\\)"):   # was accepted
        ambigqa.validate_predictions(mixed, ids)
    assert ambigqa.validate_predictions({i: [] for i in ids} | {ids[7]: [{"question": "q?", "answer": "x"}]},
                                        ids)[ids[7]] == [{"question": "q?", "answer": "x"}]
    empty = tmp_path / "p.json"
    empty.write_text("")
    with pytest.raises(ValueError, match="file is empty"):
        score_file("ambigqa", None, empty)


def test_cli_scores_full_dev_file(dev_questions, tmp_path, capsys):
    from rag.cli import main

    pred = tmp_path / "p.json"
    # even questions: their first gold answer; odd ones: "Paris" (never a gold answer in dev)
    guess = {r["id"]: ambigqa.gold_items(r["annotations"][0])[0][0] if i % 2 == 0 else "Paris"
             for i, r in enumerate(dev_questions)}
    pred.write_text(json.dumps({i: [g] for i, g in guess.items()}))
    out = tmp_path / "out.json"
    assert main(["-q", "eval", "score", "--dataset", "ambigqa", "--pred", str(pred), "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    # one predicted answer: F1 = 2/(n+1) against an annotation with n gold items one of which it
    # matches, else 0; max over annotations (as in test_whole_dev_one_gold_answer_gives_known_shape)
    f1 = [max(2 / (len(ambigqa.gold_items(a)) + 1) if any(exact_match(it, guess[r["id"]]) for it in ambigqa.gold_items(a))
              else 0.0 for a in r["annotations"]) for r in dev_questions]
    multi = [f for f, r in zip(f1, dev_questions) if ambigqa.is_multi(r)]
    assert not any(f1[1::2]) and all(f1[0::2])
    assert rep["summary"]["f1_ans_all"] == pytest.approx(sum(f1) / 2002)
    assert rep["summary"]["f1_ans_multi"] == pytest.approx(sum(multi) / len(multi))
    assert len(rep["rows"]) == 2002 and "| f1_ans_all |" in capsys.readouterr().out

    # the subset `eval run --limit 10` answers: refused whole ("1992 id(s) missing"), scored with
    # --only-predicted as those 10 questions alone
    sub = tmp_path / "sub.json"
    sub.write_text(json.dumps({r["id"]: [guess[r["id"]]] for r in dev_questions[:10]}))
    assert main(["-q", "eval", "score", "--dataset", "ambigqa", "--pred", str(sub)]) == 2
    assert "1992 id(s) missing" in capsys.readouterr().err
    assert main(["-q", "eval", "score", "--dataset", "ambigqa", "--pred", str(sub), "--only-predicted",
                 "--json", str(out)]) == 0
    part = json.loads(out.read_text())
    assert len(part["rows"]) == 10 and part["summary"]["f1_ans_all"] == pytest.approx(sum(f1[:10]) / 10)
    sub.write_text(json.dumps({"nope": ["x"]}))
    assert main(["-q", "eval", "score", "--dataset", "ambigqa", "--pred", str(sub), "--only-predicted"]) == 2
    assert "1 id(s) not in the gold file, e.g. ['nope']" in capsys.readouterr().err

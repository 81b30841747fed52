"""Rewards from simulated turns, fixed-policy baselines and the policy evaluation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from eval.policy_sim import (
    TURN_COST,
    WRONG,
    Outcome,
    action_scores,
    answer_in_hits,
    classifier_choice,
    evaluate_policy,
    fixed_choice,
    load_outcomes,
    save_outcomes,
)
from indexes.types import Hit, Passage
from readers.action_policy import ACTIONS, FEATURE_NAMES, ActionPolicy
from readers.types import Answer, Reading

RECORD = {"id": "r1", "question": "Who played the weasley brothers in harry potter?",
          "annotations": [{"type": "multipleQAs", "qaPairs": [
              {"question": "Who played Ron Weasley in the Harry Potter films?", "answer": ["Rupert Grint"]},
              {"question": "Who played Fred and George Weasley in the Harry Potter films?",
               "answer": ["James and Oliver Phelps"]}]}]}
RON = Reading("Ron Weasley", "Rupert Grint", ("p1",), 2.0)
TWINS = Reading("Fred and George Weasley", "James and Oliver Phelps", ("p2",), 1.0)
PERCY = Reading("Percy Weasley", "Chris Rankin", ("p3",), 1.0)


def test_rewards_of_every_action(encoder):
    rewards, f1 = action_scores(RECORD, Answer("clarify", (RON, TWINS)), encoder)
    # one answer recovers one of two readings: F1_ans = 2 * 1 * 0.5 / 1.5
    assert f1 == pytest.approx((2 / 3, 1.0, 1.0, 0.0))
    assert rewards == pytest.approx((2 / 3, 1.0, 1.0 - TURN_COST, 0.0))


def test_every_action_is_scored_against_the_best_annotation(encoder):
    """Only the first multipleQAs annotation was the target: an answer naming exactly the second
    annotation's readings was scored as half right (a hand-written record)."""
    second = {"type": "multipleQAs", "qaPairs": [
        {"question": "Who played Ron Weasley in the Harry Potter films?", "answer": ["Rupert Grint"]},
        {"question": "Who played Percy Weasley in the Harry Potter films?", "answer": ["Chris Rankin"]}]}
    record = {**RECORD, "annotations": [*RECORD["annotations"], second]}
    _, first_only = action_scores(RECORD, Answer("clarify", (RON, PERCY)), encoder)
    _, f1 = action_scores(record, Answer("clarify", (RON, PERCY)), encoder)
    assert first_only == pytest.approx((2 / 3, 0.5, 0.5, 0.0))
    assert f1 == pytest.approx((2 / 3, 1.0, 1.0, 0.0))   # the one answer is 2/3 against either


def test_a_wrong_answer_earns_the_bandit_wrong_reward(encoder):
    rewards, f1 = action_scores(RECORD, Answer("clarify", (PERCY, RON)), encoder)
    assert f1[0] == 0.0 and rewards[0] == WRONG == -0.1
    rewards, f1 = action_scores(RECORD, Answer("single", (RON,)), encoder)
    assert f1[0] == pytest.approx(2 / 3) and math.isnan(f1[1]) and math.isnan(f1[2])
    assert rewards[0] == pytest.approx(2 / 3) and math.isnan(rewards[1]) and math.isnan(rewards[2])
    rewards, _ = action_scores(RECORD, Answer("abstain"), encoder)
    assert rewards[3] == 0.0 and all(math.isnan(v) for v in rewards[:3])


def test_fixed_and_classifier_choices():
    assert fixed_choice("multi", ("single", "abstain")) == "single"
    assert fixed_choice("clarify", ("abstain",)) == "abstain"
    assert classifier_choice(0.6, 0.5, ACTIONS) == "clarify"
    assert classifier_choice(0.4, 0.5, ACTIONS) == "multi"
    assert classifier_choice(0.9, 0.5, ("single", "abstain")) == "single"


def _outcome(i: int, same: float, amb: int, rewards, f1) -> Outcome:
    x = [0.0] * len(FEATURE_NAMES)
    x[FEATURE_NAMES.index("same_name")] = same
    return Outcome(f"q{i}", tuple(x), tuple(rewards), ACTIONS, amb, tuple(f1))


def test_evaluate_policy_exact_figures(tmp_path):
    outs = [_outcome(0, 0.0, 0, (0.8, 0.5, 0.2, 0.0), (0.8, 0.5, 0.3, 0.0)),
            _outcome(1, 0.0, 0, (0.6, 0.5, 0.2, 0.0), (0.6, 0.5, 0.3, 0.0)),
            _outcome(2, 1.0, 1, (-0.1, 0.4, 0.7, 0.0), (0.0, 0.4, 0.8, 0.0)),
            _outcome(3, 1.0, 1, (-0.1, 0.6, 0.5, 0.0), (0.0, 0.6, 0.6, 0.0))]
    x = np.array([o.features for o in outs])
    pol = ActionPolicy.fit(x, np.array([o.rewards for o in outs]), lam=1e-6)
    row = evaluate_policy(pol, outs, classifier_p=[0.9, 0.2, 0.8, 0.1], threshold=0.5)
    p = row["policy"]
    assert pol.choose(x) == ["single", "single", "clarify", "clarify"]
    assert p["accuracy"] == 1.0 and p["auroc"] == 1.0
    assert p["mean_reward"] == pytest.approx((0.8 + 0.6 + 0.7 + 0.5) / 4)
    assert p["f1"] == pytest.approx((0.8 + 0.6 + 0.8 + 0.6) / 4)
    c = row["classifier"]     # says ambiguous for q0 (wrong) and q2; misses q3
    assert c["accuracy"] == 0.5 and c["auroc"] == 0.25   # 1 of 4 (ambiguous, clear) pairs ordered
    assert c["mean_reward"] == pytest.approx((0.2 + 0.5 + 0.7 + 0.6) / 4)   # clarify, multi, clarify, multi
    assert row["fixed"]["multi"]["mean_reward"] == pytest.approx(0.5)
    assert row["oracle_reward"] == pytest.approx((0.8 + 0.6 + 0.7 + 0.6) / 4)
    assert row["clarification"] == {"n": 2, "recovery_f1": pytest.approx(0.7), "direct_f1_single": 0.0,
                                    "direct_f1_complete": pytest.approx(0.5)}
    save_outcomes(tmp_path / "o.jsonl", outs)
    assert load_outcomes(tmp_path / "o.jsonl") == outs
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not an outcome row"):
        load_outcomes(tmp_path / "bad.jsonl")


def test_the_report_is_written_with_no_covered_question_and_names_its_training_file(tmp_path):
    """With no corpus-covered dev question (--dev-limit 3) eval policy crashed after saving the
    policy ('operands could not be broadcast'), leaving no report; --json into a new folder failed
    after the whole run; the report said 'train_light' whatever --train was."""
    from eval.policy_sim import markdown
    from rag.commands.policy_cli import _write_report

    outs = [_outcome(i, float(i % 2), i % 2, (0.8, 0.5, 0.2, 0.0), (0.8, 0.5, 0.3, 0.0)) for i in range(4)]
    pol = ActionPolicy.fit(np.array([o.features for o in outs]), np.array([o.rewards for o in outs]), lam=1.0)
    settings = {"n_train": 4, "lam": 1.0, "reader": "r", "max_passages": 5, "k": 10, "turn_cost": 0.1,
                "wrong": -0.1, "train_file": "my_train.json"}
    report = {"settings": settings, "dev_all": evaluate_policy(pol, outs, [0.5] * 4, threshold=0.5),
              "dev_covered": {"n": 0}}
    _write_report(report, tmp_path, str(tmp_path / "new" / "dir" / "r.json"))
    assert json.loads((tmp_path / "new" / "dir" / "r.json").read_text()) == report
    md = (tmp_path / "report.md").read_text()
    assert md == markdown(report) and md.startswith("Policy trained on 4 AmbigQA my_train questions")
    assert "### AmbigQA dev, corpus-covered (0 questions)\n\nNo question to score." in md


def test_answer_in_hits_needs_a_whole_word_match():
    hit = Hit(Passage("p", "Ron Weasley", "Ron is played by Rupert Grint."), 1.0, 1, "x")
    assert answer_in_hits(RECORD, [hit])
    other = Hit(Passage("p", "Grinton", "A village, not Rupert Grinton."), 1.0, 1, "x")
    assert not answer_in_hits(RECORD, [other])


def test_choose_lam_needs_a_question_per_fold():
    """`eval policy --train-limit 2` ended in "operands could not be broadcast together"."""
    from eval.policy_sim import choose_lam

    rows = [Outcome(str(i), (float(i), 1.0), (1.0, 0.0, 0.0, 0.0), ("single", "abstain"), 0, (0.0,) * 4)
            for i in range(4)]
    with pytest.raises(ValueError, match="only 4 training questions to choose the ridge strength by 5-fold "
                                         "cross-validation; at least 5 are needed"):
        choose_lam(rows)

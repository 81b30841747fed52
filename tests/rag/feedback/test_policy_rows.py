"""Stored ratings and follow-ups as bandit rows of the action policy, and ``ambigrag learn-policy``."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from eval.policy_sim import TURN_COST, Outcome, save_outcomes
from rag.cli import main
from rag.feedback.policy_rows import first_action, interaction_reward
from readers.action_policy import ACTIONS, FEATURE_NAMES, ActionPolicy


def _rec(kind: str, rating=None, followup=None) -> dict:
    return {"interaction_id": "i", "rating": rating,
            "followups": [{"label": followup}] if followup else [],
            "turns": [{"role": "question", "text": "q"},
                      {"role": "clarify" if kind == "clarify" else "answer", "text": "a", "answer": {"kind": kind}}]}


def test_rewards_of_stored_interactions():
    assert interaction_reward(_rec("single", "correct")) == 1.0
    assert interaction_reward(_rec("multi", "wrong", "positive")) == -0.1       # the rating wins
    assert interaction_reward(_rec("clarify", "partial")) == pytest.approx(0.5 - TURN_COST)
    assert interaction_reward(_rec("single", None, "rephrase")) == -0.1
    assert interaction_reward(_rec("abstain")) is None
    assert first_action(_rec("clarify")) == "clarify"
    with pytest.raises(ValueError, match="interaction i: no system turn"):
        first_action({"interaction_id": "i", "turns": []})


def test_learn_policy_from_a_real_store(small_index_dir, sample_records, tmp_path, capsys):
    """Ask the real pipeline (span reader, small real index) three questions, store the answers
    with ratings, and refit: the store adds exactly one known reward per rated interaction."""
    from rag.feedback.store import FeedbackStore
    from rag.pipeline import Pipeline

    pipe = Pipeline.from_index(small_index_dir)
    store = FeedbackStore(tmp_path / "fb.db")
    asked = []
    for rec, rating in zip(sample_records[:3], ("correct", "wrong", None)):
        q = f"What is {rec['title']}?"
        ans = pipe.ask(q, interactive=True)
        iid = store.new_interaction(q, ans)
        if rating:
            store.add_rating(iid, rating)
        asked.append((iid, ans.kind, rating))
    rng = np.random.default_rng(0)
    sim = [Outcome(f"s{i}", tuple(rng.normal(size=len(FEATURE_NAMES))), tuple(rng.normal(size=4)), ACTIONS, 1,
                   (0.0,) * 4) for i in range(30)]
    save_outcomes(tmp_path / "sim.jsonl", sim)
    start = ActionPolicy.fit(np.array([o.features for o in sim]), np.array([o.rewards for o in sim]), lam=2.0)
    start.save(tmp_path / "start")
    assert main(["learn-policy", "--outcomes", str(tmp_path / "sim.jsonl"), "--feedback-db", str(tmp_path / "fb.db"),
                 "--index", str(small_index_dir), "--start", str(tmp_path / "start"),
                 "--out", str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    taken = {a: sum(k == a for _, k, r in asked if r) for a in ACTIONS}
    assert f"30 simulated rows, 2 rated interactions (actions taken: {taken}); lambda 2" in out
    m = json.loads((tmp_path / "new" / "manifest.json").read_text())
    assert (m["simulated_rows"], m["store_rows"], m["lam"]) == (30, 2, 2.0)
    known = [30 + taken[a] for a in ACTIONS]
    assert m["n_known"] == known


def test_store_rows_see_what_the_served_policy_sees(small_index_dir, sample_records, tmp_path):
    """A stored row's features are those the served reader hands the policy: the evidence of the
    passages it reads, and the classifier's P(ambiguous) for the question (not the 1.0 of "unknown")."""
    from rag.feedback.policy_rows import store_rows
    from rag.feedback.store import FeedbackStore
    from rag.pipeline import Pipeline
    from readers.ambiguity import EVIDENCE_NAMES, LEXICAL_NAMES, evidence_features, lexical_features

    pipe = Pipeline.from_index(small_index_dir)
    store = FeedbackStore(tmp_path / "fb.db")
    q = f"What is {sample_records[0]['title']}?"
    store.add_rating(store.new_interaction(q, pipe.ask(q, interactive=True)), "correct")
    (row,) = store_rows(tmp_path / "fb.db", pipe)
    hits = pipe.retrieve([q])[0][: pipe.reader.max_passages]
    p = pipe.reader.ambiguity.probability(q, hits)
    assert p != 1.0
    assert row.features[FEATURE_NAMES.index("p_ambiguous")] == pytest.approx(p, abs=1e-9)
    n_lex, n_ev = len(LEXICAL_NAMES), len(EVIDENCE_NAMES)
    assert np.allclose(row.features[:n_lex], lexical_features(q))
    assert np.allclose(row.features[-1 - n_ev:-1], evidence_features(hits))  # over the passages read


def test_a_reading_picked_by_a_correction_gives_no_policy_row(small_index_dir, sample_records, tmp_path):
    """The follow-up's answer is the reading the user's correction picked: no action of the policy,
    so its rating trains no row (it used to add a 'single' row with the question's features); the
    corrected interaction keeps its row, rewarded by the correction's implicit label."""
    from rag.feedback.policy_rows import store_rows
    from rag.feedback.store import FeedbackStore
    from rag.pipeline import Pipeline

    pipe = Pipeline.from_index(small_index_dir)
    store = FeedbackStore(tmp_path / "fb.db")
    q = f"What is {sample_records[0]['title']}?"
    first = pipe.ask(q, interactive=True)
    iid = store.new_interaction(q, first)
    picked = replace(first, kind="single", readings=first.readings[:1])
    new = store.add_followup(iid, "no, I meant the first one", "rephrase", 1.0, "rules", picked, question=q,
                             picked_from=iid)
    store.add_rating(new, "correct")
    rows = store_rows(tmp_path / "fb.db", pipe)
    assert [(r.id, r.rewards[ACTIONS.index(first.kind)]) for r in rows] == [
        (iid, pytest.approx(-0.1 - (TURN_COST if first.kind == "clarify" else 0.0)))]
    assert [r["picked_from"] for r in store.records()] == [None, iid]


def test_ask_with_a_learned_policy(small_index_dir, sample_records, tmp_path, capsys):
    """`ambigrag ask --policy DIR`: a policy that expects every answer to be wrong abstains, with
    its predicted rewards as the reason, where the threshold rule answers."""
    from rag.pipeline import Pipeline

    pipe = Pipeline.from_index(small_index_dir)
    q = next(q for q in (f"Who is {r['title']}?" for r in sample_records[:40]) if pipe.ask(q).kind != "abstain")
    x = np.random.default_rng(0).normal(size=(20, len(FEATURE_NAMES)))
    ActionPolicy.fit(x, np.tile([-0.1, -0.1, -0.2, 0.0], (20, 1)), lam=1.0).save(tmp_path / "never")
    assert main(["ask", q, "--index", str(small_index_dir), "--policy", str(tmp_path / "never")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("I cannot answer this reliably from the retrieved passages.\n(abstained: the learned "
                          "policy expects no answer to be worth giving (predicted rewards: single -0.10")


def test_new_topics_alone_give_no_row():
    """A correct answer followed by an unrelated question was a reward-0 row: as if abstaining."""
    assert interaction_reward(_rec("single", None, "new_topic")) is None
    both = _rec("single")
    both["followups"] = [{"label": "positive"}, {"label": "new_topic"}]
    assert interaction_reward(both) == 0.5      # the last label that says something about the answer


def test_learn_policy_guards_its_start_and_reads_an_eval_policy_folder(tmp_path, capsys):
    from rag.feedback.store import FeedbackStore

    rng = np.random.default_rng(1)
    sim = [Outcome(f"s{i}", tuple(rng.normal(size=len(FEATURE_NAMES))), tuple(rng.normal(size=4)), ACTIONS, 1,
                   (0.0,) * 4) for i in range(24)]
    folder = tmp_path / "policy-run"
    folder.mkdir()
    save_outcomes(folder / "outcomes-train.jsonl", sim[:16])
    save_outcomes(folder / "outcomes-ramdocs-fold0.jsonl", sim[16:])
    save_outcomes(folder / "outcomes-dev.jsonl", sim[:5])          # evaluation rows: never fitted
    start = ActionPolicy.fit(np.array([o.features for o in sim]), np.array([o.rewards for o in sim]), lam=3.0)
    start.save(tmp_path / "start")
    before = (tmp_path / "start" / "weights.npz").read_bytes()
    assert main(["-q", "learn-policy", "--outcomes", str(folder), "--start", str(tmp_path / "start"),
                 "--out", str(tmp_path / "start")]) == 2
    assert "is --start: the new policy would replace the one it is compared with" in capsys.readouterr().err
    assert (tmp_path / "start" / "weights.npz").read_bytes() == before
    assert main(["-q", "learn-policy", "--outcomes", str(folder), "--out", str(tmp_path / "new")]) == 2
    assert "give --start (its ridge strength is used) or --lam" in capsys.readouterr().err
    FeedbackStore(tmp_path / "fb.db").close()                        # a store with nothing rated
    assert main(["-q", "learn-policy", "--outcomes", str(folder), "--start", str(tmp_path / "start"),
                 "--feedback-db", str(tmp_path / "fb.db"), "--out", str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "holds no rated or followed-up interaction" in out and "24 simulated rows, 0 rated" in out
    assert "note: --start was fitted" not in out                     # the folder gave its 16 + 8 rows
    new = ActionPolicy.load(tmp_path / "new")
    assert (new.meta["n_rows"], new.meta["lam"]) == (24, 3.0)
    np.testing.assert_allclose(new.coef, start.coef)                 # the same rows and lambda
    old = tmp_path / "old.jsonl"
    old.write_text("".join(json.dumps({"id": "o", "features": [0.0] * 3, "rewards": [0.0] * 4, "allowed": list(ACTIONS),
                                       "ambiguous": 1, "f1": [0.0] * 4}) + "\n" for _ in range(2)))
    assert main(["-q", "learn-policy", "--outcomes", str(old), "--lam", "1", "--out", str(tmp_path / "x")]) == 2
    assert f"--outcomes {old}: rows of 3 features, this policy has {len(FEATURE_NAMES)}" in capsys.readouterr().err

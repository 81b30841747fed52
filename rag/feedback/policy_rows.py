"""Users' ratings and follow-ups as bandit rows for the learned action policy
(:mod:`readers.action_policy`): one row per rated or followed-up interaction, whose only known
reward is that of the action the system took (its first answer's kind). A follow-up whose answer
is a reading a correction picked (``picked_from``) took no action of the policy and gives no row;
the correction itself is the implicit label of the interaction it corrects.

Reward: the explicit rating (``readers.bandit.REWARDS``: correct 1.0, partial 0.5, wrong -0.1),
else the implicit label of the follow-ups (:func:`rag.feedback.implicit.judgement`: the last one
that says something about the answer; ``IMPLICIT_REWARDS``); an interaction followed only by new
topics says nothing and gives no row, as in the reader's bandit (not a reward of 0, which would
teach that its answer was worth no more than abstaining). A clarification pays
``eval.policy_sim.TURN_COST`` as in the simulation. Features are recomputed by reading the
question again through ``pipeline`` (the same index and reader give the same readings; a changed
index or reader gives today's features, which is what the policy will see).
"""

from __future__ import annotations

import math
from pathlib import Path

from eval.policy_sim import TURN_COST, Outcome
from rag.feedback.implicit import judgement
from readers.action_policy import ACTIONS, available, policy_features
from readers.bandit import IMPLICIT_REWARDS, REWARDS


def interaction_reward(rec: dict) -> float | None:
    """The reward of an exported interaction's action, or None when nobody said anything."""
    said = judgement(rec.get("followups") or [])
    if rec.get("rating") is not None:
        r = REWARDS[rec["rating"]]
    elif said is not None and said != "new_topic":
        r = IMPLICIT_REWARDS[said]
    else:
        return None
    return r - TURN_COST if first_action(rec) == "clarify" else r


def first_action(rec: dict) -> str:
    """The kind of the system's first turn (``single``/``multi``/``clarify``/``abstain``)."""
    for t in rec["turns"]:
        if t["role"] in ("answer", "clarify") and "answer" in t:
            return t["answer"]["kind"]
    raise ValueError(f"interaction {rec.get('interaction_id')}: no system turn")


def rated_records(db: str | Path) -> list[tuple[dict, float]]:
    """(exported interaction, reward) for each interaction of the store (opened read-only) that
    gives a row: rated or followed up, and not a reading a correction picked."""
    from rag.feedback.store import FeedbackStore

    out = []
    for rec in FeedbackStore(db, readonly=True).records():
        reward = interaction_reward(rec)
        if reward is not None and not rec.get("picked_from"):   # a correction picked the reading, not the policy
            out.append((rec, reward))
    return out


def store_rows(db: str | Path, pipeline, *, progress: bool = True) -> list[Outcome]:
    """Bandit rows (:class:`~eval.policy_sim.Outcome`, NaN for untaken actions) from a feedback
    store; ``pipeline`` (or a function that builds it, called only when there are rows) reads
    each question again, with a progress bar."""
    from tqdm.auto import tqdm

    from indexes.progress import hidden
    from readers.reader import AmbigReader

    rated = rated_records(db)
    if not rated:
        return []
    pipeline = pipeline() if callable(pipeline) else pipeline
    r = pipeline.reader   # every reading offered: no classifier, no learned policy
    reader = AmbigReader(r.extractor, r.policy, ambiguity=None, max_passages=r.max_passages)
    rows = []
    for rec, reward in tqdm(rated, desc="reading rated questions", unit="q", disable=hidden(progress)):
        action = first_action(rec)
        q = rec["question"]
        hits = pipeline.retrieve([q])[0][: r.max_passages]   # what the served reader reads
        full = reader.read(q, hits, interactive=True)
        # P(ambiguous) as the served reader gives it to the policy (readers.reader.AmbigReader.read)
        p = r.ambiguity.probability(q, hits) if r.ambiguity is not None else None
        rewards = tuple(reward if a == action else math.nan for a in ACTIONS)
        feats = tuple(float(v) for v in policy_features(q, hits, full, p))
        rows.append(Outcome(rec["interaction_id"], feats, rewards, available(full), -1, (math.nan,) * len(ACTIONS)))
    return rows

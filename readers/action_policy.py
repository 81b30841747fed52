"""A learned answer / complete-answer / clarify / abstain policy (after Zhang, Knox & Choi, ICLR
2025, "Modeling Future Conversation Turns to Teach LLMs to Ask Clarifying Questions").

Instead of a classifier of *is this question ambiguous?*, the policy predicts, for each action,
the reward its outcome would earn, and takes the best one the evidence allows:

* ``single``: the best-supported reading's answer;
* ``multi``: the complete answer, every reading with its answer;
* ``clarify``: ask which reading is meant, then answer it (its reward pays a turn cost);
* ``abstain``: no answer (reward 0).

Rewards come from simulated future turns (:mod:`eval.policy_sim`), or from users' ratings of the
action that was actually taken (bandit feedback: only that action's reward is known).

**Model**: one ridge regression per action on standardised features (:data:`FEATURE_NAMES`:
the question's surface features, what the reader found, the spread of the retrieved evidence
and the ambiguity classifier's P(ambiguous)); each action's regression fits the rows where that action's reward is known, so full
(simulated) and partial (rated) feedback mix in one table. Weights are an ``.npz`` (loaded with
``allow_pickle=False``) beside a ``manifest.json``.

>>> import numpy as np
>>> x = np.zeros((4, len(FEATURE_NAMES)))
>>> x[:, FEATURE_NAMES.index("same_name")] = [0, 0, 1, 1]
>>> r = np.array([[.9, .5, .3, 0], [.7, .5, .3, 0], [-.1, .5, .8, 0], [-.1, .4, .6, 0]])
>>> pol = ActionPolicy.fit(x, r, lam=1e-3)
>>> pol.choose(x)
['single', 'single', 'clarify', 'clarify']
>>> pol.choose(x[2:3], [("single", "abstain")])
['abstain']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexes.types import Hit
from readers.ambiguity import EVIDENCE_NAMES, LEXICAL_NAMES, evidence_features, lexical_features
from readers.types import Answer

ACTIONS = ("single", "multi", "clarify", "abstain")
READER_NAMES = ("n_readings", "n_answers", "top_support", "second_share", "top_span_prob",
                "mean_span_prob", "same_name", "n_passages_answering")
FEATURE_NAMES = (*LEXICAL_NAMES, *READER_NAMES, *EVIDENCE_NAMES, "p_ambiguous")
KIND = "action-policy-ridge"


def reader_features(ans: Answer) -> np.ndarray:
    """What the reader found (``ans``: its interactive answer), in the order of ``READER_NAMES``."""
    from readers.policy import same_name_entities
    from readers.readings import same_answer

    rs = ans.readings
    answers: list[str] = []
    for r in rs:
        if not any(same_answer(r.answer, a) for a in answers):
            answers.append(r.answer)
    sup = sorted((r.support for r in rs), reverse=True)
    probs = [s.probability for r in rs for s in r.spans]
    cited = {c for r in rs for c in r.citations}
    return np.array([len(rs), len(answers), sup[0] if sup else 0.0,
                     sup[1] / sup[0] if len(sup) > 1 and sup[0] > 0 else 0.0,
                     max(probs, default=0.0), float(np.mean(probs)) if probs else 0.0,
                     float(same_name_entities(rs)), len(cited)], dtype=np.float32)


def policy_features(question: str, hits: Sequence[Hit], ans: Answer, p_ambiguous: float | None = None) -> np.ndarray:
    """The policy's feature row for one question (order of :data:`FEATURE_NAMES`);
    ``p_ambiguous``: the ambiguity classifier's probability (1.0 when unknown, as in
    :func:`readers.policy.decide`)."""
    p = 1.0 if p_ambiguous is None else float(p_ambiguous)
    return np.concatenate([lexical_features(question), reader_features(ans), evidence_features(hits), [p]])


def available(ans: Answer) -> tuple[str, ...]:
    """Actions the evidence allows: none but abstain without a reading; no complete answer or
    clarification with a single reading."""
    n = len(ans.readings)
    return ("abstain",) if n == 0 else ("single", "abstain") if n == 1 else ACTIONS


class ActionPolicy:
    """Per-action ridge regression of reward on standardised features (see module docstring)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, bias: np.ndarray,
                 meta: dict[str, Any] | None = None):
        n = len(FEATURE_NAMES)
        if mean.shape != (n,) or scale.shape != (n,):
            raise ValueError(f"mean/scale have shapes {mean.shape}/{scale.shape}; the features need ({n},)")
        if coef.shape != (len(ACTIONS), n) or bias.shape != (len(ACTIONS),):
            raise ValueError(f"coef/bias have shapes {coef.shape}/{bias.shape}; need ({len(ACTIONS)}, {n})/"
                             f"({len(ACTIONS)},)")
        self.mean, self.scale, self.coef, self.bias = mean, scale, coef, bias
        self.meta = meta or {}

    @classmethod
    def fit(cls, x: np.ndarray, rewards: np.ndarray, *, lam: float = 1.0, meta: dict[str, Any] | None = None
            ) -> ActionPolicy:
        """``rewards``: (n, 4) in the order of :data:`ACTIONS`, NaN where an action's reward is
        unknown (not simulated, not taken). Ridge: ``w = (XᵀX + λI)⁻¹ Xᵀ(r − r̄)``."""
        x, rewards = np.asarray(x, dtype=np.float64), np.asarray(rewards, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"features have shape {x.shape}; need (n, {len(FEATURE_NAMES)})")
        if rewards.shape != (len(x), len(ACTIONS)):
            raise ValueError(f"rewards have shape {rewards.shape}; need ({len(x)}, {len(ACTIONS)})")
        mean, scale = x.mean(0), x.std(0)
        scale[scale < 1e-9] = 1.0
        z = (x - mean) / scale
        coef, bias = np.zeros((len(ACTIONS), x.shape[1])), np.zeros(len(ACTIONS))
        for a in range(len(ACTIONS)):
            known = ~np.isnan(rewards[:, a])
            if not known.any():
                continue
            za, ra = z[known], rewards[known, a]
            bias[a] = ra.mean()
            coef[a] = np.linalg.solve(za.T @ za + lam * np.eye(z.shape[1]), za.T @ (ra - bias[a]))
        return cls(mean, scale, coef, bias, {**(meta or {}), "lam": lam,
                                             "n_rows": int(len(x)),
                                             "n_known": [int((~np.isnan(rewards[:, a])).sum())
                                                         for a in range(len(ACTIONS))]})

    def utilities(self, x: np.ndarray) -> np.ndarray:
        """Predicted reward of every action, shape (n, 4)."""
        z = (np.atleast_2d(np.asarray(x, dtype=np.float64)) - self.mean) / self.scale
        return z @ self.coef.T + self.bias

    def choose(self, x: np.ndarray, allowed: Sequence[Sequence[str]] | None = None) -> list[str]:
        """The best allowed action per row (``allowed``: per row, e.g. :func:`available`)."""
        u = self.utilities(x)
        out = []
        for i, row in enumerate(u):
            ok = ACTIONS if allowed is None else allowed[i]
            out.append(max(ok, key=lambda a: row[ACTIONS.index(a)]))
        return out

    def ambiguity_score(self, x: np.ndarray) -> np.ndarray:
        """How much more a many-reading response (clarify or complete) is worth than one answer."""
        u = self.utilities(x)
        return np.maximum(u[:, 1], u[:, 2]) - u[:, 0]

    def save(self, directory: str | Path) -> Path:
        """Write ``manifest.json`` and ``weights.npz`` into ``directory``: a new or empty one, or
        a saved policy (replaced). Anything else is refused, so ``--out`` pointed at an index or
        a reader cannot overwrite its manifest. Both files are written into a folder beside it,
        which then takes its place: an interrupted save never pairs new weights with an old
        manifest (:func:`indexes.paths.replace_dir`)."""
        from indexes.paths import replace_dir

        manifest = {"kind": KIND, "format_version": 1, "actions": list(ACTIONS),
                    "features": list(FEATURE_NAMES), **self.meta}

        def fill(stage: Path) -> None:
            np.savez(stage / "weights.npz", mean=self.mean, scale=self.scale, coef=self.coef, bias=self.bias)
            (stage / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")

        return replace_dir(directory, fill, kind=KIND, what="saved action policy")

    @classmethod
    def load(cls, directory: str | Path) -> ActionPolicy:
        """Load a saved policy; refuses another kind, other actions or another feature list."""
        d = Path(directory)
        if not (d / "manifest.json").is_file():
            raise ValueError(f"{d / 'manifest.json'}: no policy manifest")
        try:
            m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"{d / 'manifest.json'}: cannot read ({e})") from None
        if not isinstance(m, dict):
            raise ValueError(f"{d / 'manifest.json'}: not a policy manifest")
        for key, want in (("kind", KIND), ("actions", list(ACTIONS)), ("features", list(FEATURE_NAMES))):
            if m.get(key) != want:
                raise ValueError(f"{d}: manifest {key} is {m.get(key)!r}, expected {want!r}")
        try:
            with np.load(d / "weights.npz", allow_pickle=False) as w:
                arrays = {k: w[k] for k in ("mean", "scale", "coef", "bias")}
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{d / 'weights.npz'}: cannot read the policy weights ({e})") from None
        meta = {k: v for k, v in m.items() if k not in ("kind", "format_version", "actions", "features")}
        return cls(**arrays, meta=meta)


def act(policy: ActionPolicy, question: str, hits: Sequence[Hit], full: Answer, *, interactive: bool,
        p_ambiguous: float | None = None) -> Answer:
    """The answer the policy picks, given ``full``: the reader's answer with every reading offered
    (a clarify answer with several readings). Without ``interactive`` it never clarifies."""
    from dataclasses import replace

    from readers.render import render

    allowed = tuple(a for a in available(full) if interactive or a != "clarify")
    x = policy_features(question, hits, full, p_ambiguous)
    action = policy.choose(x, [allowed])[0]
    rs = full.readings
    if action == "abstain":
        u = policy.utilities(x)[0]
        why = ", ".join(f"{a} {u[ACTIONS.index(a)]:+.2f}" for a in allowed)
        return replace(full, kind="abstain", readings=rs, clarifying_question=None,
                       reason=f"the learned policy expects no answer to be worth giving (predicted rewards: {why})",
                       text="I cannot answer this reliably from the retrieved passages.")
    if action == "clarify":
        return full
    chosen = rs[:1] if action == "single" else rs
    return replace(full, kind=action, readings=chosen, clarifying_question=None, text=render(chosen))

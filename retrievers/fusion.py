"""Rank fusion as pure functions over runs (ranked lists of hits).

Every function takes ``runs`` (one ranked ``list[Hit]`` per retriever or per query rewrite),
optional per-run ``weights`` and ``k`` (how many fused hits to return), and returns one fused
``list[Hit]`` with 1-based ranks. Ties in fused score break by passage id (ascending), so
results are deterministic whatever the input order.

>>> from indexes.types import Hit, Passage
>>> P = {i: Passage(i, "", "") for i in "abc"}
>>> run1 = [Hit(P["a"], 9.0, 1, "bm25"), Hit(P["b"], 5.0, 2, "bm25")]
>>> run2 = [Hit(P["b"], 0.9, 1, "dense"), Hit(P["c"], 0.8, 2, "dense")]
>>> [h.passage.id for h in reciprocal_rank_fusion([run1, run2])]
['b', 'a', 'c']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from indexes.types import Hit, Passage
from retrievers.base import is_positive_int

RRF_K = 60  # Cormack, Clarke & Büttcher (SIGIR 2009), "Reciprocal Rank Fusion outperforms ..."
NORMALISERS = ("minmax", "zscore")

Fuser = Callable[..., list[Hit]]


def _weights(runs: Sequence[Sequence[Hit]], weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * len(runs)
    if len(weights) != len(runs):
        raise ValueError(f"{len(weights)} weights given for {len(runs)} runs")
    ws = [float(w) for w in weights]
    bad = [w for w in ws if not (w >= 0 and w != float("inf"))]
    if bad:
        raise ValueError(f"weights must be finite and >= 0, got {list(weights)!r}")
    return ws


def _ranked(scores: dict[str, float], passages: dict[str, Passage], k: int | None, source: str) -> list[Hit]:
    if k is not None and not is_positive_int(k):
        raise ValueError(f"k must be an integer >= 1 (or None for all), got {k!r}")
    order = sorted(scores, key=lambda pid: (-scores[pid], pid))
    if k is not None:
        order = order[:k]
    return [Hit(passages[pid], scores[pid], i + 1, source) for i, pid in enumerate(order)]


def _passages(runs: Sequence[Sequence[Hit]]) -> dict[str, Passage]:
    out: dict[str, Passage] = {}
    for run in runs:
        for h in run:
            out.setdefault(h.passage.id, h.passage)
    return out


def reciprocal_rank_fusion(runs: Sequence[Sequence[Hit]], k: int | None = None, *,
                           rrf_k: int = RRF_K, weights: Sequence[float] | None = None) -> list[Hit]:
    """RRF: score(d) = Σ_runs w_r / (rrf_k + rank_r(d)), with 1-based ranks.

    ``rrf_k = 60`` as in Cormack, Clarke & Büttcher, SIGIR 2009. A document absent from a run
    adds nothing for that run. Ranks are positions in each run (the ``rank`` field is ignored,
    so a run must be sorted best first).
    """
    if rrf_k < 0:
        raise ValueError(f"rrf_k must be >= 0, got {rrf_k}")
    ws = _weights(runs, weights)
    scores: dict[str, float] = {}
    for w, run in zip(ws, runs):
        seen: set[str] = set()
        for pos, h in enumerate(run, start=1):
            if h.passage.id in seen:
                continue  # a run lists each document once; later duplicates are ignored
            seen.add(h.passage.id)
            scores[h.passage.id] = scores.get(h.passage.id, 0.0) + w / (rrf_k + pos)
    return _ranked(scores, _passages(runs), k, "rrf")


def normalise_scores(scores: np.ndarray, method: str) -> np.ndarray:
    """Min-max to [0, 1] (all-equal scores map to 1), or z-score (zero spread maps to 0)."""
    s = np.asarray(scores, dtype=np.float64)
    if method == "minmax":
        span = s.max() - s.min() if len(s) else 0.0
        return np.ones_like(s) if span == 0 else (s - s.min()) / span
    if method == "zscore":
        sd = s.std() if len(s) else 0.0
        return np.zeros_like(s) if sd == 0 else (s - s.mean()) / sd
    raise ValueError(f"normalisation must be one of {NORMALISERS}, got {method!r}")


def _fuse_normalised(runs, k, weights, norm: Callable[[np.ndarray], np.ndarray], source: str,
                     flat_floor: float = 0.0) -> list[Hit]:
    """Σ_r w_r · norm_r(score). A document a run did not return gets the run's lowest normalised
    score; from a run whose scores have no spread (one hit, or ties) it gets ``flat_floor``, so
    that run's documents still rank above the ones it did not return."""
    ws = _weights(runs, weights)
    per_run: list[dict[str, float]] = []
    floors: list[float] = []
    for run in runs:
        uniq: dict[str, float] = {}
        for h in run:
            uniq.setdefault(h.passage.id, h.score)
        ids = list(uniq)
        raw = np.array([uniq[i] for i in ids], dtype=np.float64)
        per_run.append(dict(zip(ids, norm(raw).tolist())) if ids else {})
        flat = len(ids) > 0 and bool(np.all(raw == raw[0]))
        floors.append(flat_floor if flat else min(per_run[-1].values(), default=0.0))
    all_ids = {pid for r in per_run for pid in r}
    scores = {pid: sum(w * r.get(pid, lo) for w, r, lo in zip(ws, per_run, floors)) for pid in all_ids}
    return _ranked(scores, _passages(runs), k, source)


def convex_fusion(runs: Sequence[Sequence[Hit]], k: int | None = None, *,
                  weights: Sequence[float] | None = None, normalise: str = "minmax") -> list[Hit]:
    """Convex combination Σ_r w_r · norm_r(score) of per-run normalised scores.

    ``normalise`` is ``"minmax"`` or ``"zscore"`` (Bruch, Gai & Ingber, "An Analysis of Fusion
    Functions for Hybrid Retrieval", TOIS 2023). Pass weights that sum to 1 for a convex
    combination, e.g. ``weights=(alpha, 1 - alpha)``. A document a run did not return gets
    that run's lowest normalised score (0 for min-max); from a run with no spread (one hit, or
    all scores equal: min-max 1, z-score 0 for its documents) it gets 0 for min-max and -1 for
    z-score, so the documents that run found still count for something.

    >>> from indexes.types import Hit, Passage
    >>> h = lambda i, s: Hit(Passage(i, "", ""), s, 1, "x")
    >>> [(x.passage.id, round(x.score, 2)) for x in convex_fusion([[h("a", .9), h("b", .8), h("c", .1)], [h("b", 5.)]],
    ...                                                         weights=(0.7, 0.3))]
    [('b', 0.91), ('a', 0.7), ('c', 0.0)]
    """
    if normalise not in NORMALISERS:
        raise ValueError(f"normalise must be one of {NORMALISERS}, got {normalise!r}")
    return _fuse_normalised(runs, k, weights, lambda s: normalise_scores(s, normalise), f"convex-{normalise}",
                            flat_floor=0.0 if normalise == "minmax" else -1.0)


def _dbsf_norm(s: np.ndarray) -> np.ndarray:
    mu, sd = s.mean(), s.std()
    if sd == 0:
        return np.full_like(s, 0.5)
    lo, hi = mu - 3 * sd, mu + 3 * sd
    return np.clip((s - lo) / (hi - lo), 0.0, 1.0)


def distribution_based_fusion(runs: Sequence[Sequence[Hit]], k: int | None = None, *,
                              weights: Sequence[float] | None = None) -> list[Hit]:
    """Distribution-Based Score Fusion (Mazzeschi 2023, as used by Qdrant).

    Each run's scores are scaled to [0, 1] between mean − 3σ and mean + 3σ of that run (clipped),
    then summed with weights. A run with zero spread maps to 0.5, and a document it did not
    return gets 0 from it (otherwise: the run's lowest scaled score).
    """
    return _fuse_normalised(runs, k, weights, _dbsf_norm, "dbsf")


# Default hybrid fusion, chosen on the corpus-covered AmbigQA dev subset (bench/RESULTS.md):
# min-max convex combination, 0.7 dense + 0.3 BM25, was >= dense alone on answer recall@20 and
# MRecall@5/20, where plain RRF (k=60) was below dense on MRecall@5 and @20.
HYBRID_WEIGHTS = (0.7, 0.3)


def hybrid_convex(runs: Sequence[Sequence[Hit]], k: int | None = None) -> list[Hit]:
    """The default hybrid fusion: ``convex_fusion`` with weights (0.7 dense, 0.3 sparse), min-max."""
    return convex_fusion(runs, k, weights=HYBRID_WEIGHTS)


FUSERS: dict[str, Fuser] = {
    "convex": hybrid_convex,
    "rrf": reciprocal_rank_fusion,
    "dbsf": distribution_based_fusion,
}

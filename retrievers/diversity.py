"""Diversity re-ranking, so that one article does not fill the top-k while other readings go unseen.

* :func:`mmr_select`: Maximal Marginal Relevance (Carbonell & Goldstein, SIGIR 1998):
  pick argmax λ·sim(q, d) − (1 − λ)·max_{s ∈ selected} sim(d, s), cosine similarities.
* :func:`limit_per_title`: keep at most ``n`` passages per title, in rank order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexes.types import Hit
from retrievers.base import check_queries


def mmr_select(query: np.ndarray, candidates: np.ndarray, k: int, lambda_: float = 0.7) -> list[int]:
    """Indices of ``k`` candidates in MMR order; ties break by lower index.

    >>> q = np.array([1.0, 0.0]); c = np.array([[1.0, 0.0], [0.99, 0.14], [0.6, 0.8]])
    >>> mmr_select(q, c, 2, lambda_=0.3)
    [0, 2]
    """
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError(f"lambda_ must be in [0, 1], got {lambda_}")
    n = len(candidates)
    rel = candidates @ query
    sim = candidates @ candidates.T
    chosen: list[int] = []
    redundancy = np.full(n, -np.inf)
    for _ in range(min(k, n)):
        score = lambda_ * rel - (1 - lambda_) * np.where(np.isinf(redundancy), 0.0, redundancy)
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        redundancy = np.maximum(redundancy, sim[best])
    return chosen


def limit_per_title(hits: Sequence[Hit], max_per_title: int, k: int | None = None) -> list[Hit]:
    """Drop hits beyond ``max_per_title`` per (case-insensitive) title; re-rank 1..n."""
    if max_per_title < 1:
        raise ValueError(f"max_per_title must be >= 1, got {max_per_title}")
    counts: dict[str, int] = {}
    out: list[Hit] = []
    for h in hits:
        t = h.passage.title.strip().lower()
        if counts.get(t, 0) < max_per_title:
            counts[t] = counts.get(t, 0) + 1
            out.append(h)
        if k is not None and len(out) == k:
            break
    return [Hit(h.passage, h.score, i + 1, h.source) for i, h in enumerate(out)]


class TitleDedup:
    """Wrap a retriever: fetch ``depth`` hits, keep at most ``max_per_title`` per title."""

    def __init__(self, inner, max_per_title: int = 1, depth: int = 100):
        if max_per_title < 1 or depth < 1:
            raise ValueError("max_per_title and depth must be >= 1")
        self.inner, self.max_per_title, self.depth = inner, max_per_title, depth

    def retrieve(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        queries = check_queries(queries, k)
        runs = self.inner.retrieve(queries, max(k, self.depth))
        return [limit_per_title(run, self.max_per_title, k) for run in runs]


class MMR:
    """Wrap a retriever: re-rank its top ``depth`` hits by MMR over the index's dense vectors."""

    def __init__(self, inner, encoder, dense, store, lambda_: float = 0.7, depth: int = 50):
        if not 0.0 <= lambda_ <= 1.0:
            raise ValueError(f"lambda_ must be in [0, 1], got {lambda_}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.inner, self.encoder, self.dense, self.store = inner, encoder, dense, store
        self.lambda_, self.depth = lambda_, depth

    def retrieve(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        queries = check_queries(queries, k)
        runs = self.inner.retrieve(queries, max(k, self.depth))
        qvecs = self.encoder.encode(queries)
        out = []
        for qv, run in zip(qvecs, runs):
            if not run:
                out.append([])
                continue
            vecs = self.dense.vectors([self.store.row_of(h.passage.id) for h in run])
            order = mmr_select(qv, vecs, k, self.lambda_)
            out.append([Hit(run[i].passage, run[i].score, r + 1, run[i].source) for r, i in enumerate(order)])
        return out

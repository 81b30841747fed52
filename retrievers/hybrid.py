"""Hybrid retrieval: a dense and a sparse retriever, fused per query."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from indexes.types import Hit
from retrievers.base import check_queries
from retrievers.fusion import hybrid_convex


class HybridRetriever:
    """Retrieve ``depth`` candidates from each inner retriever and fuse them into ``k``.

    ``fuse`` is any fusion function of :mod:`retrievers.fusion`, called as ``fuse([dense_run,
    sparse_run], k)``. The default is min-max convex fusion with weights 0.7 dense / 0.3 sparse
    (:func:`~retrievers.fusion.hybrid_convex`); ``fuse=reciprocal_rank_fusion`` gives plain RRF
    k=60, and ``functools.partial`` sets other options.

    >>> hybrid = HybridRetriever(dense, bm25)                # doctest: +SKIP
    >>> hybrid.retrieve(["who plays the doctor in dexter"], k=5)   # doctest: +SKIP
    """

    def __init__(self, dense, sparse, fuse: Callable[..., list[Hit]] = hybrid_convex,
                 depth: int = 100):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.dense, self.sparse, self.fuse, self.depth = dense, sparse, fuse, depth

    def retrieve(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        queries = check_queries(queries, k)
        depth = max(k, self.depth)
        dense_runs = self.dense.retrieve(queries, depth)
        sparse_runs = self.sparse.retrieve(queries, depth)
        return [self.fuse([d, s], k) for d, s in zip(dense_runs, sparse_runs)]

"""Retrieve for several rewrites of each question and fuse the runs (RAG-Fusion style)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from indexes.types import Hit
from retrievers.base import check_queries
from retrievers.fusion import reciprocal_rank_fusion


def rewrites_of(rewriter: Any, question: str) -> list[str]:
    """Call a rewriter (a ``QueryRewriter`` or any ``str -> list[str]`` callable); the original
    question always comes first and duplicates (case-insensitive) are dropped."""
    out = rewriter.rewrite(question) if hasattr(rewriter, "rewrite") else rewriter(question)
    if isinstance(out, str) or out is None or not hasattr(out, "__iter__"):
        raise TypeError(f"the rewriter {rewriter!r} returned {type(out).__name__}; it must return a "
                        f"list of strings")
    seen, queries = set(), []
    for q in [question, *out]:
        key = " ".join(str(q).lower().split())
        if key and key not in seen:
            seen.add(key)
            queries.append(str(q))
    return queries


class MultiQueryRetriever:
    """``inner`` retrieves for every rewrite of every question in one batch; runs are fused.

    The original question is never dropped: it is always the first run, and its weight is
    ``original_weight`` (rewrites get 1.0).

    >>> r = MultiQueryRetriever(hybrid, lambda q: [q + " film", q + " novel"])   # doctest: +SKIP
    """

    def __init__(self, inner, rewriter: Any, fuse: Callable[..., list[Hit]] = reciprocal_rank_fusion,
                 depth: int = 50, original_weight: float = 1.0):
        if not (hasattr(rewriter, "rewrite") or callable(rewriter)):
            raise TypeError("rewriter must be callable or have a rewrite(question) method")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if not 0.0 <= original_weight < float("inf"):
            raise ValueError(f"original_weight must be finite and >= 0, got {original_weight}")
        if not _takes_weights(fuse):   # FUSERS["convex"] fuses one dense and one sparse run
            raise TypeError(f"fuse must take weights= (reciprocal_rank_fusion, distribution_based_fusion or "
                            f"convex_fusion); {getattr(fuse, '__name__', fuse)!r} does not")
        self.inner, self.rewriter, self.fuse = inner, rewriter, fuse
        self.depth, self.original_weight = depth, original_weight

    def retrieve(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        queries = check_queries(queries, k)
        expanded = [rewrites_of(self.rewriter, q) for q in queries]
        flat = [q for group in expanded for q in group]
        runs = self.inner.retrieve(flat, max(k, self.depth))
        out, pos = [], 0
        for group in expanded:
            group_runs = runs[pos:pos + len(group)]
            pos += len(group)
            weights = [self.original_weight] + [1.0] * (len(group) - 1)
            out.append(self.fuse(group_runs, k, weights=weights))
        return out


def _takes_weights(fuse: Callable[..., Any]) -> bool:
    import inspect

    try:
        params = inspect.signature(fuse).parameters.values()
    except (TypeError, ValueError):   # a builtin without a signature: let the first call tell
        return True
    return any(p.name == "weights" or p.kind is p.VAR_KEYWORD for p in params)

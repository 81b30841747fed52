"""Build the retriever for a search mode from a loaded index."""

from __future__ import annotations

from retrievers.dense import DenseRetriever
from retrievers.fusion import FUSERS
from retrievers.hybrid import HybridRetriever
from retrievers.sparse import BM25Retriever

MODES = ("bm25", "dense", "hybrid")


def retriever_for(index, mode: str = "hybrid", *, fuse: str = "convex", device: str | None = None,
                  encoder=None):
    """``bm25``, ``dense`` or ``hybrid`` (dense + BM25 fused with ``fuse``: ``convex`` (0.7 dense,
    0.3 BM25, min-max; the default), ``rrf`` (k=60) or ``dbsf``).

    >>> r = retriever_for(indexes.load("/tmp/idx"), "hybrid")   # doctest: +SKIP
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if fuse not in FUSERS:
        raise ValueError(f"fuse must be one of {tuple(FUSERS)}, got {fuse!r}")
    if mode == "bm25":
        return BM25Retriever.from_index(index)
    if mode == "dense":
        return DenseRetriever.from_index(index, encoder=encoder, device=device)
    return HybridRetriever(DenseRetriever.from_index(index, encoder=encoder, device=device),
                           BM25Retriever.from_index(index), fuse=FUSERS[fuse])

"""Build the retriever for a search mode from a loaded index."""

from __future__ import annotations

from retrievers.dense import DenseRetriever
from retrievers.fusion import FUSERS
from retrievers.hybrid import HybridRetriever
from retrievers.sparse import BM25Retriever

MODES = ("bm25", "dense", "hybrid")
_NEEDS = {"hybrid": {"bm25", "dense"}, "bm25": {"bm25"}, "dense": {"dense"}}


def serves(kinds, mode: str) -> bool:
    """Whether an index with parts ``kinds`` can run retrieval ``mode`` (``bm25``, ``dense``, ``hybrid``).

    >>> serves(["bm25"], "hybrid"), serves(["bm25", "dense"], "dense")
    (False, True)
    """
    return _NEEDS[mode] <= set(kinds)


def resolve_mode(kinds, mode: str = "auto") -> str:
    """The retrieval mode for an index with ``kinds``: ``auto`` is hybrid when the index has
    both parts, else the part it has; an explicit mode the index cannot serve is a ValueError.

    >>> resolve_mode(["bm25"]), resolve_mode(["bm25", "dense"])
    ('bm25', 'hybrid')
    """
    if not list(kinds):
        raise ValueError("the index has no retrievable part (neither bm25 nor dense)")
    if mode == "auto":
        return "hybrid" if {"bm25", "dense"} <= set(kinds) else list(kinds)[0]
    if mode not in MODES:
        raise ValueError(f"mode must be auto or one of {MODES}, got {mode!r}")
    if not serves(kinds, mode):
        raise ValueError(f"mode {mode!r} needs an index with {' and '.join(sorted(_NEEDS[mode]))}, but this "
                         f"index has only {', '.join(kinds)} (use mode 'auto' or '{list(kinds)[0]}')")
    return mode


def retriever_for(index, mode: str = "hybrid", *, fuse: str = "convex", device: str | None = None,
                  encoder=None):
    """``bm25``, ``dense`` or ``hybrid`` (dense + BM25 fused with ``fuse``: ``convex`` (0.7 dense,
    0.3 BM25, min-max; the default), ``rrf`` (k=60) or ``dbsf``); ``auto``: see
    :func:`resolve_mode`.

    >>> r = retriever_for(indexes.load("/tmp/idx"), "hybrid")   # doctest: +SKIP
    """
    mode = resolve_mode(index.kinds, mode)
    if fuse not in FUSERS:
        raise ValueError(f"fuse must be one of {tuple(FUSERS)}, got {fuse!r}")
    if mode == "bm25":
        return BM25Retriever.from_index(index)
    if mode == "dense":
        return DenseRetriever.from_index(index, encoder=encoder, device=device)
    return HybridRetriever(DenseRetriever.from_index(index, encoder=encoder, device=device),
                           BM25Retriever.from_index(index), fuse=FUSERS[fuse])

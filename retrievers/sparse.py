"""BM25 retrieval over an index's sparse matrix."""

from __future__ import annotations

from collections.abc import Sequence

from indexes.bm25 import BM25Index
from indexes.store import PassageStore
from indexes.types import Hit
from retrievers.base import check_queries


class BM25Retriever:
    """Top-k BM25 hits per query. Only passages sharing a term with the query are returned.

    >>> import indexes                                     # doctest: +SKIP
    >>> r = BM25Retriever.from_index(indexes.load("/tmp/idx"))   # doctest: +SKIP
    >>> r.retrieve(["dexter season 1 doctor"], k=3)[0][0].passage.title   # doctest: +SKIP
    'Dexter (season 1)'
    """

    source = "bm25"

    def __init__(self, bm25: BM25Index, store: PassageStore):
        if bm25.n_docs != len(store):
            raise ValueError(f"BM25 index has {bm25.n_docs} documents but the store has {len(store)}")
        self.bm25 = bm25
        self.store = store

    @classmethod
    def from_index(cls, index) -> BM25Retriever:
        if index.bm25 is None:
            raise ValueError(f"index {index.path} has no BM25 part (kinds: {index.kinds})")
        return cls(index.bm25, index.store)

    def retrieve(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        queries = check_queries(queries, k)
        scores, rows = self.bm25.search(queries, k)
        return [
            [Hit(p, float(s), i + 1, self.source) for i, (p, s) in enumerate(zip(self.store.get(r), sc))]
            for sc, r in zip(scores, rows)
        ]

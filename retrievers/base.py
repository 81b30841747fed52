"""Shared argument checks for retrievers."""

from __future__ import annotations

import numbers
from collections.abc import Sequence


def retrieve_batched(retriever, queries: Sequence[str], k: int, batch_size: int = 64,
                     desc: str = "retrieving") -> list:
    """``retriever.retrieve`` over many queries in batches of ``batch_size``, with a progress bar."""
    from tqdm.auto import tqdm

    from indexes.progress import hidden

    runs: list = []
    with tqdm(total=len(queries), desc=desc, unit=" q", disable=hidden()) as bar:
        for lo in range(0, len(queries), batch_size):
            batch = list(queries[lo:lo + batch_size])
            runs += retriever.retrieve(batch, k)
            bar.update(len(batch))
    return runs


def is_positive_int(k) -> bool:
    """An integer >= 1: Python or numpy integers, not ``bool``, not floats."""
    return isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 1


def check_queries(queries: Sequence[str], k: int) -> list[str]:
    """Validate a batch: a list (not one string) of non-empty strings, and ``k >= 1``."""
    if isinstance(queries, str):
        raise TypeError("retrieve takes a list of queries; wrap a single query in a list")
    if not is_positive_int(k):   # numpy integers are fine
        raise ValueError(f"k must be a positive integer, got {k!r}")
    out = list(queries)
    for i, q in enumerate(out):
        if not isinstance(q, str):
            raise TypeError(f"query {i} is {type(q).__name__}, expected str")
        if not q.strip():
            raise ValueError(f"query {i} is empty")
    return out

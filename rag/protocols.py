"""One small Protocol per pipeline stage. All are batch-first.

Implementations do not inherit from these; any object with the right methods fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from rag.types import Answer, Hit


@runtime_checkable
class Encoder(Protocol):
    """Texts to L2-normalised vectors, shape (len(texts), dim)."""

    id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class Retriever(Protocol):
    """For each query, its top-``k`` hits, best first."""

    def retrieve(self, queries: Sequence[str], k: int) -> list[list[Hit]]: ...


@runtime_checkable
class QueryRewriter(Protocol):
    """A question to the queries to retrieve for (the question itself included)."""

    def rewrite(self, question: str) -> list[str]: ...


@runtime_checkable
class Reader(Protocol):
    """A question and its hits to an :class:`~rag.types.Answer`."""

    def read(self, question: str, hits: Sequence[Hit]) -> Answer: ...

"""The Retriever (batch-first) and QueryRewriter protocols; any object with the right method
fits (no inheritance)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from indexes.types import Hit


@runtime_checkable
class Retriever(Protocol):
    """For each query, its top-``k`` hits, best first."""

    def retrieve(self, queries: Sequence[str], k: int) -> list[list[Hit]]: ...


@runtime_checkable
class QueryRewriter(Protocol):
    """A question to the queries to retrieve for (the question itself included)."""

    def rewrite(self, question: str) -> list[str]: ...

"""The Reader protocol; any object with a matching ``read`` fits (no inheritance)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from indexes.types import Hit
from readers.types import Answer


@runtime_checkable
class Reader(Protocol):
    """A question and its hits to an :class:`~readers.types.Answer`."""

    def read(self, question: str, hits: Sequence[Hit]) -> Answer: ...

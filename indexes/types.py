"""Passage and Hit: what an index stores and a retriever returns.

Records are frozen dataclasses: a stage never mutates what it was given.

>>> p = Passage(id="d1", title="Dexter (TV series)", text="Dexter is ...")
>>> Hit(passage=p, score=1.5, rank=1, source="bm25").passage.title
'Dexter (TV series)'
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Passage:
    """One retrievable unit of text. ``meta`` holds any extra corpus fields."""

    id: str
    title: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "title": self.title, "text": self.text}
        if self.meta:
            d["meta"] = copy.deepcopy(self.meta)   # a copy: editing the dict must not edit the frozen record
        return d


@dataclass(frozen=True)
class Hit:
    """A passage returned for a query: its score, 1-based rank and which retriever found it."""

    passage: Passage
    score: float
    rank: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        """The hit as ``search --json`` prints it; the passage's extra corpus fields (``url``...)
        as ``meta`` when it has any."""
        d: dict[str, Any] = {
            "rank": self.rank,
            "id": self.passage.id,
            "title": self.passage.title,
            "score": self.score,
            "source": self.source,
            "text": self.passage.text,
        }
        if self.passage.meta:
            d["meta"] = copy.deepcopy(self.passage.meta)
        return d


def distinct_hits(hits) -> list[Hit]:
    """``hits`` with each passage once, at its first (best) place: a retriever that returns a
    passage twice would otherwise count its evidence twice.

    >>> p = Passage(id="d1", title="", text="x")
    >>> [h.rank for h in distinct_hits([Hit(p, 2.0, 1, "bm25"), Hit(p, 1.0, 2, "bm25")])]
    [1]
    """
    seen: set[str] = set()
    out = []
    for h in hits:
        if h.passage.id not in seen:
            seen.add(h.passage.id)
            out.append(h)
    return out

"""Typed records shared by every stage, the CLI, the API and eval.

All records are frozen dataclasses: a stage never mutates what it was given.

>>> p = Passage(id="d1", title="Dexter (TV series)", text="Dexter is ...")
>>> Hit(passage=p, score=1.5, rank=1, source="bm25").passage.title
'Dexter (TV series)'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AnswerKind = Literal["single", "multi", "clarify", "abstain"]


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
            d["meta"] = self.meta
        return d


@dataclass(frozen=True)
class Hit:
    """A passage returned for a query: its score, 1-based rank and which retriever found it."""

    passage: Passage
    score: float
    rank: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.passage.id,
            "title": self.passage.title,
            "score": self.score,
            "source": self.source,
            "text": self.passage.text,
        }


@dataclass(frozen=True)
class SpanLog:
    """What the reader showed for one citation, as learning from feedback needs it: the passage,
    the span (character offsets into the passage text) and its probability under the model."""

    passage_id: str
    text: str
    start: int
    end: int
    probability: float


@dataclass(frozen=True)
class Reading:
    """One interpretation of a question with its answer and the passages that support it.

    ``spans`` logs, per supporting passage, the span the reader extracted (empty for readers that
    extract no spans)."""

    label: str
    answer: str
    citations: tuple[str, ...] = ()
    support: float = 0.0
    spans: tuple[SpanLog, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What the system says: one reading, several, a clarifying question, or an abstention.

    ``sources`` are the passage ids behind the citation numbers in ``text`` ([1] is
    ``sources[0]``); ``question`` is what was asked; ``turn`` counts clarification rounds
    (a clarify answer is also the state that ``Pipeline.reply`` continues from);
    ``model_version`` names the reader model that produced the spans (None without one).
    """

    kind: AnswerKind
    readings: tuple[Reading, ...] = ()
    clarifying_question: str | None = None
    reason: str | None = None
    text: str = ""
    question: str = ""
    sources: tuple[str, ...] = ()
    turn: int = 0
    p_ambiguous: float | None = None
    model_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` shape)."""
        d = asdict(self)
        d["readings"] = [asdict(r) for r in self.readings]
        return d

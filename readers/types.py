"""What a reader says: SpanLog, Reading, Answer (and AnswerKind).

Records are frozen dataclasses: a stage never mutates what it was given.

>>> a = Answer("single", (Reading("Dexter (TV series)", "Michael C. Hall", ("d1",), 1.0),), text="Michael C. Hall [1].")
>>> a.readings[0].answer
'Michael C. Hall'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

AnswerKind = Literal["single", "multi", "clarify", "abstain"]


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

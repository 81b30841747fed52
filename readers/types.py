"""What a reader says: SpanLog, Reading, Answer (and AnswerKind).

Records are frozen dataclasses: a stage never mutates what it was given.

>>> a = Answer("single", (Reading("Dexter (TV series)", "Michael C. Hall", ("d1",), 1.0),), text="Michael C. Hall [1].")
>>> a.readings[0].answer
'Michael C. Hall'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from indexes.types import Passage

AnswerKind = Literal["single", "multi", "clarify", "abstain"]
ANSWER_KINDS: tuple[str, ...] = get_args(AnswerKind)


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
    ``sources[0]``): every passage read, the cited ones first in order of first citation, then
    the others by rank; ``question`` is what was asked; ``turn`` counts the user's replies to a
    clarifying question (0 for ``ask``; 1 after the first reply, whether it picked a reading or
    missed; a clarify answer is also the state that ``Pipeline.reply`` continues from);
    ``model_version`` names the reader model that produced the spans (None without one);
    ``passages`` (a ``clarify`` answer only) carries the readings' cited passages, so that the
    user's reply can be matched against their text after the state was stored and rebuilt
    (``Answer.from_dict(json.loads(json.dumps(a.to_dict()))) == a``).
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
    passages: tuple[Passage, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` shape)."""
        d = asdict(self)
        d["readings"] = [asdict(r) for r in self.readings]
        d["passages"] = [p.to_dict() for p in self.passages]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Answer:
        """The inverse of :meth:`to_dict` (lists back to tuples), e.g. for a clarification state
        kept in a database between turns. Raises ``ValueError`` naming a missing or unknown field.

        >>> a = Answer("single", (Reading("X", "y", ("p1",)),), text="y [1].", sources=("p1",))
        >>> Answer.from_dict(a.to_dict()) == a
        True
        """
        if not isinstance(d, dict) or "kind" not in d:
            raise ValueError("an Answer dict needs at least a 'kind'")
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown Answer fields: {sorted(unknown)}")
        if d["kind"] not in ANSWER_KINDS:
            raise ValueError(f"Answer kind must be single, multi, clarify or abstain, got {d['kind']!r}")
        try:
            readings = tuple(Reading(r["label"], r["answer"], tuple(r.get("citations", ())), r.get("support", 0.0),
                                     tuple(SpanLog(**s) for s in r.get("spans", ()))) for r in d.get("readings", ()))
            passages = tuple(Passage(p["id"], p.get("title", ""), p["text"], p.get("meta", {}))
                             for p in d.get("passages", ()))
        except KeyError as e:    # a reading or passage without a required field
            raise ValueError(f"an Answer's readings and passages need field {e}") from None
        except (TypeError, AttributeError) as e:   # not a dict, or a span with unknown fields
            raise ValueError(f"malformed reading, span or passage in an Answer dict: {e}") from None
        turn = d.get("turn", 0)
        if isinstance(turn, bool) or not isinstance(turn, int) or turn < 0:   # "1" failed later in reply()
            raise ValueError(f"an Answer's turn must be an integer >= 0, got {turn!r}")
        rest = {k: v for k, v in d.items() if k not in ("readings", "passages", "sources")}
        return cls(**rest, readings=readings, passages=passages, sources=tuple(d.get("sources", ())))

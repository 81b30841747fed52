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
        kept in a database between turns. Raises ``ValueError`` naming a missing, unknown or
        malformed field (a string where a list belongs, a clarify state without its options).

        >>> a = Answer("single", (Reading("X", "y", ("p1",)),), text="y [1].", sources=("p1",))
        >>> Answer.from_dict(a.to_dict()) == a
        True
        """
        _check_fields(d, set(cls.__dataclass_fields__))
        readings = tuple(_reading(r, i) for i, r in enumerate(_list(d, "readings")))
        passages = tuple(_passage(p, i) for i, p in enumerate(_list(d, "passages")))
        sources = tuple(_str(s, f"sources[{i}]") for i, s in enumerate(_list(d, "sources")))
        if d["kind"] == "clarify" and (not readings or not isinstance(d.get("clarifying_question"), str)):
            raise ValueError("a clarify Answer needs its readings (the options) and its clarifying_question")
        rest = {k: v for k, v in d.items() if k not in ("readings", "passages", "sources")}
        return cls(**rest, readings=readings, passages=passages, sources=sources)


def _check_fields(d: Any, known: set[str]) -> None:
    """``ValueError`` naming the first field of an Answer dict that is missing, unknown or of the
    wrong type (readings, passages and sources are checked as they are read)."""
    if not isinstance(d, dict) or "kind" not in d:
        raise ValueError("an Answer dict needs at least a 'kind'")
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown Answer fields: {sorted(unknown)}")
    if d["kind"] not in ANSWER_KINDS:
        raise ValueError(f"Answer kind must be single, multi, clarify or abstain, got {d['kind']!r}")
    turn = d.get("turn", 0)
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 0:   # "1" failed later in reply()
        raise ValueError(f"an Answer's turn must be an integer >= 0, got {turn!r}")
    for key in ("text", "question"):
        _str(d.get(key, ""), key)
    for key in ("clarifying_question", "reason", "model_version"):
        if d.get(key) is not None:
            _str(d[key], key)
    p = d.get("p_ambiguous")
    if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float))):
        raise ValueError(f"an Answer's p_ambiguous must be a number or null, got {p!r}")


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"an Answer's {where} must be a string, got {type(v).__name__}: {v!r:.60}")
    return v


def _list(d: dict[str, Any], key: str, within: str = "") -> list[Any]:
    """``d[key]`` as a list (absent: empty); a string there ("p1") was split into characters."""
    v = d.get(key, [])
    if not isinstance(v, (list, tuple)):
        raise ValueError(f"an Answer's {within}{key} must be a list, got {type(v).__name__}: {v!r:.60}")
    return list(v)


def _reading(r: Any, i: int) -> Reading:
    where = f"readings[{i}]"
    if not isinstance(r, dict):
        raise ValueError(f"an Answer's {where} must be an object, got {type(r).__name__}")
    try:
        support = r.get("support", 0.0)
        if isinstance(support, bool) or not isinstance(support, (int, float)):
            raise ValueError(f"an Answer's {where}.support must be a number, got {support!r}")
        citations = tuple(_str(c, f"{where}.citations[{k}]") for k, c in enumerate(_list(r, "citations", where + ".")))
        spans = tuple(_span(s, f"{where}.spans[{k}]") for k, s in enumerate(_list(r, "spans", where + ".")))
        return Reading(_str(r["label"], f"{where}.label"), _str(r["answer"], f"{where}.answer"), citations,
                       float(support), spans)
    except KeyError as e:
        raise ValueError(f"an Answer's {where} needs field {e}") from None


def _span(s: Any, where: str) -> SpanLog:
    try:
        return SpanLog(**s)
    except TypeError as e:   # not a dict, or unknown or missing fields
        raise ValueError(f"malformed span {where} in an Answer dict: {e}") from None


def _passage(p: Any, i: int) -> Passage:
    where = f"passages[{i}]"
    if not isinstance(p, dict):
        raise ValueError(f"an Answer's {where} must be an object, got {type(p).__name__}")
    try:
        meta = p.get("meta", {})
        if not isinstance(meta, dict):
            raise ValueError(f"an Answer's {where}.meta must be an object, got {type(meta).__name__}")
        return Passage(_str(p["id"], f"{where}.id"), _str(p.get("title", ""), f"{where}.title"),
                       _str(p["text"], f"{where}.text"), meta)
    except KeyError as e:
        raise ValueError(f"an Answer's {where} needs field {e}") from None

"""Rebuild an :class:`~rag.types.Answer` from its ``to_dict()`` form (the JSON kept in SQLite).

>>> from rag.types import Answer, Reading, SpanLog
>>> a = Answer("single", (Reading("X", "y", ("p1",), 1.0, (SpanLog("p1", "y", 0, 1, 0.9),)),),
...            text="y [1].", sources=("p1",), model_version="m1")
>>> answer_from_dict(a.to_dict()) == a
True
"""

from __future__ import annotations

from typing import Any

from rag.types import Answer, Reading, SpanLog

KINDS = ("single", "multi", "clarify", "abstain")


def reading_from_dict(d: dict[str, Any]) -> Reading:
    return Reading(label=d["label"], answer=d["answer"], citations=tuple(d.get("citations", ())),
                   support=float(d.get("support", 0.0)),
                   spans=tuple(SpanLog(**s) for s in d.get("spans", ())))


def answer_from_dict(d: dict[str, Any]) -> Answer:
    """The inverse of ``Answer.to_dict()``; raises ValueError naming a bad kind or a missing field."""
    if d.get("kind") not in KINDS:
        raise ValueError(f"answer kind must be one of {KINDS}, got {d.get('kind')!r}")
    try:
        return Answer(kind=d["kind"], readings=tuple(reading_from_dict(r) for r in d.get("readings", ())),
                      clarifying_question=d.get("clarifying_question"), reason=d.get("reason"),
                      text=d.get("text", ""), question=d.get("question", ""),
                      sources=tuple(d.get("sources", ())), turn=int(d.get("turn", 0)),
                      p_ambiguous=d.get("p_ambiguous"), model_version=d.get("model_version"))
    except (KeyError, TypeError) as e:
        raise ValueError(f"not an Answer dict: {e}") from None

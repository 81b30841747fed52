"""Rebuild an :class:`~rag.types.Answer` from its ``to_dict()`` form (the JSON kept in SQLite).

>>> from rag.types import Answer, Reading, SpanLog
>>> a = Answer("single", (Reading("X", "y", ("p1",), 1.0, (SpanLog("p1", "y", 0, 1, 0.9),)),),
...            text="y [1].", sources=("p1",), model_version="m1")
>>> answer_from_dict(a.to_dict()) == a
True
"""

from __future__ import annotations

from typing import Any

from rag.types import Answer
from readers.types import ANSWER_KINDS as KINDS


def answer_from_dict(d: dict[str, Any]) -> Answer:
    """:meth:`Answer.from_dict` for stored rows: every field kept (the options' passages too, which
    a reply is matched against), and fields this version does not know (a row a later version
    wrote) ignored instead of refused. Raises ValueError naming a bad kind or a missing field."""
    if not isinstance(d, dict) or d.get("kind") not in KINDS:
        raise ValueError(f"answer kind must be one of {KINDS}, got {d.get('kind') if isinstance(d, dict) else d!r}")
    try:
        return Answer.from_dict({k: v for k, v in d.items() if k in Answer.__dataclass_fields__})
    except (KeyError, TypeError) as e:
        raise ValueError(f"not an Answer dict: {e!r}") from None

"""Answer text from readings: "For A: x [1]. For B: y [3]." Shared by the decision policy and
the clarification turn (:mod:`readers.policy`, :mod:`readers.clarify`).

>>> render((Reading("Dexter (TV series)", "Michael C. Hall", ("d2",)),), {"d2": 1})
'Michael C. Hall [1].'
"""

from __future__ import annotations

from indexes.text import normalize_answer
from readers.types import Reading


def cite(r: Reading, numbering: dict[str, int]) -> str:
    return "".join(f"[{numbering[c]}]" for c in r.citations if c in numbering)


def render(readings: tuple[Reading, ...], numbering: dict[str, int]) -> str:
    """"For A: x [1]. For B: y [3]." (a single reading: "x [1]."); a reading labelled by its own
    answer (a passage without a title) is not "For x: x".

    >>> render((Reading("John Smith", "John Smith", ("a",)), Reading("B", "y", ("b",))), {"a": 2, "b": 1})
    'John Smith [2]. For B: y [1].'
    """
    if len(readings) == 1:
        r = readings[0]
        return f"{r.answer} {cite(r, numbering)}".strip() + "."
    return " ".join(f"{_lead(r)}{r.answer} {cite(r, numbering)}".rstrip() + "." for r in readings)


def _lead(r: Reading) -> str:
    return "" if normalize_answer(r.label) == normalize_answer(r.answer) else f"For {r.label}: "

"""Answer text from readings: "For A: x [1]. For B: y [3]." Shared by the decision policy and
the clarification turn (:mod:`readers.policy`, :mod:`readers.clarify`).

>>> render((Reading("Dexter (TV series)", "Michael C. Hall", ("d2",)),), {"d2": 1})
'Michael C. Hall [1].'
"""

from __future__ import annotations

from readers.types import Reading


def cite(r: Reading, numbering: dict[str, int]) -> str:
    return "".join(f"[{numbering[c]}]" for c in r.citations if c in numbering)


def render(readings: tuple[Reading, ...], numbering: dict[str, int]) -> str:
    """"For A: x [1]. For B: y [3]." (a single reading: "x [1].")."""
    if len(readings) == 1:
        r = readings[0]
        return f"{r.answer} {cite(r, numbering)}".strip() + "."
    return " ".join(f"For {r.label}: {r.answer} {cite(r, numbering)}".rstrip() + "." for r in readings)

"""Answer text from readings: "For A: x [1][2]. For B: y [3]." Shared by the decision policy and
the clarification turn (:mod:`readers.policy`, :mod:`readers.clarify`).

Citation numbers count the passages the text cites, in the order it first cites them, so a text
reads [1], [2], [3] ... without gaps; :func:`cited_first` orders an answer's ``sources`` to match
([1] is ``sources[0]``).

>>> render((Reading("Dexter (TV series)", "Michael C. Hall", ("d2",)),))
'Michael C. Hall [1].'
"""

from __future__ import annotations

from collections.abc import Sequence

from indexes.text import normalize_answer
from readers.types import Reading


def cite(r: Reading, numbering: dict[str, int]) -> str:
    return "".join(f"[{numbering[c]}]" for c in r.citations if c in numbering)


def cited_first(readings: Sequence[Reading], ids: Sequence[str]) -> tuple[str, ...]:
    """``ids`` reordered so the passages ``readings`` cite come first, in the order they are first
    cited (their citation numbers in :func:`render`), then the others in their given order.

    >>> cited_first((Reading("A", "x", ("p3", "p1")), Reading("B", "y", ("p1", "p4"))), ["p1", "p2", "p3", "p4"])
    ('p3', 'p1', 'p4', 'p2')
    """
    cited = dict.fromkeys(c for r in readings for c in r.citations)
    return tuple(cited) + tuple(i for i in ids if i not in cited)


def render(readings: tuple[Reading, ...], numbering: dict[str, int] | None = None) -> str:
    """"For A: x [1][2]. For B: y [3]." (a single reading: "x [1]."); a reading labelled by its own
    answer (a passage without a title) is not "For x: x". ``numbering`` (passage id -> number)
    overrides the default, which numbers the cited passages in order of first citation.

    >>> render((Reading("John Smith", "John Smith", ("a", "c")), Reading("B", "y", ("b", "a"))))
    'John Smith [1][2]. For B: y [3][1].'
    """
    if numbering is None:
        numbering = {pid: i for i, pid in enumerate(cited_first(readings, ()), start=1)}
    if len(readings) == 1:
        r = readings[0]
        return f"{r.answer} {cite(r, numbering)}".strip() + "."
    return " ".join(f"{_lead(r)}{r.answer} {cite(r, numbering)}".rstrip() + "." for r in readings)


def _lead(r: Reading) -> str:
    return "" if normalize_answer(r.label) == normalize_answer(r.answer) else f"For {r.label}: "

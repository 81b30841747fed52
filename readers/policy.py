"""The decision policy: single answer, complete (multi) answer, clarifying question, or abstain.

Explicit and configurable (:class:`Policy`). In order:

1. **abstain** when no reading has enough support ("no supporting evidence");
2. **abstain** when the best-supported reading is in conflict (same reading, different answers
   with comparable support) and ``abstain_on_conflict`` is set; otherwise the conflict is
   surfaced in the answer text;
3. **single** when one reading remains;
4. with several readings: **clarify** when the caller is ``interactive`` and the calibrated
   P(ambiguous) (from :mod:`readers.ambiguity`; 1.0 when unknown) reaches
   ``clarify_threshold``; else a **multi** (complete) answer listing every reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.types import Answer, Reading
from readers.readings import Conflict, Grouping


@dataclass(frozen=True)
class Policy:
    """Thresholds of the decision (defaults to be re-set on dev data with the reader)."""

    min_support: float = 0.5
    max_readings: int = 5
    clarify_threshold: float = 0.5
    abstain_on_conflict: bool = True

    def __post_init__(self) -> None:
        if self.max_readings < 1:
            raise ValueError(f"max_readings must be >= 1, got {self.max_readings}")
        if not 0.0 <= self.clarify_threshold <= 1.0:
            raise ValueError(f"clarify_threshold must be in [0, 1], got {self.clarify_threshold}")


def cite(r: Reading, numbering: dict[str, int]) -> str:
    return "".join(f"[{numbering[c]}]" for c in r.citations if c in numbering)


def render(readings: tuple[Reading, ...], numbering: dict[str, int]) -> str:
    """"For A: x [1]. For B: y [3]." (a single reading: "x [1].")."""
    if len(readings) == 1:
        r = readings[0]
        return f"{r.answer} {cite(r, numbering)}".strip() + "."
    return " ".join(f"For {r.label}: {r.answer} {cite(r, numbering)}".rstrip() + "." for r in readings)


def _conflict_reason(c: Conflict) -> str:
    alts = " vs ".join(f"{a!r} ({s:g})" for a, s in c.answers)
    return f"conflicting evidence for {c.label}: {alts}"


def decide(grouping: Grouping, *, p_ambiguous: float | None = None, interactive: bool = False,
           policy: Policy = Policy(), numbering: dict[str, int] | None = None) -> Answer:
    """Turn grouped evidence into an :class:`~rag.types.Answer` (see module docstring).

    ``numbering`` maps passage ids to the citation numbers shown in the text (1-based hit rank).
    """
    numbering = numbering or {}
    readings = tuple(r for r in grouping.readings if r.support >= policy.min_support)[: policy.max_readings]
    if not readings:
        return Answer("abstain", reason="no supporting evidence in the retrieved passages",
                      text="I could not find an answer in the retrieved passages.")
    top_conflict = next((c for c in grouping.conflicts if c.label == readings[0].label), None)
    if top_conflict is not None and policy.abstain_on_conflict:
        reason = _conflict_reason(top_conflict)
        return Answer("abstain", readings, reason=reason, text=f"I cannot answer reliably: {reason}.")
    note = "" if top_conflict is None else f" (Note: {_conflict_reason(top_conflict)}.)"
    if len(readings) == 1:
        return Answer("single", readings, text=render(readings, numbering) + note)
    p = 1.0 if p_ambiguous is None else p_ambiguous
    if interactive and p >= policy.clarify_threshold:
        from readers.clarify import clarifying_question

        q = clarifying_question(readings)
        return Answer("clarify", readings, clarifying_question=q, text=q)
    return Answer("multi", readings, text=render(readings, numbering) + note)

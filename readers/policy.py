"""The decision policy: single answer, complete (multi) answer, clarifying question, or abstain.

Explicit and configurable (:class:`Policy`). In order:

1. **abstain** when no reading has enough support ("no supporting evidence"); readings with
   less than ``min_relative_support`` of the best reading's support are outvoted (a lone
   misinformation passage against several agreeing ones);
2. **abstain** when the best-supported reading is in conflict (same reading, different answers
   with comparable support) and ``abstain_on_conflict`` is set; otherwise the conflict is
   surfaced in the answer text;
3. **single** when one reading remains;
4. with several readings: **clarify** when the caller is ``interactive`` and either the
   calibrated P(ambiguous) (from :mod:`readers.ambiguity`; 1.0 when unknown) reaches
   ``clarify_threshold`` or the evidence itself shows one name with different qualifiers
   (:func:`same_name_entities`, AmbigDocs-style); else a **multi** (complete) answer listing
   every reading. The probability thus decides when the evidence alone cannot: several answers
   under unrelated titles may be one question answered by several passages.
"""

from __future__ import annotations

from dataclasses import dataclass

from readers.readings import Conflict, Grouping
from readers.render import cite, render
from readers.types import Answer, Reading

__all__ = ["Policy", "cite", "decide", "render", "same_name_entities"]


@dataclass(frozen=True)
class Policy:
    """Thresholds of the decision (defaults to be re-set on dev data with the reader)."""

    min_support: float = 0.5
    min_relative_support: float = 0.0
    conflict_ratio: float = 0.6
    max_readings: int = 5
    clarify_threshold: float = 0.5
    abstain_on_conflict: bool = True

    def __post_init__(self) -> None:
        if self.max_readings < 1:
            raise ValueError(f"max_readings must be >= 1, got {self.max_readings}")
        for name in ("clarify_threshold", "min_relative_support", "conflict_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def same_name_entities(readings: tuple[Reading, ...]) -> bool:
    """Evidence of entity ambiguity: two readings are one name with different qualifiers
    ("Bobby Carpenter (ice hockey)" / "Bobby Carpenter (American football)")."""
    from readers.readings import split_title

    seen: dict[str, str | None] = {}
    for r in readings:
        base, qual = split_title(r.label)
        key = base.lower()
        if key in seen and qual is not None and seen[key] != qual:
            return True
        seen.setdefault(key, qual)
    return False


def _conflict_reason(c: Conflict) -> str:
    alts = " vs ".join(f"{a!r} (support {s:.2f})" for a, s in c.answers)   # {s:g} printed 0.252922
    return f"conflicting evidence for {c.label}: {alts}"


def decide(grouping: Grouping, *, p_ambiguous: float | None = None, interactive: bool = False,
           policy: Policy = Policy(), numbering: dict[str, int] | None = None) -> Answer:
    """Turn grouped evidence into an :class:`~readers.types.Answer` (see module docstring).

    ``numbering`` maps passage ids to the citation numbers shown in the text (default: the cited
    passages in order of first citation, :func:`readers.render.cited_first`).
    """
    top = max((r.support for r in grouping.readings), default=0.0)
    floor = max(policy.min_support, policy.min_relative_support * top)
    readings = tuple(r for r in grouping.readings if r.support >= floor)[: policy.max_readings]
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
    if interactive and (p >= policy.clarify_threshold or same_name_entities(readings)):
        from readers.clarify import clarifying_question

        q = clarifying_question(readings)
        return Answer("clarify", readings, clarifying_question=q, text=q)
    return Answer("multi", readings, text=render(readings, numbering) + note)

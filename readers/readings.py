"""From a per-passage evidence table to readings: group by reading label, then by answer.

* A **reading label** is the passage title with its parenthetical ("Bobby Carpenter (American
  football)"), or a descriptor the extractor found near the answer.
* Within a label, evidence is grouped by SQuAD-normalised answer, where an answer whose words
  contain another's is the same answer ("football" / "American football"). The best-supported answer is
  the label's reading; a runner-up with at least ``conflict_ratio`` of its support makes a
  **conflict** (same reading, different answers). Weaker runners-up are outvoted: that is how
  a lone misinformation passage is kept from becoming a reading.
* Readings from different labels with the same normalised answer are merged (one answer,
  citations from both), so a cast list and an actor's page do not make two readings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from indexes.text import normalize_answer
from readers.types import Reading, SpanLog

_PAREN = re.compile(r"^(.*?)\s*\(([^)]*)\)\s*$")


@dataclass(frozen=True)
class Evidence:
    """One row of the evidence table: what one passage says about one reading."""

    passage_id: str
    label: str
    answer: str
    score: float = 1.0
    span: SpanLog | None = None


@dataclass(frozen=True)
class Conflict:
    label: str
    answers: tuple[tuple[str, float], ...]  # (answer, support), best first


@dataclass(frozen=True)
class Grouping:
    readings: tuple[Reading, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    dropped: tuple[Evidence, ...] = field(default_factory=tuple)


def split_title(title: str) -> tuple[str, str | None]:
    """``"Bobby Carpenter (ice hockey)"`` -> ``("Bobby Carpenter", "ice hockey")``."""
    m = _PAREN.match(title.strip())
    return (m.group(1).strip(), m.group(2).strip()) if m else (title.strip(), None)


def _key(label: str) -> str:
    return " ".join(label.lower().split())


def group_evidence(table: Sequence[Evidence], *, min_support: float = 0.5,
                   conflict_ratio: float = 0.6) -> Grouping:
    """Readings (best supported first) and conflicts from an evidence table.

    >>> t = [Evidence("1", "Bobby Carpenter (American football)", "linebacker"),
    ...      Evidence("2", "Bobby Carpenter (ice hockey)", "centre")]
    >>> [r.answer for r in group_evidence(t).readings]
    ['linebacker', 'centre']
    """
    by_label: dict[str, dict[str, list[Evidence]]] = {}
    names: dict[str, str] = {}
    for ev in table:
        if not ev.answer.strip() or not normalize_answer(ev.answer):
            continue
        k = _key(ev.label)
        names.setdefault(k, ev.label)
        by_label.setdefault(k, {}).setdefault(normalize_answer(ev.answer), []).append(ev)
    by_label = {k: _cluster_answers(v) for k, v in by_label.items()}
    readings: list[Reading] = []
    conflicts: list[Conflict] = []
    dropped: list[Evidence] = []
    for k, answers in by_label.items():
        ranked = sorted(answers.values(), key=lambda evs: (-sum(e.score for e in evs), evs[0].answer))
        top = ranked[0]
        support = sum(e.score for e in top)
        rivals = [evs for evs in ranked[1:] if sum(e.score for e in evs) >= conflict_ratio * support]
        if rivals:
            conflicts.append(Conflict(names[k], tuple((evs[0].answer, sum(e.score for e in evs))
                                                      for evs in [top, *rivals])))
        for evs in ranked[1:]:
            if evs not in rivals:
                dropped.extend(evs)
        if support < min_support:
            dropped.extend(top)
            continue
        spans = tuple(e.span for e in top if e.span is not None)
        readings.append(Reading(names[k], _best_surface(top), tuple(dict.fromkeys(e.passage_id for e in top)),
                                support, spans))
    return Grouping(tuple(_merge_same_answers(readings)), tuple(conflicts), tuple(dropped))


def same_answer(a: str, b: str) -> bool:
    """Normalised answers are equivalent when one's words contain the other's ("football" and
    "American football"; "3,559" and "3,559 people")."""
    x, y = set(a.split()), set(b.split())
    return bool(x and y) and (x <= y or y <= x)


def _cluster_answers(groups: dict[str, list[Evidence]]) -> dict[str, list[Evidence]]:
    """Merge answer groups that are :func:`same_answer` into the longest one's group."""
    out: dict[str, list[Evidence]] = {}
    for key in sorted(groups, key=lambda k: (-len(k.split()), k)):
        home = next((k for k in out if same_answer(k, key)), None)
        out.setdefault(home or key, []).extend(groups[key])
    return out


def _best_surface(evs: Sequence[Evidence]) -> str:
    """The answer string to show: the most supported surface form (ties: the longest)."""
    totals: dict[str, float] = {}
    for e in evs:
        totals[e.answer.strip()] = totals.get(e.answer.strip(), 0.0) + e.score
    return min(totals, key=lambda a: (-totals[a], -len(a), a))


def _merge_same_answers(readings: list[Reading]) -> list[Reading]:
    """Readings whose answers are :func:`same_answer` become one (the better-supported label and
    surface form, the union of citations, the summed support)."""
    merged: list[Reading] = []
    for r in sorted(readings, key=lambda r: (-r.support, r.label)):
        k = normalize_answer(r.answer)
        i = next((i for i, m in enumerate(merged) if same_answer(normalize_answer(m.answer), k)), None)
        if i is None:
            merged.append(r)
        else:
            m = merged[i]
            merged[i] = Reading(m.label, m.answer, tuple(dict.fromkeys(m.citations + r.citations)),
                                m.support + r.support, m.spans + r.spans)
    return sorted(merged, key=lambda r: (-r.support, r.label))

"""Labels for readings that only have their answer to go by.

A reading is labelled by its passages' title ("Broken Bow, Nebraska") or a leading
"Name (descriptor)". A passage with neither (a chunk from the middle of a page, as in RAMDocs)
leaves the reading labelled by its own answer, and a clarifying question built from such labels
("Which do you mean: (1) 3,559 or (2) 4,120?") gives the answers away instead of asking which
entity the user means. The ICLR 2025 clarification protocol (:mod:`eval.clarification`) voids a
recovery whose answer is in both the question and the reply for this reason.

:func:`describe_readings` gives each such reading the entity name from the question and up to
two **distinctive phrases** from its own passages: capitalised runs of one to four words that

* occur in none of the other readings' passages (so two readings never share a description);
* share no word with the question, nor with any reading's answer (an option never names an
  answer), and are not only stopwords, months or weekdays;
* ranked by closeness to the reading's answer in its passages, summed over the passages
  (``exp(-distance / scale)`` in words, as :func:`readers.evidence.prior_scores`), then longer
  first, then earlier.

A reading with no such phrase keeps its label. Readings labelled by a title or descriptor are
never touched.

>>> from readers.types import Reading
>>> texts = {"1": "Broken Bow is a city in Custer County, Nebraska. Its population was 3,559.",
...          "2": "Broken Bow is a city in McCurtain County, Oklahoma. Its population was 4,120."}
>>> rs = [Reading("3,559", "3,559", ("1",)), Reading("4,120", "4,120", ("2",))]
>>> [r.label for r in describe_readings(rs, texts, "What is the population of Broken Bow?")]
['Broken Bow (Nebraska, Custer County)', 'Broken Bow (Oklahoma, McCurtain County)']
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import groupby

from indexes.text import normalize_answer
from readers.spans import content_words
from readers.types import Reading
from retrievers.followup import subject_of

_TOK = r"[A-Z](?:[\w'&-]|\.(?=\w))*"  # "U.S" keeps its dots; "Nebraska." ends the run
_RUN = re.compile(rf"(?<![\w'&.-]){_TOK}(?:[ ](?:(?:of|de|la|du|von|van|the|and)[ ])?{_TOK}){{0,3}}")
_WORD = re.compile(r"\S+")
MAX_CHARS = 20_000   # of each passage: phrases of a longer one come from its start
_EDGE = frozenset("a an the in on at of for from by with and or but as to after before during this that "
                  "these those his her its their he she it they we you i".split())
CALENDAR = frozenset("january february march april may june july august september october november "
                     "december monday tuesday wednesday thursday friday saturday sunday".split())


def needs_description(r: Reading) -> bool:
    """True when the reading's label is its answer: an untitled passage's reading is labelled by
    its answer text (a title that is the answer, "Henry Ford" for "Henry Ford", counts too; one
    that only contains it, "Lincoln, Nebraska" for "Lincoln", is a title and stays)."""
    a = normalize_answer(r.label)
    return bool(a) and a == normalize_answer(r.answer)


def question_name(question: str) -> str:
    """The entity the question names (:func:`retrievers.followup.subject_of`: a quoted title, else
    the longest run of capitalised words), or "".

    >>> question_name("What is the population of Broken Bow?")
    'Broken Bow'
    >>> question_name("who wrote it")
    ''
    """
    return subject_of(question) or ""


def _phrases(text: str, starts: list[int], banned: set[str]) -> list[tuple[int, str]]:
    """(word index, phrase) of each capitalised run in ``text`` (``starts``: its words' offsets),
    cut at words in ``banned`` ("Somerset County Cricket Club" gives "Somerset County" when
    "cricket" is an answer; a piece of a cut run needs two words: "National Football League"
    gives nothing)."""
    out = []
    for m in _RUN.finditer(text):
        first = bisect_right(starts, m.start()) - 1
        words = m.group(0).split(" ")
        keep = [not content_words(w) & banned for w in words]
        for kept, group in groupby(range(len(words)), key=keep.__getitem__):
            piece = [k for k in group if kept]
            while piece and words[piece[-1]].lower() in _EDGE:
                piece.pop()                          # no trailing "of" / "and"
            while piece and words[piece[0]].lower() in _EDGE:
                piece.pop(0)                         # no leading "In" / "The" ("New" stays)
            phrase = " ".join(words[k] for k in piece).rstrip(".'-&")
            if phrase and (len(piece) > 1 or all(keep)) and max(len(words[k]) for k in piece) <= 40:
                out.append((first + piece[0], phrase))
    return out


def _answer_positions(text: str, starts: list[int], answer: str) -> list[int]:
    """Word indexes where ``answer`` occurs in ``text`` (case-insensitive)."""
    a = answer.strip().lower()
    return [bisect_right(starts, m.start()) - 1 for m in re.finditer(re.escape(a), text.lower())] if a else []


def _allowed(phrase: str, norm: str, banned: set[str], answers: Sequence[str]) -> bool:
    """Not only stopwords or calendar words, no banned word, and no answer inside it even within
    a word ("B-52 Stratofortress" for the answer "52"); ``norm``: the phrase normalised."""
    words = content_words(phrase)
    squashed = norm.replace(" ", "")
    return bool(words) and not words & banned and not words <= CALENDAR \
        and not any(a in squashed for a in answers)


def _scores(r: Reading, texts: Mapping[str, str], banned: set[str], answers: Sequence[str], others: str,
            scale: float) -> dict[str, tuple[float, int, int]]:
    """Phrase -> (closeness to the answer, length, -first position) over the reading's passages."""
    scores: dict[str, tuple[float, int, int]] = {}
    for pid in r.citations:
        text = texts.get(pid, "")[:MAX_CHARS]
        starts = [m.start() for m in _WORD.finditer(text)]
        near = _answer_positions(text, starts, r.answer)[:50]
        for i, phrase in _phrases(text, starts, banned):
            norm = normalize_answer(phrase)
            if not _allowed(phrase, norm, banned, answers) or f" {norm} " in others:
                continue
            close = max((math.exp(-abs(i - j) / scale) for j in near), default=0.0)
            old = scores.get(phrase, (0.0, len(phrase.split()), -i))
            scores[phrase] = (old[0] + close, old[1], max(old[2], -i))
    return scores


def describe_readings(readings: Sequence[Reading], texts: Mapping[str, str], question: str, *,
                      max_phrases: int = 2, scale: float = 8.0) -> list[Reading]:
    """The readings, those labelled only by their answer relabelled (see module docstring).

    ``texts`` maps passage id -> text for the readings' citations (missing ids read as empty).
    """
    if len(readings) < 2 or not any(needs_description(r) for r in readings):
        return list(readings)
    answer_words = set().union(*(content_words(r.answer) for r in readings))
    answers = [a for a in (normalize_answer(r.answer).replace(" ", "") for r in readings) if len(a) >= 2]
    name = question_name(question)
    if content_words(name) & answer_words:   # "Is the capital of Australia Sydney or Canberra?"
        name = ""
    banned = content_words(question) | answer_words
    normalised = {p: f" {normalize_answer(texts.get(p, ''))} " for r in readings for p in r.citations}
    out = []
    for r in readings:
        if not needs_description(r):
            out.append(r)
            continue
        others = " ".join(normalised[p] for o in readings if o is not r for p in o.citations)
        scores = _scores(r, texts, banned, answers, others, scale)
        best = sorted(scores, key=lambda p: (-scores[p][0], -scores[p][1], -scores[p][2], p))[:max_phrases]
        kept = [p for p in best if not any(p != q and f" {normalize_answer(p)} " in f" {normalize_answer(q)} "
                                           for q in best)]
        if kept:
            desc = ", ".join(kept)
            out.append(replace(r, label=f"{name} ({desc})" if name else desc))
        else:
            out.append(r)
    return out


__all__ = ["describe_readings", "needs_description", "question_name"]

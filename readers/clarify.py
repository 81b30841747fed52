"""Clarifying questions built from the readings' labels, and matching the user's reply.

The options are exactly the readings: a question never adds or drops one (an LLM may only
rephrase the lead-in). A reply is matched by option number ("2", "the second"), by overlap with
a label's distinguishing words, or by embedding similarity when an encoder is given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from indexes.text import normalize_answer
from readers.readings import split_title
from readers.types import Reading

ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1,
            "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def option_text(r: Reading) -> str:
    """"Bobby Carpenter (ice hockey)" -> "Bobby Carpenter, ice hockey"; other labels as they are."""
    base, qual = split_title(r.label)
    return f"{base}, {qual}" if qual else base


def clarifying_question(readings: Sequence[Reading]) -> str:
    """"Which do you mean: (1) A, (2) B or (3) C?"

    >>> clarifying_question([Reading("Mercury (planet)", "x"), Reading("Mercury (element)", "y")])
    'Which do you mean: (1) Mercury, planet or (2) Mercury, element?'
    """
    if len(readings) < 2:
        raise ValueError("a clarifying question needs at least two readings")
    opts = [f"({i}) {option_text(r)}" for i, r in enumerate(readings, start=1)]
    return f"Which do you mean: {', '.join(opts[:-1])} or {opts[-1]}?"


def _distinguishing(readings: Sequence[Reading]) -> list[set[str]]:
    toks = [set(normalize_answer(option_text(r)).split()) for r in readings]
    shared = set.intersection(*toks) if toks else set()
    return [t - shared for t in toks]


def match_reply(reply: str, readings: Sequence[Reading], encoder=None, min_similarity: float = 0.35) -> int | None:
    """Index of the reading the reply picks, or None when it matches nothing."""
    text = normalize_answer(reply)
    words = text.split()
    m = re.fullmatch(r"\(?(\d+)\)?", reply.strip().rstrip("."))
    if m and 1 <= int(m.group(1)) <= len(readings):
        return int(m.group(1)) - 1
    for w in words:
        if w in ORDINALS and len(words) <= 4:
            n = ORDINALS[w]
            return len(readings) - 1 if n == -1 else (n - 1 if n <= len(readings) else None)
    overlap = [len(d & set(words)) / max(1, len(d)) for d in _distinguishing(readings)]
    best = max(range(len(readings)), key=lambda i: overlap[i])
    if overlap[best] > 0 and overlap.count(overlap[best]) == 1:
        return best
    if encoder is not None and text:
        vecs = encoder.encode([reply, *[option_text(r) for r in readings]])
        sims = vecs[1:] @ vecs[0]
        i = int(np.argmax(sims))
        if sims[i] >= min_similarity:
            return i
    return None


def follow_up(question_asked: str, readings: Sequence[Reading], reply: str, *, attempts: int = 0,
              encoder=None, numbering: dict[str, int] | None = None):
    """The system's turn after the user's reply: the chosen reading's answer; if the reply matches
    nothing, the question once more (``attempts`` counts earlier misses); after that, the
    complete answer. Returns ``(Answer, attempts)``."""
    from readers.render import render
    from readers.types import Answer

    i = match_reply(reply, readings, encoder)
    if i is not None:
        r = readings[i]
        return Answer("single", (r,), text=render((r,), numbering or {})), attempts
    if attempts == 0:
        again = f"Sorry, I did not catch which one. {question_asked}"
        return Answer("clarify", tuple(readings), clarifying_question=question_asked, text=again), 1
    return Answer("multi", tuple(readings), reason="the reply matched no option",
                  text=render(tuple(readings), numbering or {})), attempts + 1

"""Clarifying questions built from the readings' labels, and the turn after the user's reply.

The options are exactly the readings: a question never adds or drops one (an LLM may only
rephrase the lead-in). The reply is matched by :func:`readers.replies.match_reply` (numbers and
ordinals, words of the labels and the cited passages, negation, an embedding fallback); a reply
that matches nothing or several readings equally gets the question again, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from readers.replies import ReplyMatch, match_reply, option_text
from readers.types import Reading

__all__ = ["ReplyMatch", "clarifying_question", "follow_up", "match_reply", "option_text"]


def clarifying_question(readings: Sequence[Reading]) -> str:
    """"Which do you mean: (1) A, (2) B or (3) C?"

    >>> clarifying_question([Reading("Mercury (planet)", "x"), Reading("Mercury (element)", "y")])
    'Which do you mean: (1) Mercury, planet or (2) Mercury, element?'
    """
    if len(readings) < 2:
        raise ValueError("a clarifying question needs at least two readings")
    opts = [f"({i}) {option_text(r)}" for i, r in enumerate(readings, start=1)]
    return f"Which do you mean: {', '.join(opts[:-1])} or {opts[-1]}?"


def follow_up(question_asked: str, readings: Sequence[Reading], reply: str, *, attempts: int = 0,
              encoder=None, passages: Mapping[str, str] | None = None, question: str = ""):
    """The system's turn after the user's reply. Returns ``(Answer, attempts)``:

    * the reply picks a reading: that reading's answer (``reason`` says how it was matched);
    * it asks for every reading ("both", "either"), or for several ("1 and 3"): their complete answer;
    * otherwise (no match, a tie, a contradiction): the question once more, saying why
      (``attempts`` counts earlier misses); after a second miss, the complete answer.

    ``passages`` (id -> text of the readings' cited passages) and ``question`` (what was asked)
    let the reply match words that are only in the evidence ("the linebacker").
    """
    from readers.render import render
    from readers.types import Answer

    m = match_reply(reply, readings, encoder, passages=passages, question=question)
    if m.index is not None:
        r = readings[m.index]
        return Answer("single", (r,), reason=f"reply matched ({m.index + 1}) by {m.how}: {m.detail}",
                      text=render((r,))), attempts
    if m.how == "all":   # "both": every reading; "1 and 3": those
        chosen = tuple(readings[i] for i in m.candidates) or tuple(readings)
        return Answer("multi", chosen, reason=m.detail, text=render(chosen)), attempts
    if attempts == 0:
        again = f"Sorry, I could not tell which one you mean ({m.detail}). {question_asked}"
        return Answer("clarify", tuple(readings), clarifying_question=question_asked, reason=m.detail,
                      text=again), 1
    return Answer("multi", tuple(readings), reason=f"the reply matched no option ({m.detail})",
                  text=render(tuple(readings))), attempts + 1

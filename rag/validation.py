"""Checks on what a caller passes to the pipeline, in one place for every reader.

:class:`~rag.pipeline.Pipeline` calls them for ``ask``, ``answer_many`` and ``reply``; the CLI
reports their ``ValueError`` as one line and exit status 2.

* A question must be a string with at least one non-space character and at most
  :data:`MAX_QUESTION_CHARS` (1,000) characters: longer text is a document, not a question, and
  every stage (rewriting, retrieval, an LLM prompt) would pay for it.
* ``k``, the number of passages retrieved *and* read, must be an integer >= 1 (not a bool).

>>> validate_question("  Who wrote Dune? ")
'Who wrote Dune?'
>>> validate_k(0)
Traceback (most recent call last):
...
ValueError: k (passages retrieved and read) must be an integer >= 1, got 0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_QUESTION_CHARS = 1000


def validate_question(question: Any, *, what: str = "question", max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question with surrounding whitespace removed; ``ValueError`` naming the problem when
    it is not a string, empty or only whitespace, longer than ``max_chars`` characters, not valid
    UTF-8 (a lone surrogate), or without a single letter or digit."""
    if not isinstance(question, str):
        raise ValueError(f"{what} must be a string, got {type(question).__name__}: {_show(question)}")
    text = question.strip()
    if not text:
        raise ValueError(f"{what} is empty" if not question else f"{what} is only whitespace")
    if len(text) > max_chars:
        raise ValueError(f"{what} is {len(text)} characters long; the limit is {max_chars}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:   # a shell's undecodable byte arrives as a lone surrogate: a trace in the encoder
        raise ValueError(f"{what} is not valid UTF-8: an undecodable byte at character {e.start + 1} "
                         f"({_show(text)})") from None
    if not any(ch.isalnum() for ch in text):   # "\u200b", "\x00", "???": nothing to search for
        raise ValueError(f"{what} has no letters or digits: {_show(text)}")
    return text


def validate_k(k: Any) -> int:
    """``k`` itself when it is an integer >= 1, else ``ValueError``."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (passages retrieved and read) must be an integer >= 1, got {_show(k)}")
    return k


def require_at_least(flags: Iterable[tuple[str, float | None]], minimum: int = 1) -> None:
    """``ValueError`` naming the first command-line flag whose value is below ``minimum`` (``None``,
    a flag left unset, passes).

    >>> require_at_least([("--limit", None), ("-k", 0)])
    Traceback (most recent call last):
    ...
    ValueError: -k must be >= 1, got 0
    """
    for flag, value in flags:
        if value is not None and value < minimum:
            raise ValueError(f"{flag} must be >= {minimum}, got {value}")


def _show(value: Any, width: int = 60) -> str:
    """``repr(value)`` cut to ``width`` characters, or its type when ``repr`` itself fails (an int
    over 4,300 digits raises ValueError, a deeply nested list RecursionError)."""
    try:
        return f"{value!r:.{width}}"
    except (ValueError, RecursionError):
        return f"a {type(value).__name__} too large to show"

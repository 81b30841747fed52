"""Which words of a reply to a clarifying question are ruled out (:mod:`readers.replies` excludes
the readings they match).

* A **cue before** the words: "not", "never", "without", "except", "excluding", "other than",
  "rather than", "instead of", "anything but", "all but", "no" (not a leading "no", an
  interjection, nor "no 2", a number) negates the words up to the next comma, semicolon, full
  stop or "but". "isn't it?" after a statement is a question tag, not a negation.
* A **verdict after** the words: a clause that ends by calling them wrong ("the football one is
  wrong", "the hockey one's wrong", "hockey isn't right", "hockey is not correct") negates the
  words before the verdict.

>>> split_negation("not hockey , the football one".split())
([',', 'the', 'football', 'one'], ['hockey'])
>>> split_negation("hockey is not right".split())
([], ['hockey'])
"""

from __future__ import annotations

NEG_CUES = {"not", "never", "except", "excluding", "no", "without"}
AUX = {"is", "was", "are", "were", "does", "do", "did", "would", "could", "should", "will", "s"}
TAG_SUBJECTS = {"it", "that", "this", "he", "she", "they"}
NEG_PAIRS = {("other", "than"), ("rather", "than"), ("instead", "of"), ("anything", "but"), ("all", "but"),
             ("everything", "but")}
SCOPE_END = {",", ";", ".", "!", "?", "but", "rather", "instead"}
WRONG = {"wrong", "incorrect", "mistaken"}
RIGHT = {"right", "correct", "true"}


def _negates(toks: list[str], i: int) -> int:
    """How many tokens the negation cue at ``i`` spans (0: no cue). A leading "no" is an
    interjection, "no 2" a number, and "isn't it ...?" a question tag, not negations."""
    t, nxt = toks[i], toks[i + 1:i + 2]
    if tuple(toks[i:i + 2]) in NEG_PAIRS:
        return 2
    if t not in NEG_CUES:
        return 0
    if t == "no" and (i == 0 or nxt in ([], [","]) or nxt[0][:1].isdigit()):
        return 0
    if t == "not" and i and toks[i - 1] in AUX and nxt and nxt[0] in TAG_SUBJECTS:
        return 0
    return 1


def _verdict(words: list[str]) -> int | None:
    """How many of a clause's words come before its closing verdict of "wrong" ("is wrong", "is
    not right"); None when it has none, or nothing before it."""
    if len(words) > 1 and words[-1] in WRONG and words[-2] not in AUX | {"not"}:   # "the hockey one's wrong"
        return len(words) - 1
    if len(words) > 2 and words[-2] in AUX and words[-1] in WRONG:                 # "is wrong"
        return len(words) - 2
    if len(words) > 3 and words[-3] in AUX and words[-2] == "not" and words[-1] in RIGHT:   # "isn't right"
        return len(words) - 3
    return None


def split_negation(toks: list[str]) -> tuple[list[str], list[str]]:
    """(positive tokens, negated tokens) of a tokenised reply (see the module docstring)."""
    pos: list[str] = []
    neg: list[str] = []
    for clause in _clauses(toks):
        words = [t for t in clause if t[0].isalnum()]
        cut = _verdict(words)
        if cut is not None:   # "the football one is wrong": the words before the verdict
            neg.extend(words[:cut])
            continue
        p, n = _cued(clause)
        pos.extend(p)
        neg.extend(n)
    return pos, neg


def _clauses(toks: list[str]) -> list[list[str]]:
    """The reply cut after each comma, semicolon or full stop (the mark stays with its clause)."""
    out: list[list[str]] = [[]]
    for t in toks:
        out[-1].append(t)
        if t in SCOPE_END and not t[0].isalnum():
            out.append([])
    return [c for c in out if c]


def _cued(toks: list[str]) -> tuple[list[str], list[str]]:
    """(positive tokens, negated tokens): a cue negates up to the next comma or "but"."""
    pos: list[str] = []
    neg: list[str] = []
    scoped, i = False, 0
    while i < len(toks):
        span = _negates(toks, i)
        if span:
            scoped, i = True, i + span
            continue
        if toks[i] in SCOPE_END:
            scoped = False
        (neg if scoped else pos).append(toks[i])
        i += 1
    return pos, neg

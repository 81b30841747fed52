"""Which reading does the user's reply to a clarifying question pick?

:func:`match_reply` scores a reply against every reading and returns a :class:`ReplyMatch`: the
chosen index, or None with the reason (nothing matched, a tie, a contradiction, a wish for every
answer). It never guesses: a reply that fits two readings equally picks neither.

1. **Normalise**: lowercase, ``n't`` -> ``not``, possessives dropped, option marks split
   ("(2)", "#2", "no. 2", "2nd"); a number with separators or decimals is one word, a quantity
   ("25,000", "2.5 million"), never options.
2. **Negation** ("not", "n't", "never", "without", "other than", "rather than", "instead of",
   "except", "anything but"; a leading "no" is an interjection) scopes the words up to the next
   comma or "but"; so does a clause's closing verdict for the words before it ("the football one
   is wrong", "hockey isn't right"; :mod:`readers.reply_negation`). The readings they match are
   *excluded*. With two readings, excluding one picks the other.
3. **Number or ordinal** ("2", "(2)", "option 2", "number two", "the second", "the last one",
   "the latter", "the middle one") counts only when the rest of the reply is filler ("the",
   "one", "option", "please", "I mean" ...) or words that do not single out a reading's label.
   So "the hockey one" is never option 1. A number or ordinal next to another word of the same
   option's name is a word of that name ("Toy Story 3", "The Last Samurai", "Elizabeth the
   second" for "Elizabeth II"), a lone "3" that is also in another option's name is a conflict,
   and a reply holding every word of exactly one option picks it ("Top Gun", not "Top Gun:
   Maverick").
4. **Words**: content words, lightly stemmed (Snowball, "centre" = "center", "golf" ~ "golfer",
   one typo off a label or answer word: "hokey" ~ "hockey"), are compared with each reading's label (weight 3), answer (2) and cited passages (1). A word
   counts for a reading by how much more it belongs to it than to the reading it belongs to
   least: words every reading shares ("Bobby", "Carpenter", "album") carry nothing, and the
   question's own words count only in labels and answers.
5. **Embedding** fallback (MiniLM, when an encoder is given) only when no word matches at all:
   the cosine of the reply's content words with each reading's "label: answer" (adding the
   first cited passage changed no decision on the test replies and cost 3x the time); it must
   reach ``min_similarity`` (0.35) and beat the runner-up by ``margin`` (0.08).

>>> from readers.types import Reading
>>> rs = [Reading("Bobby Carpenter (American football)", "American football"),
...       Reading("Bobby Carpenter (ice hockey)", "ice hockey")]
>>> [match_reply(r, rs).index for r in ("the hockey one", "option 2", "not the football player")]
[1, 1, 1]
>>> match_reply("the American one?", [*rs, Reading("Bobby Carpenter (American poet)", "poetry")]).how
'tie'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from readers.readings import split_title
from readers.reply_negation import NEG_CUES, split_negation
from readers.reply_words import (
    FILLERS,
    NUMBERS,
    ORDINALS,
    ROMAN,
    content_stems,
    is_content,
    is_numeral,
    one_edit,
    related,
    stem,
    tokens,
)
from readers.types import Reading

How = Literal["number", "words", "negation", "embedding", "all", "tie", "conflict", "out_of_range",
              "non_answer", "none", "empty"]
LABEL_W, ANSWER_W, EVIDENCE_W = 3.0, 2.0, 1.0
_FRACTION = re.compile(r"-?\d+\.\d+")

LAST = {"last", "latter", "final", "bottom"}
ONE_INTRO = {"option", "number", "no", "choice", "item", "num", "nr", "#"}
SOFT_ORDINALS = {"former", "top", "bottom", "final", "latter"}
ALL_CUES = {"both", "all", "either", "any", "whichever", "whatever", "matter", "care", "mind", "preference", "every",
            "each"}
ALL_OK = ALL_CUES | FILLERS | {"of", "them", "does", "do", "not", "are", "fine", "good", "works", "will",
                               "above", "tell", "give", "show", "they", "really", "honestly", "mind", "two",
                               "three", "answers", "readings", "options", "ones", "is"}
NON_ANSWER = re.compile(r"\b(do not know|dunno|no idea|not sure|no clue|unsure|neither|none|nothing|"
                        r"can not (say|tell|decide))\b")
_QUANTIFIERS = {"both", "all", "either", "any", "every", "each"}
_WANT = {"want", "need", "like"}


@dataclass(frozen=True)
class ReplyMatch:
    """The outcome of matching a reply: ``index`` of the chosen reading (None when none is
    chosen), ``how`` it was decided (or why not), a human-readable ``detail``, and the readings
    still in question (``candidates``: the tied ones, or those left after a negation)."""

    index: int | None
    how: How
    detail: str = ""
    candidates: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Vote:
    indices: tuple[int, ...]  # one index: a pick; several: a tie among them; none: no signal
    how: How
    detail: str = ""


class _Profiles:
    """Per reading, each content stem's weight: label 3, answer 2, cited passages 1."""

    def __init__(self, readings: Sequence[Reading], passages: Mapping[str, str], question: str):
        self.n = len(readings)
        self.question = content_stems(question)
        self.words: list[dict[str, float]] = []
        self.labels = [[t for t in tokens(option_text(r)) if t[0].isalnum()] for r in readings]
        self.names = [[*label, *(t for t in tokens(r.answer) if t[0].isalnum())]
                      for label, r in zip(self.labels, readings)]
        for r, label, name in zip(readings, self.labels, self.names):
            prof: dict[str, float] = {}
            for text, w in [(option_text(r), LABEL_W), (r.answer, ANSWER_W),
                            *[(passages[c], EVIDENCE_W) for c in r.citations if c in passages]]:
                for s in content_stems(text):
                    prof[s] = max(prof.get(s, 0.0), w)
            for t, w in [*((t, LABEL_W) for t in label), *((t, ANSWER_W) for t in name[len(label):])]:
                if is_numeral(t):   # "Toy Story 3", "The Last Samurai", "8 million": words of a name
                    prof[t] = max(prof.get(t, 0.0), w)
            self.words.append(prof)

    def name_word(self, toks: list[str], i: int) -> str | None:
        """The word of a label or answer that the number or ordinal at ``i`` is part of, with a
        neighbouring word of the same name ("Toy Story 3", "the Last Samurai", "Apollo 1",
        "Elizabeth the second" for "Elizabeth II"); None when it stands alone ("option 3")."""
        t = toks[i]
        if not is_numeral(t):
            return None
        value = NUMBERS.get(t) or ORDINALS.get(t)
        forms = (t, ROMAN[value - 1]) if value and value <= len(ROMAN) else (t,)
        around = [w for w in (*toks[max(0, i - 2):i], *toks[i + 1:i + 3]) if w not in ("the", "a", "an")]
        for named in self.names:
            word = next((f for f in forms if f in named), None)
            if word is not None and any(w in named and w != word for w in around):
                return word
        return None

    def in_full(self, toks: list[str], among: Sequence[int]) -> list[int]:
        """The readings (of ``among``) every word of whose option the reply has: "Top Gun" names
        "Top Gun", not "Top Gun: Maverick"."""
        have = set(toks)
        return [k for k in among if self.labels[k] and set(self.labels[k]) <= have]

    def weights(self, s: str) -> list[float]:
        """What stem ``s`` says for each reading, beyond what it says for the least-matched one."""
        raw = []
        for prof in self.words:
            w = max((v for u, v in prof.items() if related(s, u)), default=0.0)
            if w < ANSWER_W and len(s) >= 5:  # a typo of a label or answer word ("hokey")
                w = max([w, *(v for u, v in prof.items() if v >= ANSWER_W and one_edit(s, u))])
            raw.append(0.0 if (s in self.question and w <= EVIDENCE_W) else w)
        low = min(raw)
        return [w - low for w in raw]


def option_text(r: Reading) -> str:
    """"Bobby Carpenter (ice hockey)" -> "Bobby Carpenter, ice hockey"; other labels as they are."""
    base, qual = split_title(r.label)
    return f"{base}, {qual}" if qual else base


def _position(toks: list[str], i: int, n: int) -> int | None:
    """The 1-based option the token at ``i`` names (0 for "last"-like), or None."""
    t = toks[i]
    prev = toks[i - 1] if i else ""
    m = re.fullmatch(r"(-?\d{1,6})(?:st|nd|rd|th)?", t)  # a longer number names no option (and int()
    if m and int(m.group(1)) <= max(10, n):              # of 4,300+ digits raises ValueError)
        return int(m.group(1))                           # 0 and negatives: out of range
    if t == "one":
        return 1 if (prev in ONE_INTRO or i == 0) else None
    if t in NUMBERS:
        return NUMBERS[t]
    if t in ORDINALS:
        nxt = toks[i + 1:i + 3]
        if t == "second" and (nxt[:1] == ["last"] or nxt[:2] == ["to", "last"]):
            return n - 1
        return ORDINALS[t]
    if t in LAST or t == "penultimate":
        return n - 1 if (t == "penultimate" or prev in {"second", "next"} and t == "last") else n
    if t == "middle" and n % 2 == 1:
        return (n + 1) // 2
    return None


def _numbers(toks: list[str], prof: _Profiles) -> tuple[dict[int, str], list[str]]:
    """Option numbers named in a clause (number -> the word naming it), and its other words
    (with numbers that are part of a name: "Toy Story 3")."""
    n = prof.n
    pos: dict[int, str] = {}
    rest: list[str] = []
    skip: set[int] = set()
    for i, t in enumerate(toks):
        if i in skip:
            continue
        name = prof.name_word(toks, i)
        if name is not None:
            rest.append(name)
            continue
        p = _position(toks, i, n)
        if p is not None:
            pos[p] = t
            if t == "second" and p == n - 1:  # "second last", "second to last"
                skip |= {i + 1, i + 2} if toks[i + 1:i + 2] == ["to"] else {i + 1}
            continue
        if is_content(t):
            rest.append(t)
    return pos, rest


def _digit_names(pos: dict[int, str], toks: list[str], prof: _Profiles) -> _Vote | None:
    """A lone number that is also in options' names ("3" among "Toy Story 4", "Toy Story 3", ...):
    out of range, the one option it names; in range, a conflict when it names another. Not
    after "option", "number" ...: "option 3" is a position."""
    (p, t), = pos.items()
    at = toks.index(t)
    named = [k for k, ws in enumerate(prof.labels) if t.isdigit() and t in ws]
    if not named or named == [p - 1] or (at and toks[at - 1] in ONE_INTRO):
        return None
    if not 1 <= p <= prof.n:
        if len(named) == 1:   # "7" with "Windows 7" and "Windows 10": no option 7, one name
            return _Vote((named[0],), "words", f"{t!r} fits ({named[0] + 1}) best")
        return None
    return _Vote(tuple(sorted({p - 1, *named})), "conflict", f"option {p}, but {t!r} is in the name of {_opts(named)}")


def _word_vote(words: list[str], prof: _Profiles) -> tuple[list[float], dict[int, list[str]]]:
    scores = [0.0] * prof.n
    why: dict[int, list[str]] = {}
    for w in dict.fromkeys(words):
        for i, s in enumerate(prof.weights(stem(w))):
            if s > 0:
                scores[i] += s
                why.setdefault(i, []).append(w)
    return scores, why


def _opts(idx: Sequence[int]) -> str:
    return " and ".join(f"({i + 1})" for i in idx)


def _clause_vote(toks: list[str], prof: _Profiles, encoder, texts, min_similarity: float,
                 margin: float) -> _Vote:
    """What one clause (the positive words, or the negated ones) points at."""
    n = prof.n
    said = [t for t in toks if t[0].isalnum() or t[0] == "-"]
    odd = next((t for i, t in enumerate(toks) if _FRACTION.fullmatch(t)
                and (said == [t] or (i and toks[i - 1] in ONE_INTRO))), None)
    if odd:   # "1.5", "option 1.5 please": one token, named whole (it was "there is no option 5")
        return _Vote((), "out_of_range", f"there is no option {odd}; the options are 1 to {n}")
    pos, rest = _numbers(toks, prof)
    scores, why = _word_vote(rest, prof)
    best = max(scores, default=0.0)
    top = tuple(i for i, s in enumerate(scores) if s == best and best > 0)
    if len(pos) == 1 and (clash := _digit_names(pos, toks, prof)) is not None:
        return clash
    full = prof.in_full(toks, top or range(n)) if len(top) != 1 and not pos else []
    if len(full) == 1:   # "Top Gun" among "Top Gun: Maverick" and "Top Gun": no word of its own
        return _Vote((full[0],), "words", f"the reply names ({full[0] + 1}) in full")
    if pos and top and all(w in SOFT_ORDINALS for w in pos.values()):
        pos = {}  # "the former NHL player", "the top golfer": words, not an ordinal
    if len(pos) > 1:
        bad = sorted(p for p in pos if not 1 <= p <= n)
        if bad:   # "1 or 3" with two options: the 1 alone was picked
            return _Vote((), "out_of_range", f"there is no option {bad[0]}; the options are 1 to {n}")
        idx = tuple(sorted(p - 1 for p in pos))
        if "and" in toks and "or" not in toks and set(rest) <= {"both", "all", "answers"}:   # "(both) 1 and 2"
            return _Vote(idx, "all", f"the reply asks for options {' and '.join(map(str, sorted(pos)))}")
        return _Vote(idx, "tie", f"the reply names options {', '.join(map(str, sorted(pos)))}")
    if pos:
        p = next(iter(pos))
        if not 1 <= p <= n:
            return _Vote((), "out_of_range", f"there is no option {p}; the options are 1 to {n}")
        if not top or (p - 1) in top:
            return _Vote((p - 1,), "number", f"option {p}")
        return _Vote(tuple(sorted({p - 1, *top})), "conflict",
                     f"option {p}, but {', '.join(why[top[0]])!r} points to {_opts(top)}")
    if len(top) == 1:
        return _Vote(top, "words", f"{', '.join(why[top[0]])!r} fits ({top[0] + 1}) best")
    if top:
        if all(why[i] == why[top[0]] for i in top):
            return _Vote(top, "tie", f"{', '.join(why[top[0]])!r} fits {_opts(top)} equally")
        return _Vote(top, "tie", "; ".join(f"{', '.join(why[i])!r} fits ({i + 1})" for i in top)
                     + ", equally")   # each tied reading with its own words, not the first's
    if rest and encoder is not None:
        return _embedding_vote(" ".join(rest), encoder, texts, min_similarity, margin)
    return _Vote((), "none", "no word of the reply matches an option")


def _embedding_vote(text: str, encoder, texts: Sequence[Sequence[str]], min_similarity: float,
                    margin: float) -> _Vote:
    flat = [t for ts in texts for t in ts]
    vecs = np.asarray(encoder.encode([text, *flat]))
    sims, k = [], 1
    for ts in texts:
        sims.append(float(np.max(vecs[k:k + len(ts)] @ vecs[0])))
        k += len(ts)
    order = np.argsort(sims)[::-1]
    best, second = sims[order[0]], (sims[order[1]] if len(sims) > 1 else -1.0)
    detail = f"meaning: similarity {best:.2f} vs {second:.2f}"
    if best >= min_similarity and best - second >= margin:
        return _Vote((int(order[0]),), "embedding", f"{detail} for ({order[0] + 1})")
    if best < min_similarity:   # the user reads this: no scores in it
        return _Vote((), "none", "no word of the reply names an option, and its meaning is close to none")
    return _Vote((), "none", f"no word of the reply names an option, and its meaning fits ({order[0] + 1}) "
                             f"and ({order[1] + 1}) about equally")


def _wants_all(toks: list[str]) -> bool:
    """"both", "either is fine", "doesn't matter"; not "not both" or "I don't want all of them"."""
    words = [t for t in toks if t[0].isalnum()]
    if not (words and set(words) <= ALL_OK and set(words) & ALL_CUES):
        return False
    for q, w in enumerate(words):
        if w in _QUANTIFIERS and q and (words[q - 1] in NEG_CUES
                                        or (words[q - 1] in _WANT and q > 1 and words[q - 2] in NEG_CUES)):
            return False
    return True


def match_reply(reply: str, readings: Sequence[Reading], encoder=None, *,
                passages: Mapping[str, str] | None = None, question: str = "",
                min_similarity: float = 0.35, margin: float = 0.08) -> ReplyMatch:
    """Match a reply to one of ``readings`` (see the module docstring).

    ``passages`` maps passage ids to text (title and text) for the readings' citations;
    ``question`` is the question asked (its words do not single out a reading by passage
    text); ``encoder`` (``encode(texts) -> normalised vectors``) enables the embedding fallback.
    """
    if not isinstance(reply, str):
        raise TypeError(f"reply must be a string, got {type(reply).__name__}")
    toks = tokens(reply)
    if not any(t[0].isalnum() or t[0] == "-" for t in toks):   # "-1" is a (bad) number, not nothing
        return ReplyMatch(None, "empty", "the reply is empty")
    if _wants_all(toks):
        return ReplyMatch(None, "all", "the reply asks for every reading", tuple(range(len(readings))))
    prof = _Profiles(readings, passages or {}, question)
    texts = [[f"{option_text(r)}: {r.answer}"] for r in readings]  # passage text measured no better
    pos_toks, neg_toks = split_negation(toks)
    vote = _clause_vote(pos_toks, prof, encoder, texts, min_similarity, margin)
    excluded, ndetail = (), ""
    if neg_toks:
        nvote = _clause_vote(neg_toks, prof, encoder, texts, min_similarity, margin)
        excluded = nvote.indices if nvote.how in ("number", "words", "tie", "embedding", "all") else ()   # "not 1 and 2"
        ndetail = nvote.detail
    out = _finish(vote, excluded, readings, ndetail)
    if out.index is None and out.how == "none" and NON_ANSWER.search(" ".join(toks)):
        return ReplyMatch(None, "non_answer", "the reply chooses no option")
    return out


def _finish(vote: _Vote, excluded: tuple[int, ...], readings: Sequence[Reading], ndetail: str = "") -> ReplyMatch:
    n = len(readings)
    note = f"; excludes {_opts(excluded)} ({ndetail})" if excluded else ""
    if vote.how == "all" and not set(vote.indices) & set(excluded):
        return ReplyMatch(None, "all", vote.detail, vote.indices)
    if vote.how in ("out_of_range", "conflict"):
        return ReplyMatch(None, vote.how, vote.detail, vote.indices)
    if len(vote.indices) == 1:
        i = vote.indices[0]
        if i in excluded:
            return ReplyMatch(None, "conflict", f"{vote.detail}, but the reply also rules it out", (i,))
        return ReplyMatch(i, vote.how, vote.detail + note, (i,))
    pool = [i for i in (vote.indices or range(n)) if i not in excluded]
    if excluded and len(pool) == 1:
        return ReplyMatch(pool[0], "negation", f"the only option left{note}", (pool[0],))
    if not pool:
        return ReplyMatch(None, "none", f"the reply rules out every option{note}")
    if vote.indices:
        return ReplyMatch(None, "tie", vote.detail + note, tuple(pool))
    return ReplyMatch(None, "none", (vote.detail + note) if not excluded else f"{_opts(pool)} remain{note}",
                      tuple(pool) if excluded else ())

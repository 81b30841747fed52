"""Candidate answer spans from a passage, matched to the question's expected answer type.

A small LLM chooses well among a handful of given options and badly when it writes freely, so
the reader never asks it to write an answer: this module proposes the options.

* :func:`answer_type` reads the question's wh-phrase: ``date``, ``number``, ``person``, ``place``
  or ``other``.
* :func:`candidate_spans` takes the passage sentences that share the most content words with the
  question (the focus) and returns spans of that type: dates and year ranges, numbers (with their
  unit word, "3,559 people"), capitalised names ("Ohio State", "Dallas Cowboys"), quoted titles
  and, for ``other`` questions, short lower-case noun phrases ("ice hockey"). Spans made only of
  question words are dropped (an answer repeats no part of its question).

>>> answer_type("When was the Dallas County Courthouse built?")
'date'
>>> [c.text for c in candidate_spans("When was it built?", "The courthouse was built in 1902 by J. Smith.")]
['1902']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexes.text import normalize_answer

MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
         r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?")
YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
DATE_RES = [
    re.compile(rf"\b{MONTH}\s+\d{{1,2}},?\s+{YEAR}\b"),          # September 24, 1936
    re.compile(rf"\b\d{{1,2}}\s+{MONTH}\s+{YEAR}\b"),            # 2 July 1829
    re.compile(rf"\b{MONTH}\s+{YEAR}\b"),                        # July 1829
    re.compile(rf"\b{YEAR}\s*(?:[-–—]|to)\s*(?:{YEAR}|[0-9]{{2}})\b"),  # 1884–1886, 1790 to 1794
    re.compile(rf"\b{YEAR}s?\b"),
]
YEAR_ONLY = re.compile(YEAR)
NUMBER_RE = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.,])\d+(?:\.\d+)?(?!\w|,\d)")
CAP_RE = re.compile(r"\b[A-Z][\w'’.&-]*(?:\s+(?:(?:of|the|de|da|di|del|von|van|der|du|la|le|and|for|in|on|y)\s+)*"
                    r"[A-Z0-9][\w'’.&-]*)*")
QUOTED_RE = re.compile(r"[\"“]([^\"”]{2,60})[\"”]")
VERB_LIKE = re.compile(r"[a-z][\w'-]*(?:ed|ing)")  # "played American" is no answer
WORD_RE = re.compile(r"[A-Za-z][\w'’-]*")
SENT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")

STOP = frozenset("""a an the of in on at to for from by with and or but is are was were be been being has
have had do does did this that these those it its he she they his her their him them who whom whose which
what when where why how as also after before during into about than then there here not no one two
first last new former born known became become later since such other most more many some all any
each per over under between while until s""".split())
TYPE_PATTERNS = [
    ("date", re.compile(r"^(when|what (date|day|month|decade|century)|how long ago)\b|"
                        r"\b(what|which) year\b|\b(born|founded|established|built|opened|released|"
                        r"die|died|start|began|serve)\b.*\?$")),
    ("number", re.compile(r"^(how (many|much|tall|long|far|old|big|large|high|deep)|what (is|was) the "
                          r"(population|number|amount|size|height|length|area|capacity|score)|"
                          r"(what|which) (percentage|percent|proportion))\b|population")),
    ("person", re.compile(r"^(who|whom|whose)\b|\b(which|what) (person|actor|actress|singer|player|artist|"
                          r"president|author|writer|director|character)\b")),
    ("place", re.compile(r"^where\b|\b(which|what|in which|in what) (city|country|state|town|county|place|"
                         r"location|region|province|continent|island)\b")),
]


@dataclass(frozen=True)
class Span:
    """A candidate answer: its text, character offset in the passage and type."""

    text: str
    start: int
    kind: str


def answer_type(question: str) -> str:
    """The expected answer type of a question (see module docstring)."""
    q = " ".join(question.lower().split())
    if q.startswith("who") and not re.search(r"\bwhen\b", q):   # "Who was born in Honolulu?" is a person
        return "person"
    head = _NOUN_HEAD.match(q)   # "Which company was founded by ...?": the noun types the answer, not "founded"
    for name, pattern in TYPE_PATTERNS:
        if pattern.search(q) and not (name == "date" and head and not pattern.match(q)):
            return name
    return "other"


_NOUN_HEAD = re.compile(r"^(?:in |on |at |for |from |by |with )?(which|what) (?!year|date|day|month|decade|century|"
                        r"time|is|was|are|were|did|does|do|has|had|happened)\w+")


def sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs; long sentence-less stretches are cut every 40 words."""
    out, pos = [], 0
    for part in SENT_RE.split(text):
        start = text.find(part, pos)
        words = list(re.finditer(r"\S+", part))
        for i in range(0, len(words), 40):
            chunk = words[i:i + 40]
            if chunk:
                out.append((start + chunk[0].start(), part[chunk[0].start():chunk[-1].end()]))
        pos = start + len(part)
    return out


POSSESSIVE = re.compile(r"(?<=\w)['’]s\b", re.IGNORECASE)


def content_words(text: str) -> set[str]:
    """The normalised words of ``text`` that are not stopwords; a possessive 's is dropped first
    (normalising "Carpenter's" gave "carpenters", which no passage about Carpenter contains).

    >>> sorted(content_words("What is Bobby Carpenter's sport?"))
    ['bobby', 'carpenter', 'sport']
    """
    return {w for w in normalize_answer(POSSESSIVE.sub("", text)).split() if w not in STOP}


def focus(question: str, text: str, n: int = 3) -> list[tuple[int, str]]:
    """The ``n`` sentences sharing the most content words with the question, in passage order
    (ties: earlier first)."""
    sents = sentences(text)
    if len(sents) <= n:
        return sents
    q = content_words(question)
    ranked = sorted(range(len(sents)), key=lambda i: (-len(q & content_words(sents[i][1])), i))
    return [sents[i] for i in sorted(ranked[:n])]


def _raw_spans(sentence: str, kind: str) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    if kind in ("date", "other"):
        taken: list[tuple[int, int]] = []
        for rx in DATE_RES:
            for m in rx.finditer(sentence):
                if not any(a <= m.start() < b for a, b in taken):
                    taken.append((m.start(), m.end()))
                    found.append((m.start(), m.group(0), "date"))
    if kind in ("number", "other"):
        for m in NUMBER_RE.finditer(sentence):
            if kind == "number" and YEAR_ONLY.fullmatch(m.group(0)):
                continue  # "As of 2010, ..." is not a count
            unit = WORD_RE.match(sentence, m.end() + 1) if sentence[m.end():m.end() + 1] == " " else None
            if unit and unit.group(0).lower() not in STOP:  # "3,559 people" before "3,559"
                found.append((m.start(), f"{m.group(0)} {unit.group(0)}", "number"))
            found.append((m.start(), m.group(0), "number"))
    if kind in ("person", "place", "other"):
        for m in CAP_RE.finditer(sentence):
            words = m.group(0).rstrip(".'’").split()
            if len(words) <= 6:
                found.append((m.start(), " ".join(words), "name"))
        for m in QUOTED_RE.finditer(sentence):
            found.append((m.start(1), m.group(1), "name"))
    if kind == "other":
        words = list(WORD_RE.finditer(sentence))
        for i in range(len(words)):
            for size in (1, 2):
                chunk = words[i:i + size]
                if len(chunk) == size and all(x.group(0).lower() not in STOP for x in chunk) \
                        and not VERB_LIKE.fullmatch(chunk[0].group(0)) \
                        and all(sentence[a.end():b.start()] == " " for a, b in zip(chunk, chunk[1:])):
                    found.append((chunk[0].start(), sentence[chunk[0].start():chunk[-1].end()], "phrase"))
    return found


def candidate_spans(question: str, text: str, *, n_sentences: int = 3, max_spans: int = 16) -> list[Span]:
    """Distinct candidate answers of the question's type from the focus sentences (module doc).

    Capitalised names and typed spans come before lower-case phrases; at most ``max_spans``."""
    kind = answer_type(question)
    q = content_words(question) | {w for w in normalize_answer(question).split()}
    seen: dict[str, Span] = {}
    for offset, sent in focus(question, text, n_sentences):
        for start, span, skind in _raw_spans(sent, kind):
            norm = normalize_answer(span)
            words = set(norm.split())
            if len(norm) < 2 and not norm.isdigit() or norm in seen or norm in STOP \
                    or len(words & q) * 2 >= len(words):
                continue  # an answer does not repeat the question
            seen[norm] = Span(span.strip(), offset + start, skind)
    order = {"date": 0, "number": 0, "name": 1, "phrase": 2} if kind != "other" else \
        {"name": 0, "phrase": 1, "date": 2, "number": 2}
    return sorted(seen.values(), key=lambda s: (order[s.kind], s.start))[:max_spans]

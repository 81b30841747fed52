"""Make a follow-up question searchable on its own: carry the subject of the question it follows.

A follow-up such as "No, I meant what position did he play" names nobody; searched as typed, it
finds nothing about the person the conversation is about. :func:`contextualize` rewrites it with
two documented rules (no model, so nothing to download and nothing to mistrust):

1. **Correction preamble.** "no, I meant", "I mean", "actually, I meant", "what I meant was", "I
   was asking" is dropped when what follows is a question (it starts with a question word or an
   auxiliary verb), so the search sees the question, not the preamble.
2. **Singular personal pronouns.** When the follow-up names no entity of its own (no capitalised
   word but "I" and a sentence's first word, unless a capitalised word follows it), the first
   "he", "she", "him", "her", "his" or "hers" becomes the previous question's subject: its
   longest run of capitalised words ("Bobby Carpenter"; "of", "the", "de", "van", "von" may join
   a run; a sentence's first word starts one only when a capitalised word follows it, so "During
   the war, who led France?" gives "France"), possessive for "his", "hers" and a "her" followed
   by a noun. Later pronouns stay (in "what did he give her"
   the second is someone else), and so do "it" and "they": "is it true?" and "they" (a team? the
   readings?) refer to too many things for a rule.

3. **Question mark.** A question these rules rewrote gets a question mark if it has no final
   punctuation (the span reader abstained on "when was Bobby Carpenter drafted" and answered
   "when was Bobby Carpenter drafted?"); a follow-up no rule changed is returned as typed.

Anything else is returned unchanged: a follow-up that names its own entity, a previous question
without a capitalised subject ("who played the weasley brothers"), or a follow-up without a
pronoun. The readings of the rewritten question are then found as for any question, so "he" for
an ambiguous name gets the same clarifying question the name would.

>>> contextualize("No, I meant what position did he play", "Which team drafted Bobby Carpenter?")
'what position did Bobby Carpenter play?'
>>> contextualize("where was his brother born?", "When did the Capitals draft Bobby Carpenter?")
"where was Bobby Carpenter's brother born?"
>>> contextualize("who coached her at Stanford?", "Which team drafted Bobby Carpenter?")
'who coached her at Stanford?'
>>> contextualize("thanks!", "Which team drafted Bobby Carpenter?")
'thanks!'
"""

from __future__ import annotations

import re

__all__ = ["QUESTION_WORDS", "contextualize", "is_question", "is_remark", "strip_preamble", "subject_of"]

_PREAMBLE = re.compile(r"^\s*(?:(?:no|nope|sorry|actually|well|oh|ok|okay)\b[\s,.!;:-]*)*"
                       r"(?:i\s+meant|i\s+mean|what\s+i\s+meant\s+was|i\s+was\s+asking)\b[\s,.:;-]*", re.I)
_WH = frozenset("who whom whose what when where which why how".split())
QUESTION_WORDS = _WH | frozenset(
    "is was are were did does do can could will would should has have had name list tell give".split())
"""Words that open a question: wh-words, auxiliaries and imperatives ("name", "tell")."""
_PREPOSITIONS = frozenset("in on at for from during by after before since until of to".split())
_JOINERS = frozenset("of the de van von da del la le &".split())
_TOKEN = re.compile(r"[^\W_][\w'’.&-]*|&")   # "AT&T" is one token; a spaced "&" is one too
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')
_PRONOUN = re.compile(r"\b(he|she|him|his|her|hers)\b", re.I)
# after "her": a word that ends the noun phrase, so "her" is an object, not a possessive
_NOT_A_NOUN = frozenset("to in on at for from with by and or about as than when after before".split())


def _ends_sentence(raw: str, gap: str) -> bool:
    """Whether a sentence ends between token ``raw`` and the next (``gap``: the text between):
    "!", "?", or a full stop after anything but a short capitalised abbreviation ("St.", "Jr.",
    "U.S.")."""
    if "!" in gap or "?" in gap or "." in gap:
        return True
    return raw.endswith(".") and (raw[0].islower() or sum(ch.isalpha() for ch in raw) > 3)


_ABBREVIATIONS = frozenset("st jr sr dr mr mrs ms mt ft co inc ltd bros gen col lt sgt capt prof rev hon".split())


def _is_abbreviation(raw: str) -> bool:
    """A capitalised token whose full stop is part of the name: an initial ("F."), a dotted
    abbreviation ("U.S."), or a title ("St.", "Jr."), unlike the stop that ends "Nebraska." or
    "IBM."."""
    if not raw.endswith(".") or not raw[0].isupper():
        return False
    stem = raw[:-1]
    return len(stem) == 1 or "." in stem or stem.lower() in _ABBREVIATIONS


def _tokens(text: str) -> list[tuple[str, bool, bool]]:
    """(token without a trailing possessive, nor a full stop unless it ends an abbreviation
    ("St. Louis" keeps its stop), whether it starts a sentence, whether it was possessive)."""
    out: list[tuple[str, bool, bool]] = []
    prev, end = None, 0
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        initial = prev is None or _ends_sentence(prev, text[end:m.start()])
        tok = raw if _is_abbreviation(raw) else raw.removesuffix(".")
        owner = re.search(r"(?:'s|’s)$", tok)
        out.append((tok[:owner.start()] if owner else tok, initial, bool(owner)))
        prev, end = raw, m.end()
    return out


def _capitals(tokens: list[tuple[str, bool, bool]]) -> list[bool]:
    """Which tokens are capitalised names: a sentence's first word only when the next word is
    capitalised too and it is no question word ("Bobby Carpenter was ...", not "During the war" or
    "Thanks. When ..."); any capitalised word after one (a run goes on: "St. Louis"). "I" is one
    only inside a name ("Charles I of England", "World War I"): never on its own, and it does not
    make the word before it one ("Thanks, I see")."""
    upper = [bool(t) and t[0].isupper() and t != "I" for t, _, _ in tokens]
    out: list[bool] = []
    for i, (tok, initial, _) in enumerate(tokens):
        if tok == "I":
            out.append(bool(out and out[-1]) and not initial)
            continue
        follows = i + 1 < len(tokens) and upper[i + 1] and not tokens[i + 1][1]
        out.append(upper[i] and (not initial or bool(out and out[-1])
                                 or (follows and tok.lower() not in QUESTION_WORDS)))
    return out


def subject_of(question: str) -> str | None:
    """The longest name in ``question`` (ties: the first): a run of capitalised words, without a
    leading question word, where "of", "the", "&" ... may join a run and a possessive ends one
    ("James Cameron's Titanic" gives "James Cameron"), or a double-quoted title that starts with
    a capital or a digit, counted in words and kept as quoted ('the album "Out of the Box"'; but
    'Did Taylor Swift write "Love Story"?' gives "Taylor Swift"); None when it has none.

    >>> subject_of("Who won New Hampshire in 2016?")
    'New Hampshire'
    >>> subject_of("What was Bobby Carpenter's first team?")
    'Bobby Carpenter'
    >>> subject_of('Who is the artist of the album "Out of the Box"?')
    'Out of the Box'
    >>> subject_of("Who played the weasley brothers?") is None
    True

    A question typed in capitals only has no name to tell apart ("WHO WON NEW HAMPSHIRE?"): None.
    """
    if _all_capitals(question):
        return None
    quoted = next(((m.start(), t) for m in _QUOTED.finditer(question)
                   for t in [(m.group(1) or m.group(2)).strip().rstrip(",.;:").strip()]
                   if t[:1].isupper() or t[:1].isdigit()), None)
    run = _longest_run(question)
    if quoted is not None and (run is None or len(quoted[1].split()) > len(run.split())
                               or (len(quoted[1].split()) == len(run.split()) and quoted[0] <= question.find(run))):
        return quoted[1]
    return run


def _longest_run(question: str) -> str | None:
    tokens = _tokens(question)
    best: list[str] = []
    run: list[str] = []
    for (tok, _, owner), capital in zip(tokens + [("", False, False)], _capitals(tokens) + [False]):
        if capital or (run and tok.lower() in _JOINERS):
            run.append(tok)
            if not owner:                            # a possessive closes the run it ends
                continue
        while run and run[-1].lower() in _JOINERS:
            run.pop()
        if len(run) > len(best):
            best = run
        run = []
    return " ".join(best) or None


def _all_capitals(text: str) -> bool:
    """Whether ``text`` has letters but no lower-case one (typed with caps lock): its capitals
    say nothing about names."""
    return any(ch.isalpha() for ch in text) and not any(ch.islower() for ch in text)


def _names_an_entity(text: str) -> bool:
    tokens = _tokens(text)
    return any(_capitals(tokens))


def is_remark(text: str, max_words: int = 8) -> bool:
    """Whether ``text`` can only be a comment on the answer ("thanks", "no, that's wrong"): no
    question mark, no clause that opens with a question word ("Thanks! When was he drafted"),
    no entity named ("wrong, Lancaster in Pennsylvania" is a correction), at most ``max_words``.

    >>> is_remark("great, thank you"), is_remark("Thanks! When was he drafted?"), is_remark("wrong, the one in Ohio")
    (True, False, False)
    """
    words = _TOKEN.findall(text)
    clauses = [c for c in re.split(r"[.!,;:]+|\band\b|\bbut\b", text) if c.strip()]
    return 0 < len(words) <= max_words and "?" not in text and not _names_an_entity(text) \
        and not any(is_question(c.strip()) for c in clauses)


def strip_preamble(text: str) -> str:
    """``text`` without a leading correction preamble ("no, I meant ...").

    >>> strip_preamble("No, I meant the hockey player")
    'the hockey player'
    """
    text = text.strip()
    m = _PREAMBLE.match(text)
    return text[m.end():] if m and m.end() < len(text) else text


def is_question(text: str) -> bool:
    """Whether ``text`` starts with a question word or an auxiliary verb ("when was he drafted",
    "in which year ..."), unlike a description of what was meant ("the hockey player", "in
    hockey")."""
    words = [t.lower() for t in _TOKEN.findall(text)[:2]]
    return bool(words) and (words[0] in QUESTION_WORDS or (words[0] in _PREPOSITIONS and len(words) > 1
                                                         and words[1] in _WH))


def contextualize(followup: str, previous_question: str) -> str:
    """``followup`` rewritten to stand on its own after ``previous_question`` (module rules); a
    question the rules rewrote ends with a question mark ("no, I meant when was he drafted" ->
    "when was Bobby Carpenter drafted?": the span reader, trained on questions that have one,
    read the bare form as no question and abstained)."""
    text, rest = followup.strip(), strip_preamble(followup)
    if is_question(rest):
        text = rest
    subject = subject_of(previous_question)
    # in capitals only ("WHEN DID HE DIE?") every word looks like a name: the pronoun decides
    if subject is None or (_names_an_entity(text) and not _all_capitals(text)) or not _PRONOUN.search(text):
        return _asked(text) if text != followup.strip() else followup

    def swap(m: re.Match) -> str:
        word = m.group(1).lower()
        after = _TOKEN.match(text, m.end() + 1) if text[m.end():m.end() + 1] == " " else None
        possessive = word in ("his", "hers") or (
            word == "her" and after is not None and after.group(0).lower() not in _NOT_A_NOUN)
        return subject + "'s" if possessive else subject

    return _asked(_PRONOUN.sub(swap, text, count=1))


def _asked(text: str) -> str:
    """``text`` with a question mark when it is a question ending without one."""
    return text + "?" if is_question(text) and not text.rstrip().endswith(("?", "!", ".")) else text

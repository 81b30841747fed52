"""The words of a reply to a clarifying question: tokens in any script, light stemming, content
words and near matches (:mod:`readers.replies` weighs them against the readings)."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from readers.spans import STOP

FILLERS = frozenset("""the a an one ones option options number num nr no choice item reading meaning entry
alternative i id i'd im i'm me my mean meant want wanted would like prefer go going with take choose pick
select say said guess think it is was that this those these them please pls plz thanks thank you ok okay
yes yeah yep yup sure oh um uh er hmm well so just actually definitely of let lets us about talking asking
for to am m be person guy man woman lady thing answer mentioned listed in on from list""".split())

# A number with thousands separators or decimals is one token ("25,000", "2.5 million": no options
# 25 and 0, or 2 and 5); "1,2" stays two options. "-1" is no option 1; words in any script.
_TOKEN = (r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)+|-?\d+(?:st|nd|rd|th)?"
          r"|[\p{L}\p{M}]+(?:'[\p{L}\p{M}]+)?|[,;.!?]")
_QUANTITY = re.compile(r"\d+(?:[.,]\d+)+")
_STEM_LOCK = threading.Lock()
NUMBERS = {w: i for i, w in enumerate("one two three four five six seven eight nine ten".split(), start=1)}
ORDINALS = {w: i for i, w in enumerate("first second third fourth fifth sixth seventh eighth ninth tenth".split(),
                                       start=1)} | {"former": 1, "top": 1}
ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")   # regnal numbers: "Elizabeth II"
_POSITION_WORDS = frozenset({*NUMBERS, *ORDINALS, *ROMAN[1:], "last", "latter", "final", "bottom", "middle"})


def is_numeral(w: str) -> bool:
    """A word that can name an option's position, or a number in a name: "3", "3rd", "third",
    "three", "last", "ii" (not "i": the pronoun)."""
    return w in _POSITION_WORDS or bool(re.fullmatch(r"\d+(?:st|nd|rd|th)?", w))


def tokens(text: str) -> list[str]:
    """Reply tokens: words, option numbers and clause punctuation.

    >>> tokens("No, I don't mean option #2 (the Devils' centre).")
    ['no', ',', 'i', 'do', 'not', 'mean', 'option', 'number', '2', 'the', 'devils', 'centre', '.']
    """
    t = unicodedata.normalize("NFC", text).lower().replace("\u2019", "'")
    t = re.sub(r"\bcan't\b", "can not", t)
    t = re.sub(r"\bwon't\b", "will not", t)
    t = re.sub(r"n't\b", " not", t)
    t = re.sub(r"'s\b|s'(?=\W|$)", lambda m: "" if m.group(0) == "'s" else "s", t)
    t = re.sub(r"\bno\.\s*(?=#?\d)", "number ", t)
    t = re.sub(r"#\s*(?=\d)", " number ", t)
    return _token_re().findall(t)


@lru_cache(maxsize=1)
def _token_re():
    import regex  # \p{L}, \p{M}: letters and marks of every script ([a-z] read "река" as an empty reply)

    return regex.compile(_TOKEN)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light stemming: British "-re" spellings as "-er", then Snowball English; numbers as they are.

    >>> [stem(w) for w in ("centre", "center", "footballer", "1932")]
    ['center', 'center', 'footbal', '1932']
    """
    w = word.strip("'")
    if not w[:1].isalpha():
        return w
    if len(w) >= 5 and w.endswith("re") and w[-3] not in "aeiou":
        w = w[:-2] + "er"
    with _STEM_LOCK:
        return _stemmer().stemWord(w)


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def is_content(w: str) -> bool:
    """A word that can tell readings apart: not a stopword or filler; numbers of 3+ digits (years)
    or with separators ("3,559", "2.5")."""
    if w[:1].isdigit():
        return (w.isdigit() and len(w) >= 3) or bool(_QUANTITY.fullmatch(w))
    return w[:1].isalpha() and len(w) > 1 and w not in STOP and w not in FILLERS


def content_stems(text: str) -> set[str]:
    """Stems of the content words of ``text``."""
    return {stem(w) for w in tokens(text) if is_content(w)}


def related(a: str, b: str) -> bool:
    """Same stem, or one a prefix of the other short of at most 3 letters ("golf"/"golfer")."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return (short.isalpha() and len(short) >= 4 and long_.startswith(short)
            and len(long_) - len(short) <= 3)


def one_edit(a: str, b: str) -> bool:
    """One insertion, deletion or substitution apart (both at least 5 letters)."""
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1 or a == b:
        return False
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return a[i + 1:] == b[i + 1:] if len(a) == len(b) else (a[i:] == b[i + 1:] if len(a) < len(b) else a[i + 1:] == b[i:])

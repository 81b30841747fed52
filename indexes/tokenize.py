"""The BM25 tokeniser: documented, configurable, and recorded in the index manifest.

Steps, in order:

1. lowercase (``lowercase=True``);
2. Unicode NFC normalisation, so a decomposed "café" (e + combining accent) is the composed one;
3. split on anything that is neither a Unicode word character nor a combining mark (regex
   ``[\\w\\p{M}]+``), so punctuation separates tokens and is dropped: ``"U.S.-born"`` ->
   ``["u", "s", "born"]``, while the vowel signs of Devanagari, Thai or Hebrew stay inside
   their word (``\\w+`` alone cut "हिन्दी" into ``["ह", "न", "द"]``);
4. drop English stopwords (``stopwords="en"``: NLTK's 179-word English list, shipped in
   ``indexes/stopwords_en.txt``);
5. stem with a Snowball stemmer (``stemmer="english"``, the default; any language
   ``snowballstemmer`` knows, or ``None`` for no stemming).

Defaults (stopwords dropped, English stemming) were chosen by retrieval quality on the AmbigQA
corpus: stemming raised BM25 MRecall@20 from 0.320 to 0.331 (bench/RESULTS.md).

>>> Tokenizer().tokenize("Who plays the Doctor in Dexter?")
['play', 'doctor', 'dexter']
>>> Tokenizer(stopwords=None, stemmer=None).tokenize("Who plays the Doctor?")
['who', 'plays', 'the', 'doctor']
>>> Tokenizer(stemmer=None).tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
True

Indexes built before steps 2 and 3 (their manifest records the pattern ``\\w+``) keep that
tokeniser, so their queries are split as their passages were.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

LEGACY_PATTERN = r"\w+"           # before NFC and combining marks; still read from old manifests
PATTERN = r"[\w\p{M}]+"
_ASCII_WORD = re.compile(r"\w+")   # the same split as both patterns on ASCII text, and the fastest


@lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """NLTK's English stopword list (179 words), shipped with the package."""
    text = resources.files("indexes").joinpath("stopwords_en.txt").read_text(encoding="utf-8")
    return frozenset(w for w in text.split() if w)


@dataclass(frozen=True)
class Tokenizer:
    """Lowercase, punctuation split, optional stopwords and stemming. See the module docstring."""

    lowercase: bool = True
    stopwords: str | None = "en"
    stemmer: str | None = "english"
    pattern: str = PATTERN
    _stop: frozenset[str] = field(init=False, repr=False, compare=False)
    _stem: Any = field(init=False, repr=False, compare=False)
    _cache: dict = field(init=False, repr=False, compare=False)
    _lock: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pattern not in (PATTERN, LEGACY_PATTERN):
            raise ValueError(f"tokeniser pattern {self.pattern!r} is not one this version reads "
                             f"({PATTERN!r}, or {LEGACY_PATTERN!r} of indexes built before it)")
        if self.stopwords not in (None, "en"):
            raise ValueError(f"stopwords must be None or 'en', got {self.stopwords!r}")
        object.__setattr__(self, "_stop", english_stopwords() if self.stopwords else frozenset())
        stem = None
        if self.stemmer:
            import snowballstemmer

            try:
                stem = snowballstemmer.stemmer(self.stemmer)
            except KeyError as e:
                raise ValueError(f"unknown stemmer language {self.stemmer!r}") from e
        object.__setattr__(self, "_stem", stem)
        object.__setattr__(self, "_cache", {})  # word -> stem; Snowball in pure Python is slow
        object.__setattr__(self, "_lock", threading.Lock())  # a Snowball stemmer is not thread-safe

    def tokenize(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        toks = _ASCII_WORD.findall(text) if text.isascii() or self.pattern == LEGACY_PATTERN else _unicode_words(text)
        if self._stop:
            toks = [t for t in toks if t not in self._stop]
        if self._stem is not None:
            cache = self._cache
            out = []
            for t in toks:
                s = cache.get(t)
                if s is None:
                    with self._lock:
                        if len(cache) > 1_000_000:  # bound memory on huge vocabularies
                            cache.clear()
                        s = cache[t] = self._stem.stemWord(t)
                out.append(s)
            toks = out
        return toks

    __call__ = tokenize

    def to_dict(self) -> dict[str, Any]:
        return {"lowercase": self.lowercase, "stopwords": self.stopwords,
                "stemmer": self.stemmer, "pattern": self.pattern}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        return cls(lowercase=d["lowercase"], stopwords=d["stopwords"], stemmer=d["stemmer"],
                   pattern=d.get("pattern", LEGACY_PATTERN))


def _unicode_words(text: str) -> list[str]:
    """Steps 2 and 3 of the module docstring on non-ASCII text."""
    import unicodedata

    return _word_re().findall(unicodedata.normalize("NFC", text))


@lru_cache(maxsize=1)
def _word_re():
    import regex  # \p{M}: the standard library's re has no Unicode categories

    return regex.compile(PATTERN)

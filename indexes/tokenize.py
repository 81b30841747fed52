"""The BM25 tokeniser: documented, configurable, and recorded in the index manifest.

Steps, in order:

1. lowercase (``lowercase=True``);
2. split on anything that is not a Unicode word character (regex ``\\w+``), so punctuation
   separates tokens and is dropped: ``"U.S.-born"`` -> ``["u", "s", "born"]``;
3. drop English stopwords (``stopwords="en"``: NLTK's 179-word English list, shipped in
   ``indexes/stopwords_en.txt``);
4. stem with a Snowball stemmer (``stemmer="english"``, the default; any language
   ``snowballstemmer`` knows, or ``None`` for no stemming).

Defaults (stopwords dropped, English stemming) were chosen by retrieval quality on the AmbigQA
corpus: stemming raised BM25 MRecall@20 from 0.320 to 0.331 (bench/RESULTS.md).

>>> Tokenizer().tokenize("Who plays the Doctor in Dexter?")
['play', 'doctor', 'dexter']
>>> Tokenizer(stopwords=None, stemmer=None).tokenize("Who plays the Doctor?")
['who', 'plays', 'the', 'doctor']
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

_WORD = re.compile(r"\w+")


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
    _stop: frozenset[str] = field(init=False, repr=False, compare=False)
    _stem: Any = field(init=False, repr=False, compare=False)
    _cache: dict = field(init=False, repr=False, compare=False)
    _lock: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
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
        toks = _WORD.findall(text)
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
                "stemmer": self.stemmer, "pattern": _WORD.pattern}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        if d.get("pattern", _WORD.pattern) != _WORD.pattern:
            raise ValueError(f"index was tokenised with pattern {d['pattern']!r}, this version uses {_WORD.pattern!r}")
        return cls(lowercase=d["lowercase"], stopwords=d["stopwords"], stemmer=d["stemmer"])

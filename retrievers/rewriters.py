"""Query rewriters (``QueryRewriter.rewrite(question) -> list[str]``), composable with
:class:`retrievers.multi.MultiQueryRetriever`.

:class:`EvidenceInterpretations` is the evidence-driven source of readings: a first retrieval
round, whose distinct passage titles (AmbigDocs-style same-name entities, "Bobby Carpenter
(ice hockey)") each become one interpretation, ``"{question} {title}"``, to retrieve for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable


class LRUCache:
    """A small thread-safe LRU of question -> rewrites, shared by the rewriters."""

    def __init__(self, size: int = 10_000):
        if size < 1:
            raise ValueError(f"cache size must be >= 1, got {size}")
        self._d: OrderedDict[str, list[str]] = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def get(self, key: str, make: Callable[[], list[str]]) -> list[str]:
        """The cached value of ``key``, computing it with ``make()`` (outside the lock) on a miss."""
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return list(self._d[key])
        value = make()
        with self._lock:
            self._d[key] = value
            if len(self._d) > self._size:
                self._d.popitem(last=False)
        return list(value)


class EvidenceInterpretations:
    """Interpretations from the titles of a first retrieval round (cached per question).

    >>> r = EvidenceInterpretations(hybrid, k=20, max_readings=4)   # doctest: +SKIP
    >>> r.rewrite("What sport is Bobby Carpenter associated with?")  # doctest: +SKIP
    ['What sport is Bobby Carpenter associated with?',
     'What sport is Bobby Carpenter associated with? Bobby Carpenter (American football)', ...]
    """

    def __init__(self, retriever, k: int = 20, max_readings: int = 4, cache_size: int = 10_000):
        if k < 1 or max_readings < 1:
            raise ValueError("k and max_readings must be >= 1")
        self.retriever, self.k, self.max_readings = retriever, k, max_readings
        self._cache = LRUCache(cache_size)

    def rewrite(self, question: str) -> list[str]:
        return self._cache.get(question, lambda: self._interpretations(question))

    def _interpretations(self, question: str) -> list[str]:
        hits = self.retriever.retrieve([question], self.k)[0]
        titles: list[str] = []
        for h in hits:
            t = h.passage.title.strip()
            if t and t.lower() not in {x.lower() for x in titles}:
                titles.append(t)
            if len(titles) == self.max_readings:
                break
        return [question] + [f"{question} {t}" for t in titles]

"""Query rewriters (``QueryRewriter.rewrite(question) -> list[str]``), composable with
:class:`retrievers.multi.MultiQueryRetriever`.

:class:`EvidenceInterpretations` is the evidence-driven source of readings: a first retrieval
round, whose distinct passage titles (AmbigDocs-style same-name entities, "Bobby Carpenter
(ice hockey)") each become one interpretation, ``"{question} {title}"``, to retrieve for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


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
        self._cache: OrderedDict[str, list[str]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def rewrite(self, question: str) -> list[str]:
        with self._lock:
            if question in self._cache:
                self._cache.move_to_end(question)
                return list(self._cache[question])
        hits = self.retriever.retrieve([question], self.k)[0]
        titles: list[str] = []
        for h in hits:
            t = h.passage.title.strip()
            if t and t.lower() not in {x.lower() for x in titles}:
                titles.append(t)
            if len(titles) == self.max_readings:
                break
        out = [question] + [f"{question} {t}" for t in titles]
        with self._lock:
            self._cache[question] = out
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return list(out)

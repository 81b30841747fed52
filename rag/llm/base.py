"""The LLM protocol (defined in :mod:`retrievers.llm`, re-exported here) and a persistent cache.

:class:`CachedLLM` keys every call by (model id, method, prompt, continuation, parameters) in a
small SQLite file, so re-running an evaluation costs nothing. It is safe to share between
threads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from retrievers.llm import LLM, check_batch

__all__ = ["LLM", "CachedLLM", "check_batch"]

log = logging.getLogger("ambigrag")


class CachedLLM:
    """Wrap any LLM with a persistent (model, prompt, params)-keyed cache.

    >>> llm = CachedLLM(LlamaCppLLM(), "~/.cache/ambigrag/llm.sqlite")   # doctest: +SKIP
    """

    def __init__(self, inner: LLM, path: str | Path):
        self.inner = inner
        self.id = inner.id
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value TEXT)")
        except (OSError, sqlite3.Error) as e:   # a read-only cache folder, a damaged file: answer uncached
            if self._db is not None:
                self._db.close()
                self._db = None
            log.warning("LLM cache %s cannot be used (%s); calling the model without a cache", self.path, e)

    @staticmethod
    def key(*parts) -> str:
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()

    def _cached(self, keys: list[str], compute):
        if self._db is None:
            self.misses += len(keys)
            return self._checked(list(compute(range(len(keys)))), len(keys))
        with self._lock:
            found = {k: json.loads(v) for k, v in self._db.execute(
                f"SELECT key, value FROM cache WHERE key IN ({','.join('?' * len(keys))})", keys)} if keys else {}
        todo = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        if todo:
            values = self._checked(list(compute(todo)), len(todo))
            with self._lock:
                try:
                    self._db.executemany("INSERT OR REPLACE INTO cache VALUES (?, ?)",
                                         [(keys[i], json.dumps(v)) for i, v in zip(todo, values)])
                    self._db.commit()
                except sqlite3.Error as e:   # a read-only file: the answers stand, uncached
                    self._db.rollback()
                    log.warning("LLM cache %s cannot be written (%s); these results are not cached", self.path, e)
            found.update({keys[i]: v for i, v in zip(todo, values)})
        return [found[k] for k in keys]

    def _checked(self, values: list, n: int) -> list:
        if len(values) != n or not all(isinstance(v, (str, float, int)) and not isinstance(v, bool) for v in values):
            raise TypeError(f"{self.id}: the model returned {len(values)} results for {n} inputs "
                            f"(or a result that is not a string / number); nothing was cached")
        return values

    def generate(self, prompts: Sequence[str], max_tokens: int = 64, stop: Sequence[str] | None = None) -> list[str]:
        prompts = check_batch(prompts, max_tokens, stop)
        keys = [self.key(self.id, "generate", p, max_tokens, list(stop or [])) for p in prompts]
        return self._cached(keys, lambda idx: self.inner.generate([prompts[i] for i in idx], max_tokens, stop))

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        prompts = check_batch(prompts)
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        keys = [self.key(self.id, "score", p, c) for p, c in zip(prompts, continuations)]
        return self._cached(keys, lambda idx: self.inner.score([prompts[i] for i in idx],
                                                               [continuations[i] for i in idx]))

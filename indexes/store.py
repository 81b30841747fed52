"""The passage store: ``passages.jsonl`` (one passage per line) plus ``passages_offsets.npy``.

A hit fetches its passage with one positioned read (``os.pread``: thread-safe, no seek), so
the corpus is never loaded whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexes.types import Passage

STORE_FILES = ("passages.jsonl", "passages_offsets.npy")


class StoreWriter:
    """Append passages to ``passages.jsonl`` in ``directory`` and record line offsets."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self._f = open(self.dir / "passages.jsonl", "wb")
        self._offsets = [0]

    def add(self, p: Passage) -> int:
        line = (json.dumps(p.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
        self._f.write(line)
        self._offsets.append(self._offsets[-1] + len(line))
        return len(self._offsets) - 2

    def close(self) -> int:
        self._f.close()
        np.save(self.dir / "passages_offsets.npy", np.asarray(self._offsets, dtype=np.int64))
        return len(self._offsets) - 1


class PassageStore:
    """Read-only random access to the passages of an index, by row.

    >>> store = PassageStore("/tmp/idx")            # doctest: +SKIP
    >>> store.get([0])[0].title                     # doctest: +SKIP
    "Tom Clancy's Rainbow Six Siege"
    """

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.offsets = np.load(self.dir / "passages_offsets.npy", mmap_mode="r", allow_pickle=False)
        self._fd = os.open(self.dir / "passages.jsonl", os.O_RDONLY)
        self._ids: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)
            self._fd = None

    def get(self, rows: Sequence[int]) -> list[Passage]:
        out = []
        for r in rows:
            r = int(r)
            if not 0 <= r < len(self):
                raise IndexError(f"passage row {r} out of range 0..{len(self) - 1}")
            lo, hi = int(self.offsets[r]), int(self.offsets[r + 1])
            d = json.loads(os.pread(self._fd, hi - lo, lo))
            out.append(Passage(id=d["id"], title=d["title"], text=d["text"], meta=d.get("meta", {})))
        return out

    def __iter__(self):
        with open(self.dir / "passages.jsonl", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                yield Passage(id=d["id"], title=d["title"], text=d["text"], meta=d.get("meta", {}))

    def row_of(self, passage_id: str) -> int:
        """Row of a passage id (builds an id map on first call)."""
        if self._ids is None:
            self._ids = {p.id: i for i, p in enumerate(self)}
        try:
            return self._ids[passage_id]
        except KeyError:
            raise KeyError(f"no passage with id {passage_id!r} in {self.dir}") from None

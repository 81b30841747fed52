"""The passage store: ``passages.jsonl`` (one passage per line) plus ``passages_offsets.npy``.

A hit fetches its passage with one positioned read (``os.pread``: thread-safe, no seek), so
the corpus is never loaded whole. Iteration reads through the same open file, so a store stays
readable after a rebuild deleted its directory. Offsets are checked when the store opens (first
0, last the file size) and on every read, so a bad offsets file cannot ask for huge reads.
"""

from __future__ import annotations

import json
import os
import threading
from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexes.checks import IndexLoadError, load_array
from indexes.types import Passage

STORE_FILES = ("passages.jsonl", "passages_offsets.npy")


class StoreWriter:
    """Append passages to ``passages.jsonl`` in ``directory`` and record line offsets."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self._f = open(self.dir / "passages.jsonl", "wb")
        self._offsets = array("q", [0])  # 8 bytes a passage (a list of ints took 36)

    def add(self, p: Passage) -> int:
        line = (json.dumps(p.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
        self._f.write(line)
        self._offsets.append(self._offsets[-1] + len(line))
        return len(self._offsets) - 2

    def close(self) -> int:
        self._f.close()
        np.save(self.dir / "passages_offsets.npy", np.frombuffer(self._offsets, dtype=np.int64))
        return len(self._offsets) - 1


def _passage(line: bytes) -> Passage:
    d = json.loads(line)
    return Passage(id=d["id"], title=d["title"], text=d["text"], meta=d.get("meta", {}))


class PassageStore:
    """Read-only random access to the passages of an index, by row. ``directory`` holds the
    files of one index version; a loaded index gives its store, whatever its layout.

    >>> store = indexes.load("/tmp/idx").store      # doctest: +SKIP
    >>> store.get([0])[0].title                     # doctest: +SKIP
    "Tom Clancy's Rainbow Six Siege"
    """

    def __init__(self, directory: str | Path, n_docs: int | None = None):
        self.dir = Path(directory)
        self._fd = os.open(self.dir / "passages.jsonl", os.O_RDONLY | os.O_NONBLOCK)
        self._size = os.fstat(self._fd).st_size
        opath = self.dir / "passages_offsets.npy"
        if n_docs is None:
            self.offsets = np.load(opath, mmap_mode="r", allow_pickle=False)
        else:
            self.offsets = load_array(opath, n_docs + 1)
        if len(self.offsets) < 1 or self.offsets[0] != 0 or self.offsets[-1] != self._size:
            raise IndexLoadError(f"{opath}: offsets must run from 0 to the size of passages.jsonl "
                                 f"({self._size} bytes)")
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
            if not 0 <= lo <= hi <= self._size:
                raise IndexLoadError(f"{self.dir}: passage row {r} has bad offsets {lo}..{hi}")
            out.append(_passage(os.pread(self._fd, hi - lo, lo)))
        return out

    def __iter__(self):
        n = len(self)
        for lo in range(0, n, 1024):  # one read per 1024 passages
            offs = [int(x) for x in self.offsets[lo:min(n, lo + 1024) + 1]]
            if not 0 <= offs[0] <= offs[-1] <= self._size:
                raise IndexLoadError(f"{self.dir}: passage rows {lo}.. have bad offsets")
            block = os.pread(self._fd, offs[-1] - offs[0], offs[0])
            for a, b in zip(offs, offs[1:]):
                yield _passage(block[a - offs[0]:b - offs[0]])

    def row_of(self, passage_id: str) -> int:
        """Row of a passage id (builds an id map on first call)."""
        if self._ids is None:
            self._ids = {p.id: i for i, p in enumerate(self)}
        try:
            return self._ids[passage_id]
        except KeyError:
            raise KeyError(f"no passage with id {passage_id!r} in {self.dir}") from None


class PassageLookup:
    """Passages of an index directory by id (None for an unknown id), for showing citations;
    thread-safe, the id map is built on the first call.

    >>> lookup = PassageLookup(index_dir)              # doctest: +SKIP
    >>> lookup("bc-hockey").title                      # doctest: +SKIP
    'Bobby Carpenter (ice hockey)'
    """

    def __init__(self, index_dir: str | Path):
        from indexes.layout import resolve

        self.store = PassageStore(resolve(index_dir))  # the current version of a versioned index
        self._lock = threading.Lock()

    def __call__(self, passage_id: str) -> Passage | None:
        with self._lock:
            try:
                row = self.store.row_of(passage_id)
            except KeyError:
                return None
        return self.store.get([row])[0]

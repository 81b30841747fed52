"""The user cache folder, and sha256 checksums remembered per file state ("stamps").

Hashing a corpus or an index on every load costs seconds on large files. A stamp records the
sha256 of a file together with its state (size, mtime_ns, ctime_ns, inode, device); while the
state is unchanged the stamp stands in for the hash. Any write changes ``ctime`` (which, unlike
``mtime``, cannot be set back by ``touch`` or ``os.utime``), and a replaced file has a new
inode, so a changed file is hashed again. As in git's "racy" rule, a stamp taken within
:data:`RACY_NS` of the file's last change is not trusted (timestamps have clock-tick
granularity), so the next check hashes once more and stamps again.

Stamps live in one JSON file, ``<cache>/verified.json``, written atomically (temp file +
``os.replace``). A missing, unreadable or corrupt stamp file only means hashing again.

>>> stamps = Stamps()                                        # doctest: +SKIP
>>> cached_sha256("corpus.jsonl", stamps)[:12]              # doctest: +SKIP
'c32c22084080'
>>> stamps.save()                                            # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("ambigrag")

RACY_NS = 100_000_000  # a stamp must be taken at least 0.1 s after the file's last change
STAMP_FILE = "verified.json"


def cache_dir() -> Path:
    """``$AMBIGRAG_CACHE``, else ``$XDG_CACHE_HOME/ambigrag``, else ``~/.cache/ambigrag``."""
    env = os.environ.get("AMBIGRAG_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ambigrag"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_state(st: os.stat_result) -> list[int]:
    """What a stamp compares: size, mtime_ns, ctime_ns, inode, device."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


class Stamps:
    """Verified checksums keyed by real path; ``known`` answers without reading the file.

    ``path`` defaults to ``<cache>/verified.json``."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else cache_dir() / STAMP_FILE
        self._entries = self._read()
        self._new: dict[str, dict] = {}

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, real: str, st: os.stat_result) -> str | None:
        """The sha256 that ``real`` was verified to have in exactly state ``st``, else None."""
        e = self._new.get(real) or self._entries.get(real)
        if not isinstance(e, dict) or e.get("state") != file_state(st):
            return None
        stamped, sha = e.get("stamped_ns"), e.get("sha256")
        trusted = isinstance(stamped, int) and stamped - max(st.st_mtime_ns, st.st_ctime_ns) >= RACY_NS
        return sha if trusted and isinstance(sha, str) else None

    def remember(self, real: str, st: os.stat_result, sha256: str) -> None:
        """Record that ``real``, in state ``st`` (taken before hashing), hashes to ``sha256``."""
        self._new[real] = {"sha256": sha256, "state": file_state(st), "stamped_ns": time.time_ns()}

    def save(self) -> None:
        """Merge new stamps into the stamp file (dropping files that no longer exist), atomically."""
        if not self._new:
            return
        merged = {k: v for k, v in self._read().items() if os.path.exists(k)}
        merged.update(self._new)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{time.time_ns()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(merged, indent=0), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as e:  # a read-only cache only costs hashing again next time
            log.debug("cannot write stamps to %s: %s", self.path, e)
            tmp.unlink(missing_ok=True)
            return
        self._entries, self._new = merged, {}


def cached_sha256(path: str | Path, stamps: Stamps) -> str:
    """sha256 of ``path``, hashed only when its state differs from the stamp (then stamped)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    sha = stamps.lookup(real, st)
    if sha is not None:
        return sha
    sha = sha256_file(real)
    stamps.remember(real, st, sha)
    return sha

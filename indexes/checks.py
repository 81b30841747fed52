"""What loading trusts: the manifest is input, and an index directory may come from someone else.

Before any index file is opened, :func:`read_manifest` and :func:`listed_file` refuse, with an
:class:`IndexLoadError` naming the entry:

* a manifest that is not a small regular JSON file, has no ``files`` map, or a bad checksum;
* a ``files`` entry that is absolute, contains ``..``, or resolves outside the directory
  (a symlink that leaves it included), or that is not a regular file (``/dev/zero``, a FIFO,
  a folder);
* a file the loader reads that the manifest does not list.

:func:`check_files` then compares every listed file with its sha256: ``"full"`` hashes all,
``"auto"`` skips files whose state matches a stamp from an earlier verification
(:class:`indexes.cache.Stamps`), ``"none"`` skips hashing (the checks above still run).

>>> manifest = read_manifest(Path("/tmp/idx/current"))                 # doctest: +SKIP
>>> [name for name, err in check_files(Path("/tmp/idx/current"), manifest, "full") if err]  # doctest: +SKIP
[]
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from indexes.cache import Stamps, sha256_file

FORMAT = "ambigrag-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20
VERIFY_MODES = ("auto", "full", "none")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class IndexLoadError(ValueError):
    """An index directory that cannot be used: missing, corrupt, unsafe, too new, or mismatched."""


def _version() -> str:
    from indexes._version import __version__

    return __version__


def safe_file(directory: Path, name: Any, what: str = "files entry") -> tuple[Path, os.stat_result]:
    """Real path and stat of regular file ``name`` inside ``directory``; IndexLoadError otherwise."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise IndexLoadError(f"{directory}: {what} {name!r} is not a file name")
    parts = PurePosixPath(name).parts
    if PurePosixPath(name).is_absolute() or os.path.isabs(name):
        raise IndexLoadError(f"{directory}: {what} {name!r} is an absolute path")
    if ".." in parts:
        raise IndexLoadError(f"{directory}: {what} {name!r} contains '..'")
    base = os.path.realpath(directory)
    real = os.path.realpath(os.path.join(base, name))
    if os.path.commonpath([base, real]) != base or real == base:
        link = " (a symlink)" if os.path.islink(os.path.join(base, name)) else ""
        raise IndexLoadError(f"{directory}: {what} {name!r}{link} resolves to {real}, outside the index directory")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise IndexLoadError(f"{directory}: file {name} listed in the manifest is missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise IndexLoadError(f"{directory}: {what} {name!r} is not a regular file")
    return Path(real), st


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The validated manifest of the files directory ``directory`` (flat index or one version)."""
    directory = Path(directory)
    if not os.path.lexists(directory):
        raise IndexLoadError(f"{directory} does not exist")
    if not os.path.lexists(directory / MANIFEST):
        raise IndexLoadError(f"{directory} is not an ambigrag index: no {MANIFEST}")
    mpath, st = safe_file(directory, MANIFEST, "manifest")
    if st.st_size > MAX_MANIFEST_BYTES:
        raise IndexLoadError(f"{mpath}: manifest is {st.st_size} bytes, more than {MAX_MANIFEST_BYTES}")
    try:
        manifest = json.loads(mpath.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:  # bad JSON or UTF-8, a 5,000-digit int, [[[[...
        raise IndexLoadError(f"{mpath} is corrupt: {type(e).__name__}: {str(e)[:200]}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise IndexLoadError(f"{mpath}: format is {found!r}, expected {FORMAT!r}")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise IndexLoadError(f"{mpath}: format_version must be a positive integer, got {version!r:.60}")
    if version > FORMAT_VERSION:
        raise IndexLoadError(f"{directory}: index format version {version} is newer than this ambigrag "
                             f"({_version()}) reads (up to {FORMAT_VERSION}); upgrade ambigrag")
    _check_fields(mpath, manifest)
    return manifest


def _check_fields(mpath: Path, m: dict[str, Any]) -> None:
    files = m.get("files")
    if not isinstance(files, dict) or not files:
        raise IndexLoadError(f"{mpath}: the manifest has no 'files' map of checksums; refusing to load unverified files")
    for name, digest in files.items():
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise IndexLoadError(f"{mpath}: files entry {name!r} has no sha256 checksum (got {digest!r})")
    kinds = m.get("kinds")
    if not isinstance(kinds, list) or not kinds or not all(k in ("bm25", "dense") for k in kinds):
        raise IndexLoadError(f"{mpath}: kinds must be a non-empty list of 'bm25'/'dense', got {kinds!r}")
    for kind in kinds:
        if not isinstance(m.get(kind), dict):
            raise IndexLoadError(f"{mpath}: kind {kind!r} has no {kind!r} section")
    n = m.get("n_docs")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise IndexLoadError(f"{mpath}: n_docs must be a count, got {n!r}")


def listed_file(directory: Path, manifest: dict[str, Any], name: str) -> Path:
    """Path of a file the loader is about to read, refused unless the manifest lists it."""
    if name not in manifest["files"]:
        raise IndexLoadError(f"{directory}: the loader reads {name} but the manifest does not list it")
    return safe_file(directory, name)[0]


def check_files(directory: Path, manifest: dict[str, Any], verify: str = "auto",
                stamps: Stamps | None = None) -> Iterator[tuple[str, str | None]]:
    """Yield ``(name, error or None)`` for every listed file: path checks, then the checksum.

    ``verify``: ``"full"`` hashes every file, ``"auto"`` trusts a matching stamp in ``stamps``,
    ``"none"`` only checks paths. Files that hash correctly are stamped (call ``stamps.save()``)."""
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be one of {VERIFY_MODES}, got {verify!r}")
    safe = []
    for name in manifest["files"]:
        try:
            safe.append((name, *safe_file(directory, name)))
        except IndexLoadError as e:
            yield name, str(e)
    for name, real, st in safe:
        digest = manifest["files"][name]
        if verify == "none" or (verify == "auto" and stamps is not None and stamps.lookup(str(real), st) == digest):
            yield name, None
            continue
        actual = sha256_file(real)
        if actual != digest:
            yield name, f"{directory}: {name} is corrupt: sha256 {actual[:12]}… != manifest {digest[:12]}…"
            continue
        if stamps is not None:
            stamps.remember(str(real), st, actual)
        yield name, None


def load_array(path: Path, length: int, kinds: str = "iu"):
    """Memory-map the 1-D ``.npy`` array at ``path`` (no pickle), refusing it unless it holds
    exactly ``length`` entries of a numpy dtype kind in ``kinds``: sizes are checked against
    the manifest before anything is allocated."""
    import numpy as np

    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise IndexLoadError(f"{path}: not a readable .npy array ({e})") from e
    if a.ndim != 1 or a.dtype.kind not in kinds or a.shape[0] != length:
        raise IndexLoadError(f"{path}: array of shape {a.shape} and dtype {a.dtype}; the manifest "
                             f"implies {length} entries of kind {kinds!r}")
    return a

"""Where an index directory keeps its files, and how a rebuild replaces them atomically.

Layout written by :func:`install`::

    DIR/current -> v-20261123T090000-1a2b3c      the pointer: a relative symlink
    DIR/manifest.json -> current/manifest.json   for tools that read the manifest directly
    DIR/v-20261123T090000-1a2b3c/                one complete build, never modified
    DIR/.lock                                    serialises concurrent builders (flock)

A build is written into a hidden temporary directory beside ``DIR``, moved into ``DIR`` as a
new version, and published by replacing the ``current`` symlink with ``os.replace`` (one atomic
rename). A loader reads the pointer once, so at every instant it sees the old complete index or
the new one; old versions are deleted after the switch, and a loader that was still reading one
retries on the new pointer (see :func:`indexes.index.load`). A flat directory (``manifest.json``
and the files side by side, as written before versions) still loads, and the next build turns
it into the versioned layout, atomically as well.

>>> resolve(Path("/tmp/idx"))                      # doctest: +SKIP
PosixPath('/tmp/idx/v-20261123T090000-1a2b3c')
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import stat
import time
import uuid
from pathlib import Path

from indexes.checks import MANIFEST, IndexLoadError

log = logging.getLogger("ambigrag")

POINTER = "current"
VERSION_PREFIX = "v-"
LOCK = ".lock"


def resolve(root: str | Path) -> Path:
    """The directory holding the manifest and files of index ``root``: the version ``current``
    points to, or ``root`` itself for a flat index. The pointer must name a real directory
    directly inside ``root`` (a symlink that leaves it is refused)."""
    root = Path(root)
    if root.is_file():
        if root.name == MANIFEST:   # the index is the folder that holds it
            raise IndexLoadError(f"{root} is an index's manifest; give its folder, {root.parent}")
        raise IndexLoadError(f"{root} is a file, not an index directory (build one with `ambigrag index build "
                             f"{root} --out DIR`)")
    ptr = root / POINTER
    try:
        st = os.lstat(ptr)
    except FileNotFoundError:
        return root
    if stat.S_ISDIR(st.st_mode):  # a copy made with symlinks followed (cp -r, shutil.copytree)
        return ptr
    if not stat.S_ISLNK(st.st_mode):
        raise IndexLoadError(f"{ptr} is neither a symlink to a version nor a directory")
    target = os.readlink(ptr)
    if "/" in target or os.sep in target or not target.startswith(VERSION_PREFIX):
        raise IndexLoadError(f"{ptr} points to {target!r}, not to a version directory inside {root}")
    vdir = root / target
    try:
        vst = os.lstat(vdir)
    except FileNotFoundError:
        raise IndexLoadError(f"{ptr} points to {target}, which does not exist") from None
    if not stat.S_ISDIR(vst.st_mode):
        raise IndexLoadError(f"{ptr} points to {target}, which is not a directory")
    return vdir


def is_index(root: Path) -> bool:
    """True for a directory holding an index in either layout: ``current`` is a link to a
    version (whatever state the version is in: a rebuild replaces a damaged one), or a
    ``manifest.json`` that says ``"format": "ambigrag-index"`` sits in ``root`` (flat) or in a
    ``current`` folder (a copy made with links followed). Another program's ``manifest.json``,
    ``current`` or ``v-*`` is not one: a build must never replace those."""
    ptr = root / POINTER
    try:
        if ptr.is_symlink():
            target = os.readlink(ptr)
            return target.startswith(VERSION_PREFIX) and "/" not in target
    except (OSError, ValueError):   # a name too long, no permission: a search query tested as a path
        return False
    return any(_says_ours(d / MANIFEST) for d in (root, ptr))


def _says_ours(mpath: Path) -> bool:
    """Whether ``mpath`` is a plain file of at most a few MB whose JSON names our format."""
    from indexes.checks import FORMAT, MAX_MANIFEST_BYTES

    try:
        if mpath.is_symlink() or not mpath.is_file() or mpath.stat().st_size > MAX_MANIFEST_BYTES:
            return False
        data = json.loads(mpath.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


STAGING = ".build.tmp-"   # a build staged inside a mount point (see :func:`staging_dir`)


def _ours(name: str) -> bool:
    """Names a build that died inside :func:`install` can leave before the pointer exists."""
    return name == LOCK or name.startswith((VERSION_PREFIX, f".{POINTER}.tmp-", f".{MANIFEST}.tmp-", STAGING))


def check_target(out: Path) -> None:
    """Refuse to build into a file, into a non-empty directory that is not an index, or into one
    version of an index (``IDX/current`` resolves to it; versions are never modified)."""
    if out.name.startswith(VERSION_PREFIX) and os.path.islink(out.parent / POINTER):
        raise FileExistsError(f"{out} is a version of the index {out.parent}, and versions are never modified; "
                              f"build into {out.parent} to publish a new version")
    if out.exists() and (not out.is_dir() or not (is_index(out) or all(_ours(p.name) for p in out.iterdir()))):
        raise FileExistsError(f"{out} exists and is not an ambigrag index; refusing to replace it")


def staging_dir(out: Path) -> Path:
    """Where a build is written before :func:`install` renames it into ``out``: beside ``out``,
    or inside it when ``out`` is a mount point (a rename across filesystems fails)."""
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if out.is_dir() and os.path.ismount(out):
        return out / f"{STAGING}{tag}"
    return out.parent / f".{out.name}.tmp-{tag}"


def install(tmp: Path, out: Path) -> Path:
    """Publish the finished build ``tmp`` as the current version of ``out``; return its directory."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        flat = _flat_files(out)
        name = f"{VERSION_PREFIX}{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        os.rename(tmp, out / name)
        copied = out / POINTER
        if copied.is_dir() and not copied.is_symlink():   # a copy made with links followed (cp -rL)
            aside = out / f".{POINTER}.copy-{uuid.uuid4().hex[:8]}"
            os.rename(copied, aside)                       # a link cannot replace a directory
            flat = [*flat, aside]
        _point(out, POINTER, name)
        if not os.path.islink(out / MANIFEST):
            _point(out, MANIFEST, f"{POINTER}/{MANIFEST}")
        _clean(out, name, flat)
    finally:
        os.close(fd)  # releases the lock
    return out / name


def _point(root: Path, link: str, target: str) -> None:
    tmp = root / f".{link}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.symlink(target, tmp)
    os.replace(tmp, root / link)


def _flat_files(root: Path) -> list[Path]:
    """Files of a flat (pre-version) index in ``root``: its manifest and the plain names it lists."""
    mpath = root / MANIFEST
    if os.path.islink(mpath) or not mpath.is_file():
        return []
    try:
        names = json.loads(mpath.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        names = {}
    plain = [root / n for n in names if isinstance(n, str) and n and "/" not in n and not n.startswith(".")]
    return [p for p in plain if p.is_file() and not p.is_symlink()]


def _clean(root: Path, keep: str, flat: list[Path]) -> None:
    """Delete superseded versions, a migrated flat index's files and crashed builders' links."""
    for p in flat:
        if p.is_dir() and not p.is_symlink():   # a copied index's real ``current`` directory
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    for d in root.iterdir():
        if d.name.startswith(VERSION_PREFIX) and d.name != keep and d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
        elif d.name.startswith((f".{POINTER}.tmp-", f".{MANIFEST}.tmp-")) and d.is_symlink():
            d.unlink(missing_ok=True)  # a builder died between symlink and replace (we hold the lock)


def _remove_orphan_versions(out: Path) -> None:
    """Version dirs that no pointer names (a build killed between publishing its version and
    pointing ``current`` at it); only while no other builder holds the lock."""
    if not (out / POINTER).is_symlink():
        return
    fd = os.open(out / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another build is publishing right now
        current = os.readlink(out / POINTER)
        for d in out.iterdir():
            if d.name.startswith(VERSION_PREFIX) and d.name != current and d.is_dir() and not d.is_symlink():
                shutil.rmtree(d, ignore_errors=True)
    finally:
        os.close(fd)


def remove_stale(out: Path) -> None:
    """Remove temp and ``.old-`` dirs beside ``out`` left by builds that died (their pid is gone),
    and version dirs inside it that no pointer names."""
    if out.is_dir() and not out.is_symlink():
        _remove_orphan_versions(out)
    inside = list(out.glob(f"{STAGING}*")) if out.is_dir() and not out.is_symlink() else []
    for d in [*out.parent.glob(f".{out.name}.tmp-*"), *out.parent.glob(f".{out.name}.old-*"), *inside]:
        try:
            pid = int(d.name.rsplit(".tmp-" if ".tmp-" in d.name else ".old-", 1)[1].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError):
            continue

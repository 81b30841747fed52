"""Where the shared data, the default corpus and the user cache live (the bottom floor, so that
every package can find them; :mod:`rag.defaults` re-exports them beside the default index).

* Shared data: ``$AMBIGRAG_DATA``, else ``shared/data`` beside the repository checkout (found by
  walking up from this file and from the working directory).
* Default corpus: ``$AMBIGRAG_CORPUS`` if set, else ``<shared data>/ambigqa_passages/corpus.jsonl``.
* Cache: ``$AMBIGRAG_CACHE``, else ``$XDG_CACHE_HOME/ambigrag``, else ``~/.cache/ambigrag``.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CORPUS_REL = Path("shared/data/ambigqa_passages/corpus.jsonl")
DATA_REL = Path("shared/data")


def _candidates() -> list[Path]:
    here = Path(__file__).resolve()
    return [*here.parents, *Path.cwd().resolve().parents, Path.cwd().resolve()]


def shared_data_dir() -> Path:
    """``$AMBIGRAG_DATA`` or the ``shared/data`` folder beside the repo checkout."""
    env = os.environ.get("AMBIGRAG_DATA")
    if env:
        return Path(env)
    for base in _candidates():
        for cand in (base / DATA_REL, base.parent / DATA_REL):
            if cand.is_dir():
                return cand
    raise FileNotFoundError("cannot find shared/data beside the repository; set AMBIGRAG_DATA")


def default_corpus() -> Path:
    env = os.environ.get("AMBIGRAG_CORPUS")
    if env:
        p = Path(env)
        if not p.exists():
            raise FileNotFoundError(f"AMBIGRAG_CORPUS={env} does not exist")
        return p
    try:
        return shared_data_dir() / "ambigqa_passages" / "corpus.jsonl"
    except FileNotFoundError:
        raise FileNotFoundError("default corpus not found (../shared/data/ambigqa_passages/"
                                "corpus.jsonl); pass --corpus or set AMBIGRAG_CORPUS") from None


def cache_dir() -> Path:
    """``$AMBIGRAG_CACHE``, else ``$XDG_CACHE_HOME/ambigrag``, else ``~/.cache/ambigrag``."""
    from indexes.cache import cache_dir as _cache_dir

    return _cache_dir()


def corpus_digest(path: Path, stamps=None) -> str:
    """sha256 of a corpus file (or of a dataset folder's file names and contents), 16 hex digits.

    Each file is hashed only when its state (size, mtime, ctime, inode) differs from the stamp
    in ``stamps`` (default: the user cache's); pass ``stamps=False`` to always hash."""
    from indexes.cache import Stamps, cached_sha256, sha256_file

    own = stamps is None
    if own:
        stamps = Stamps()
    digest = (lambda f: sha256_file(f)) if stamps is False else (lambda f: cached_sha256(f, stamps))
    if not path.is_dir():
        out = digest(path)[:16]
    else:
        h = hashlib.sha256()
        for f in sorted(path.rglob("*")):
            if f.is_file():
                h.update(f.name.encode())
                h.update(digest(f).encode())
        out = h.hexdigest()[:16]
    if own:
        stamps.save()
    return out


def check_outputs(outputs: dict[str, str | Path | None], inputs: dict[str, str | Path | None] | None = None,
                  dirs: dict[str, str | Path | None] | None = None) -> None:
    """Refuse, before any work, output files that would overwrite an input or each other, or that
    cannot be written: an existing directory, or a file on the way to its folder. ``outputs``
    and ``inputs`` map what names a path ("--json", "--json's markdown") to it (None: unused);
    an input that is a directory (an index, a models folder) protects every file inside it, and
    so does the shared data folder, always. ``dirs``: output directories (an existing file there
    is refused; files inside may be listed in ``outputs``).

    >>> check_outputs({"--json": "gold.json"}, {"--gold": "gold.json"})
    Traceback (most recent call last):
    ...
    ValueError: --json gold.json is the --gold file: writing it would destroy the input
    """
    ins = {Path(p).resolve(): name for name, p in (inputs or {}).items() if p is not None}
    try:
        ins.setdefault(shared_data_dir().resolve(), "shared data")
    except FileNotFoundError:
        pass
    seen: dict[Path, str] = {}
    for name, p in (dirs or {}).items():
        if p is not None and Path(p).exists() and not Path(p).is_dir():
            raise ValueError(f"{name} {p}: exists and is not a directory")
        inside = _input_folder(Path(p).resolve(), ins) if p is not None else None
        if inside is not None:
            raise ValueError(f"{name} {p} is inside the {ins[inside]} folder {inside}: writing there would "
                             "damage the input")
    for name, p in outputs.items():
        if p is None:
            continue
        r = Path(p).resolve()
        if r in ins:
            raise ValueError(f"{name} {p} is the {ins[r]} file: writing it would destroy the input")
        inside = _input_folder(r, ins)   # (r itself, an input, was refused above)
        if inside is not None:
            raise ValueError(f"{name} {p} is inside the {ins[inside]} folder {inside}: writing it would damage "
                             "the input")
        if r in seen:
            raise ValueError(f"{name} {p} is also {seen[r]}: one would overwrite the other")
        if r.is_dir():
            raise ValueError(f"{name} {p}: is a directory")
        blocking = next((a for a in r.parents if a.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise ValueError(f"{name} {p}: {blocking} is a file, not a folder")
        seen[r] = name


def _input_folder(path: Path, inputs: dict[Path, str]) -> Path | None:
    """The input directory that is ``path`` (resolved) or holds it, nearest first; None if none."""
    return next((d for d in (path, *path.parents) if d in inputs and d.is_dir()), None)


def write_atomic(path: str | Path, data: str | bytes | Callable[[BinaryIO], object]) -> Path:
    """Write the file ``path`` whole or not at all: ``data`` (text as UTF-8, bytes, or a function
    that writes to the open binary file) goes to a temporary file beside it, which then replaces
    ``path`` (``os.replace``; a replaced file keeps its permissions). A failure (a full disk, an
    exception in ``data``) leaves the old file as it was and no temporary file; the folder is
    created when missing. A symbolic link is followed (its target is replaced, the link stays);
    an existing device or pipe (``/dev/stdout``, ``/dev/null``, a FIFO) is written directly.

    >>> import tempfile
    >>> p = write_atomic(Path(tempfile.mkdtemp()) / "new" / "report.json", '{"em": 0.5}')
    >>> p.read_text()
    '{"em": 0.5}'
    """
    import stat

    p = Path(path)
    st = p.stat() if p.exists() else None   # (through links: /dev/stdout -> /proc/self/fd/1 -> a pipe)
    if st is not None and not stat.S_ISREG(st.st_mode):   # nothing to replace: write into it
        with open(p, "wb") as f:
            _write(f, data)
        return p
    real = Path(os.path.realpath(p))
    real.parent.mkdir(parents=True, exist_ok=True)
    tmp = real.with_name(f".{real.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # the umask applies, as to open()
    except OSError as e:   # name the file asked for, not the temporary one
        raise type(e)(e.errno, e.strerror, str(p)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            _write(f, data)
            f.flush()
            os.fsync(f.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, real)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def _write(f: BinaryIO, data: str | bytes | Callable[[BinaryIO], object]) -> None:
    if callable(data):
        data(f)
    else:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)


PLOT_FORMATS = ("png", "pdf", "svg", "svgz", "jpg", "jpeg", "tif", "tiff", "webp", "eps", "ps")
"""Image formats matplotlib's default (Agg) backend writes, chosen by a plot path's suffix."""


def plot_format(path: str | Path) -> str:
    """The image format of a plot path, from its suffix; a ``ValueError`` naming the path for
    one matplotlib cannot write (check it before the work that makes the plot).

    >>> plot_format("curve.PNG")
    'png'
    >>> plot_format("curve.xyz")
    Traceback (most recent call last):
    ...
    ValueError: curve.xyz: a plot is written as .png, .pdf, .svg, .svgz, .jpg, .jpeg, .tif, .tiff, .webp, .eps or .ps, not '.xyz'
    """
    fmt = Path(path).suffix[1:].lower()
    if fmt not in PLOT_FORMATS:
        names = ", ".join(f".{f}" for f in PLOT_FORMATS[:-1]) + f" or .{PLOT_FORMATS[-1]}"
        raise ValueError(f"{path}: a plot is written as {names}, not {Path(path).suffix or 'no suffix'!r}")
    return fmt


def write_figure(fig, path: str | Path) -> Path:
    """Save the matplotlib figure ``fig`` to ``path`` at 120 dpi, in its suffix's format
    (:func:`plot_format`), whole or not at all (:func:`write_atomic`)."""
    return write_atomic(path, lambda f: fig.savefig(f, dpi=120, format=plot_format(path)))


def manifest_field(directory: str | Path, key: str):
    """``directory``'s ``manifest.json`` field ``key``; None when there is no readable JSON object
    there, or no such field (what kind of folder a save is about to replace)."""
    import json

    try:
        m = json.loads((Path(directory) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m.get(key) if isinstance(m, dict) else None


def replace_dir(directory: str | Path, fill: Callable[[Path], object], *, kind: str, what: str) -> Path:
    """Write a small model folder whole or not at all: ``fill(stage)`` writes its files into a
    new folder beside ``directory``, which then takes its place (the old one, if any, is moved
    aside and removed). An interrupted save never pairs new weights with an old manifest. A
    symbolic link is followed (its target folder is replaced); the parent is created. Only a new
    or empty folder, or one whose manifest ``kind`` is ``kind`` (``what``: its name in the error),
    is replaced, so a save pointed at an index or a reader cannot destroy it.

    >>> import tempfile
    >>> d = replace_dir(Path(tempfile.mkdtemp()) / "m", lambda s: (s / "manifest.json").write_text("{}"),
    ...                 kind="demo", what="demo model")
    >>> sorted(p.name for p in d.iterdir())
    ['manifest.json']
    """
    import shutil

    given = Path(directory)
    if given.exists() and not given.is_dir():
        raise ValueError(f"{given}: not a directory")
    if given.is_dir() and any(given.iterdir()) and manifest_field(given, "kind") != kind:
        found = ", ".join(sorted(p.name for p in given.iterdir())[:5])
        raise ValueError(f"{given}: holds other files ({found}) and no {what}; choose a new directory")
    d = Path(os.path.realpath(directory))      # "." has no name; a link's target is what is replaced
    d.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    stage, old = d.with_name(f".{d.name}.{tag}.tmp"), d.with_name(f".{d.name}.{tag}.old")
    stage.mkdir()
    try:
        fill(stage)
        if d.exists():
            os.rename(d, old)
        os.rename(stage, d)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return Path(directory)

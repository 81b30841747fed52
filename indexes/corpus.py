"""Stream a corpus of passages from JSONL, TSV (DPR ``psgs_w100`` layout) or a local HF dataset.

Every reader is a generator, so memory does not grow with the corpus text; only the ids seen
are remembered, to refuse duplicates, in an exact :class:`indexes.idset.IdSet` of about 24-32
bytes an id (a fingerprint and where the id can be read back: its line's byte offset, or its HF
row; a candidate duplicate is confirmed by reading that record again, so the corpus must not
change while it is read). Bad input raises :class:`CorpusError` (a ValueError), naming
the file, the line (1-based; the row number for an HF dataset) and the field; no other error
type escapes for bad *content* (only OS errors such as a permission denied). With
``skip_bad=True`` bad records are skipped and counted in :class:`IngestStats` instead. An empty
corpus, a binary file (NUL bytes in its first 8 KiB), a directory given as a JSONL/TSV file and
anything that is not a regular file are always errors.

Records are bounded: a line (or HF row) over ``max_record_bytes`` (default
:data:`DEFAULT_MAX_RECORD_BYTES`, 1 MiB) is a bad record ("oversized record"). Lines are read
with a bounded ``readline``, so an oversized line is never held in memory whole.

>>> from indexes.corpus import read_corpus
>>> stats = IngestStats()
>>> passages = list(read_corpus("corpus.jsonl", stats=stats))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexes.idset import IdSet
from indexes.types import Passage

FORMATS = ("jsonl", "tsv", "hf")
DEFAULT_MAX_RECORD_BYTES = 1 << 20
_BINARY_PROBE = 8192
BOM = "\ufeff"   # a UTF-8 byte-order mark, decoded
_max_record_bytes: ContextVar[int] = ContextVar("max_record_bytes", default=DEFAULT_MAX_RECORD_BYTES)


@contextlib.contextmanager
def record_limit(max_record_bytes: int) -> Iterator[None]:
    """Within the block, :func:`read_corpus` calls without ``max_record_bytes`` use this limit
    (how ``ambigrag index build --max-record-bytes`` reaches the reader through ``build``).

    >>> with record_limit(10_000_000):
    ...     pass
    """
    if max_record_bytes < 1:
        raise ValueError(f"max_record_bytes must be positive, got {max_record_bytes}")
    token = _max_record_bytes.set(max_record_bytes)
    try:
        yield
    finally:
        _max_record_bytes.reset(token)


class CorpusError(ValueError):
    """A corpus record that cannot be read. ``path``, ``line`` and ``field`` say where."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, problem: str):
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        where = str(path) + (f", line {line}" if line is not None else "")
        what = f" field {field!r}:" if field else ""
        super().__init__(f"{where}:{what} {problem}")


@dataclass
class IngestStats:
    """Counts of what a read kept and skipped (by reason)."""

    read: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        if not self.skipped:
            return f"{self.read} passages read"
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.skipped.items()))
        return f"{self.read} passages read, {self.n_skipped} skipped ({reasons})"


def detect_format(path: str | Path) -> str:
    """Guess the format from the path: a directory or .parquet/.arrow/.csv is ``hf``."""
    p = Path(path)
    if p.is_dir() or p.suffix in {".parquet", ".arrow", ".csv"}:
        return "hf"
    if p.suffix == ".tsv":
        return "tsv"
    if p.suffix in {".jsonl", ".json", ".ndjson"}:
        return "jsonl"
    raise CorpusError(path, None, None, "unknown corpus format; pass fmt='jsonl', 'tsv' or 'hf'")


def read_corpus(
    path: str | Path,
    fmt: str | None = None,
    *,
    skip_bad: bool = False,
    stats: IngestStats | None = None,
    max_record_bytes: int | None = None,
) -> Iterator[Passage]:
    """Yield the passages of ``path``; see the module docstring for the error contract.

    Raises :class:`CorpusError` naming the file, line and field of the first bad record (unless
    ``skip_bad``), or the file itself when it cannot be a corpus at all.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(path, None, None, "no such file or directory")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise CorpusError(path, None, None, f"unknown format {fmt!r}; expected one of {FORMATS}")
    limit = max_record_bytes or _max_record_bytes.get()
    if fmt != "hf":
        _check_text_file(path)
    stats = stats if stats is not None else IngestStats()
    with contextlib.ExitStack() as stack:
        records, recall = {"jsonl": _jsonl_source, "tsv": _tsv_source, "hf": _hf_source}[fmt](path, limit, stack)
        seen = IdSet(recall)
        for line, where, rec in records:
            try:
                if isinstance(rec, CorpusError):
                    raise rec
                passage = _to_passage(path, line, rec)
                if not seen.add(passage.id, where):
                    raise CorpusError(path, line, "id", f"duplicate id {passage.id!r}")
            except CorpusError as err:
                if not skip_bad:
                    raise
                stats.skipped[_reason(err)] += 1
                continue
            stats.read += 1
            yield passage
    if stats.read == 0:
        raise CorpusError(path, None, None, "empty corpus: no valid passage found")


def _reason(err: CorpusError) -> str:
    if err.field == "id" and "duplicate" in err.problem:
        return "duplicate id"
    if err.field:
        return f"bad {err.field}"
    if err.problem.startswith("record too large"):
        return "oversized record"
    for reason in ("non-UTF-8", "invalid JSON"):
        if err.problem.startswith(reason):
            return reason
    return "malformed record"


def _to_passage(path: Path, line: int, rec: dict[str, Any]) -> Passage:
    if not isinstance(rec, dict):
        raise CorpusError(path, line, None, f"expected a JSON object, got {type(rec).__name__}")
    pid = rec.get("id")
    if pid is None or (isinstance(pid, str) and not pid.strip()):
        raise CorpusError(path, line, "id", "missing or empty")
    if not isinstance(pid, (str, int)) or isinstance(pid, bool):
        raise CorpusError(path, line, "id", f"must be a string or integer, got {type(pid).__name__}")
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        problem = "missing" if text is None else ("empty" if isinstance(text, str) else
                                                   f"must be a string, got {type(text).__name__}")
        raise CorpusError(path, line, "text", problem)
    title = rec.get("title") or ""
    if not isinstance(title, str):
        raise CorpusError(path, line, "title", f"must be a string, got {type(title).__name__}")
    meta = {k: v for k, v in rec.items() if k not in ("id", "title", "text")}
    for name, value in (("id", pid), ("title", title), ("text", text), ("meta", meta)):
        _check_encodable(path, line, name, value)
    return Passage(id=str(pid), title=title, text=text, meta=meta)


def _check_encodable(path: Path, line: int, name: str, value: Any) -> None:
    """Refuse lone surrogates (JSON ``"\\ud800"``): they cannot be written back as UTF-8."""
    try:
        if isinstance(value, str):
            value.encode("utf-8")
        elif isinstance(value, dict) and value:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise CorpusError(path, line, name, f"unpaired surrogate U+{ord(e.object[e.start]):04X}") from None
    except ValueError as e:  # e.g. an integer too long to write back
        raise CorpusError(path, line, name, f"cannot be written back: {e}") from None


def _check_text_file(path: Path) -> None:
    if path.is_dir():
        raise CorpusError(path, None, None, "is a directory; a JSONL or TSV corpus must be a file "
                          "(pass --format hf for a saved Hugging Face dataset)")
    if not path.is_file():
        raise CorpusError(path, None, None, "not a regular file")
    with open(path, "rb") as f:
        head = f.read(_BINARY_PROBE)
    if b"\x00" in head:
        raise CorpusError(path, None, None, f"binary file (NUL byte at offset {head.index(0)}); "
                          "expected UTF-8 text")


def _bounded_lines(f, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(byte offset, line) for the lines of binary file ``f``, newline included; ``None`` for a
    line whose content is over ``limit`` bytes, read past in 64 KiB pieces and never held whole."""
    offset = 0
    while raw := f.readline(limit + 2):   # content, then \r\n at most
        if len(raw) - (2 if raw.endswith(b"\r\n") else raw.endswith(b"\n")) > limit:  # CRLF counted 1 over
            while raw[-1:] != b"\n" and (rest := f.readline(1 << 16)) and rest[-1:] != b"\n":
                pass
            yield offset, None
            offset = f.tell()
        else:
            yield offset, raw
            offset += len(raw)


def _decoded_lines(path: Path, limit: int) -> Iterator[tuple[int, int, str | CorpusError]]:
    with open(path, "rb") as f:
        for n, (offset, raw) in enumerate(_bounded_lines(f, limit), start=1):
            if raw is None:
                yield n, offset, CorpusError(path, n, None, f"record too large: over {limit} bytes "
                                             "(raise the limit with --max-record-bytes)")
                continue
            try:
                yield n, offset, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                yield n, offset, CorpusError(path, n, None,
                                             f"non-UTF-8 byte 0x{raw[e.start]:02x} at column {e.start + 1}")


def _parsed_lines(path: Path, limit: int, parse) -> Iterator[tuple[int, int, Any]]:
    """(line, byte offset, ``parse(n, line)``) for each non-blank decoded line; ``parse``
    returns a record, a CorpusError, or None to skip the line. Decoding errors pass through; a
    UTF-8 byte-order mark (Windows editors write one) is dropped from the first line."""
    for n, offset, line in _decoded_lines(path, limit):
        if isinstance(line, CorpusError):
            yield n, offset, line
            continue
        line = line.removeprefix(BOM) if offset == 0 else line
        if line.strip():
            rec = parse(n, line)
            if rec is not None:
                yield n, offset, rec


def _line_source(path: Path, limit: int, parse, stack: contextlib.ExitStack):
    """The records of a line-based corpus and a ``recall(offset)`` that reads back the id of
    the (valid) record at a byte offset, through a second handle opened on first use."""
    handle: list = []

    def recall(offset: int) -> str:
        if not handle:
            handle.append(stack.enter_context(open(path, "rb")))
        handle[0].seek(offset)
        line = handle[0].readline(limit + 2).decode("utf-8").rstrip("\r\n")
        return _to_passage(path, 0, parse(0, line.removeprefix(BOM) if offset == 0 else line)).id

    return _parsed_lines(path, limit, parse), recall


def _jsonl_source(path: Path, limit: int, stack: contextlib.ExitStack):
    def parse(n: int, line: str):
        try:
            return json.loads(line)
        except json.JSONDecodeError as e:
            return CorpusError(path, n, None, f"invalid JSON: {e.msg} at column {e.colno}")
        except RecursionError:
            return CorpusError(path, n, None, "invalid JSON: nested too deeply")
        except ValueError as e:  # e.g. an integer literal over Python's 4300-digit limit
            return CorpusError(path, n, None, f"invalid JSON: {e}")

    return _line_source(path, limit, parse, stack)


def _tsv_source(path: Path, limit: int, stack: contextlib.ExitStack):
    """DPR layout: ``id<TAB>text<TAB>title``, optional header, CSV-style double-quoted text."""
    csv.field_size_limit(max(csv.field_size_limit(), limit))  # the default 128 KiB < a record

    def parse(n: int, line: str):
        try:
            cols = next(csv.reader([line], delimiter="\t"))
        except csv.Error as e:
            return CorpusError(path, n, None, f"malformed TSV: {e}")
        if n == 1 and [c.strip().lower() for c in cols[:3]] == ["id", "text", "title"]:
            return None
        if len(cols) != 3:
            return CorpusError(path, n, None, f"expected 3 tab-separated columns (id, text, title), got {len(cols)}")
        return {"id": cols[0], "text": cols[1], "title": cols[2]}

    return _line_source(path, limit, parse, stack)  # recall passes n=0: never taken for the header


def _load_hf(path: Path):
    import datasets  # heavy: imported only here

    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "state.json").exists()
                          or (path / "dataset_dict.json").exists()):
        return datasets.load_from_disk(str(path))
    kind = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv"}.get(path.suffix)
    if kind == "csv":   # every column as written: type guessing read ids 007 and 7 as one, and "NA" as empty
        return datasets.load_dataset("csv", data_files=str(path), keep_default_na=False,
                                     features=datasets.Features({c: datasets.Value("string") for c in _csv_header(path)}))
    return datasets.load_dataset(kind, data_files=str(path)) if kind else datasets.load_dataset(str(path))


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's first line (a byte-order mark dropped)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def _hf_source(path: Path, limit: int, stack: contextlib.ExitStack):
    """A dataset saved with ``save_to_disk``, or local data files loaded with ``load_dataset``:
    its records and a ``recall(row)`` that reads back the id of a (0-based) row."""
    import datasets

    try:
        ds = _load_hf(path)
    except Exception as e:  # datasets raises many types (arrow, file-not-found, config errors)
        raise CorpusError(path, None, None, f"cannot read as a Hugging Face dataset: "
                          f"{type(e).__name__}: {str(e)[:200]}") from e
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds and len(ds) != 1:
            raise CorpusError(path, None, None, f"dataset has splits {list(ds)}; save one split")
        ds = ds["train"] if "train" in ds else next(iter(ds.values()))
    return _hf_rows(ds, path, limit), lambda row: _to_passage(path, row + 1, dict(ds[row])).id


def _hf_rows(ds, path: Path, limit: int) -> Iterator[tuple[int, int, Any]]:
    for n, row in enumerate(ds, start=1):
        size = sum(len(v) if isinstance(v, bytes) else len(v.encode("utf-8", "surrogatepass"))
                   for v in row.values() if isinstance(v, (str, bytes)))
        if size > limit:
            yield n, n - 1, CorpusError(path, n, None, f"record too large: over {limit} bytes "
                                        "(raise the limit with --max-record-bytes)")
        else:
            yield n, n - 1, dict(row)

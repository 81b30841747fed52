"""Stream a corpus of passages from JSONL, TSV (DPR ``psgs_w100`` layout) or a local HF dataset.

Every reader is a generator, so memory does not grow with the corpus (only the set of seen
ids is kept, to refuse duplicates). Bad input raises :class:`CorpusError`, naming the file,
the line (1-based; the row number for an HF dataset) and the field. With ``skip_bad=True`` bad
records are skipped and counted in :class:`IngestStats` instead. An empty corpus is always an
error.

>>> from indexes.corpus import read_corpus
>>> stats = IngestStats()
>>> passages = list(read_corpus("corpus.jsonl", stats=stats))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexes.types import Passage

FORMATS = ("jsonl", "tsv", "hf")


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
) -> Iterator[Passage]:
    """Yield the passages of ``path``; see the module docstring for the error contract."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(path, None, None, "no such file or directory")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise CorpusError(path, None, None, f"unknown format {fmt!r}; expected one of {FORMATS}")
    records = {"jsonl": _jsonl_records, "tsv": _tsv_records, "hf": _hf_records}[fmt](path)
    stats = stats if stats is not None else IngestStats()
    seen: set[str] = set()
    for line, rec in records:
        try:
            if isinstance(rec, CorpusError):
                raise rec
            passage = _to_passage(path, line, rec)
            if passage.id in seen:
                raise CorpusError(path, line, "id", f"duplicate id {passage.id!r}")
        except CorpusError as err:
            if not skip_bad:
                raise
            stats.skipped[_reason(err)] += 1
            continue
        seen.add(passage.id)
        stats.read += 1
        yield passage
    if stats.read == 0:
        raise CorpusError(path, None, None, "empty corpus: no valid passage found")


def _reason(err: CorpusError) -> str:
    if err.field == "id" and "duplicate" in err.problem:
        return "duplicate id"
    if err.field:
        return f"bad {err.field}"
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
    return Passage(id=str(pid), title=title, text=text, meta=meta)


def _decoded_lines(path: Path) -> Iterator[tuple[int, str | CorpusError]]:
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                yield n, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                yield n, CorpusError(path, n, None, f"non-UTF-8 byte 0x{raw[e.start]:02x} at column {e.start + 1}")


def _parsed_lines(path: Path, parse) -> Iterator[tuple[int, Any]]:
    """``parse(n, line)`` for each non-blank decoded line; it returns a record, a CorpusError,
    or None to skip the line. Decoding errors pass through as CorpusErrors."""
    for n, line in _decoded_lines(path):
        if isinstance(line, CorpusError):
            yield n, line
        elif line.strip():
            rec = parse(n, line)
            if rec is not None:
                yield n, rec


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    def parse(n: int, line: str):
        try:
            return json.loads(line)
        except json.JSONDecodeError as e:
            return CorpusError(path, n, None, f"invalid JSON: {e.msg} at column {e.colno}")

    return _parsed_lines(path, parse)


def _tsv_records(path: Path) -> Iterator[tuple[int, Any]]:
    """DPR layout: ``id<TAB>text<TAB>title``, optional header, CSV-style double-quoted text."""

    def parse(n: int, line: str):
        cols = next(csv.reader([line], delimiter="\t"))
        if n == 1 and [c.strip().lower() for c in cols[:3]] == ["id", "text", "title"]:
            return None
        if len(cols) != 3:
            return CorpusError(path, n, None, f"expected 3 tab-separated columns (id, text, title), got {len(cols)}")
        return {"id": cols[0], "text": cols[1], "title": cols[2]}

    return _parsed_lines(path, parse)


def _hf_records(path: Path) -> Iterable[tuple[int, Any]]:
    """A dataset saved with ``save_to_disk``, or local data files loaded with ``load_dataset``."""
    import datasets  # heavy: imported only here

    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "state.json").exists()
                          or (path / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(path))
    else:
        kind = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv"}.get(path.suffix)
        ds = (datasets.load_dataset(kind, data_files=str(path)) if kind
              else datasets.load_dataset(str(path)))
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds and len(ds) != 1:
            raise CorpusError(path, None, None, f"dataset has splits {list(ds)}; save one split")
        ds = ds["train"] if "train" in ds else next(iter(ds.values()))
    for n, row in enumerate(ds, start=1):
        yield n, dict(row)

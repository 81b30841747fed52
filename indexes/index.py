"""Build, save and load an index directory: ``manifest.json`` plus the files it lists.

Layout of a directory built by :func:`build`::

    manifest.json          format/package version, kinds, encoder, tokeniser, BM25 params,
                           document count, and the sha256 of every other file
    passages.jsonl         the passage store (one JSON object per line)
    passages_offsets.npy   byte offsets of each line
    bm25_*.npy, bm25_vocab.json   the BM25 sparse matrix (CSR) and vocabulary
    dense.faiss            the FAISS index (FAISS's own binary format)

No file is pickled and loading runs no code from the directory. Writes are atomic: the index
is built into a hidden temporary directory beside the target and renamed into place at the
end, so an interrupted build leaves the previous index (or none), never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexes.bm25 import BM25Builder, BM25Index, BM25Params
from indexes.corpus import IngestStats, read_corpus
from indexes.dense import DEFAULT_ENCODER, DenseIndex, DenseParams, SentenceEncoder, passage_text
from indexes.store import PassageStore, StoreWriter
from indexes.tokenize import Tokenizer

log = logging.getLogger("ambigrag")

FORMAT = "ambigrag-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class IndexLoadError(ValueError):
    """An index directory that cannot be used: missing, corrupt, too new, or mismatched."""


@dataclass
class Index:
    """A loaded index: the passage store plus whichever of BM25 and dense it holds."""

    path: Path
    manifest: dict[str, Any]
    store: PassageStore
    bm25: BM25Index | None = None
    dense: DenseIndex | None = None

    @property
    def kinds(self) -> list[str]:
        return list(self.manifest["kinds"])

    def __len__(self) -> int:
        return len(self.store)

    def encoder(self, device: str | None = None, batch_size: int = 64) -> SentenceEncoder:
        """A query encoder matching the one the dense index was built with."""
        if self.dense is None:
            raise IndexLoadError(f"index {self.path} has no dense part (kinds: {self.kinds})")
        return SentenceEncoder(self.manifest["dense"]["encoder"], device=device, batch_size=batch_size)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _version() -> str:
    from indexes._version import __version__

    return __version__


def build(
    corpus: str | Path,
    out: str | Path,
    *,
    fmt: str | None = None,
    bm25: bool = True,
    dense: bool = True,
    encoder: SentenceEncoder | str | None = None,
    device: str | None = None,
    tokenizer: Tokenizer | None = None,
    bm25_params: BM25Params | None = None,
    dense_params: DenseParams | None = None,
    skip_bad: bool = False,
    progress: bool = True,
) -> Path:
    """Build an index over ``corpus`` into directory ``out``, atomically; return ``out``.

    >>> build("corpus.jsonl", "/tmp/idx", dense=False)   # doctest: +SKIP
    PosixPath('/tmp/idx')
    """
    if not (bm25 or dense):
        raise ValueError("nothing to build: enable bm25, dense, or both")
    out = Path(out).resolve()
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        manifest = _build_into(tmp, corpus, fmt, bm25, dense, encoder, device, tokenizer,
                               bm25_params, dense_params, skip_bad, progress)
        manifest["files"] = {f.name: sha256_file(f) for f in sorted(tmp.iterdir())}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        _swap_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _build_into(tmp, corpus, fmt, bm25, dense, encoder, device, tokenizer, bm25_params,
                dense_params, skip_bad, progress) -> dict[str, Any]:
    from tqdm.auto import tqdm

    t0 = time.time()
    stats = IngestStats()
    writer = StoreWriter(tmp)
    builder = BM25Builder(tokenizer, bm25_params) if bm25 else None
    passages = read_corpus(corpus, fmt, skip_bad=skip_bad, stats=stats)
    for p in tqdm(passages, desc="reading corpus" + (" + BM25" if bm25 else ""), unit=" passages",
                  disable=not progress, mininterval=0.5):
        writer.add(p)
        if builder is not None:
            builder.add(f"{p.title} {p.text}")
    n = writer.close()
    if stats.n_skipped:
        log.warning("%s: %s", corpus, stats.summary())
    manifest: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": _version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kinds": [k for k, on in (("bm25", bm25), ("dense", dense)) if on], "n_docs": n,
        "corpus": {"source": str(Path(corpus).resolve()), "read": stats.read,
                   "skipped": dict(stats.skipped)},
    }
    if builder is not None:
        index = builder.build()
        manifest["bm25"] = index.save(tmp)
        manifest["bm25"]["text_fields"] = "title + ' ' + text"
        del index, builder
    if dense:
        manifest["dense"] = _build_dense(tmp, n, encoder, device, dense_params, progress)
    manifest["build_seconds"] = round(time.time() - t0, 1)
    return manifest


def _build_dense(tmp: Path, n: int, encoder, device, params: DenseParams | None, progress: bool) -> dict:
    from tqdm.auto import tqdm

    from indexes.dense import build_faiss

    enc = SentenceEncoder(encoder or DEFAULT_ENCODER, device=device) if encoder is None or \
        isinstance(encoder, str) else encoder  # any object with id, dim and encode() will do
    params = params or DenseParams()
    dim = enc.dim
    vecs = np.lib.format.open_memmap(tmp / "vectors.tmp.npy", mode="w+", dtype=np.float32, shape=(n, dim))
    store = PassageStore(tmp)
    chunk = max(getattr(enc, "batch_size", 64) * 4, 256)
    with tqdm(total=n, desc=f"encoding ({getattr(enc, 'device', '?')})", unit=" passages", disable=not progress) as bar:
        for lo in range(0, n, chunk):
            texts = [passage_text(p) for p in store.get(range(lo, min(n, lo + chunk)))]
            vecs[lo:lo + len(texts)] = enc.encode(texts)
            bar.update(len(texts))
    vecs.flush()
    log.info("building FAISS index over %d vectors", n)
    index, record = build_faiss(vecs, params)
    DenseIndex(index, record, device="cpu").save(tmp)
    del vecs
    (tmp / "vectors.tmp.npy").unlink()
    record.update(encoder=enc.id, dim=dim, metric="inner_product",
                  normalized=bool(getattr(enc, "normalize", True)),
                  passage_template="{title}. {text}", params=asdict(params))
    return record


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).exists())):
        raise FileExistsError(f"{out} exists and is not an ambigrag index; refusing to replace it")


def _remove_stale_temps(out: Path) -> None:
    """Remove temp dirs left by builds that were killed (their pid is gone)."""
    for d in out.parent.glob(f".{out.name}.tmp-*"):
        try:
            pid = int(d.name.rsplit(".tmp-", 1)[1].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def _swap_into_place(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    mpath = path / MANIFEST
    if not mpath.exists():
        raise IndexLoadError(f"{path} is not an ambigrag index: no {MANIFEST}")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IndexLoadError(f"{mpath} is corrupt: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexLoadError(f"{mpath}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IndexLoadError(f"{path}: index format version {version} is newer than this ambigrag "
                             f"({_version()}) reads (up to {FORMAT_VERSION}); upgrade ambigrag")
    return manifest


def _verify_files(path: Path, manifest: dict[str, Any]) -> None:
    for name, digest in manifest.get("files", {}).items():
        f = path / name
        if not f.exists():
            raise IndexLoadError(f"{path}: file {name} listed in the manifest is missing")
        actual = sha256_file(f)
        if actual != digest:
            raise IndexLoadError(f"{path}: {name} is corrupt: sha256 {actual[:12]}… != manifest {digest[:12]}…")


def _check_encoder(manifest: dict[str, Any], encoder: SentenceEncoder | str | None) -> None:
    if encoder is None:
        return
    rec = manifest.get("dense")
    if rec is None:
        raise IndexLoadError("an encoder was given but the index has no dense part")
    enc_id = encoder if isinstance(encoder, str) else encoder.id
    if enc_id != rec["encoder"]:
        raise IndexLoadError(f"encoder mismatch: index was built with {rec['encoder']!r} "
                             f"(dim {rec['dim']}), got {enc_id!r}")
    if not isinstance(encoder, str) and encoder.dim != rec["dim"]:
        raise IndexLoadError(f"dimension mismatch: index has dim {rec['dim']}, encoder {enc_id!r} gives {encoder.dim}")


def load(path: str | Path, *, encoder: SentenceEncoder | str | None = None, verify: bool = True,
         device: str | None = None) -> Index:
    """Load any index directory, checking the manifest, the checksums and the encoder.

    >>> idx = load("/tmp/idx")          # doctest: +SKIP
    >>> idx.kinds                       # doctest: +SKIP
    ['bm25', 'dense']
    """
    path = Path(path)
    manifest = read_manifest(path)
    if verify:
        _verify_files(path, manifest)
    _check_encoder(manifest, encoder)
    store = PassageStore(path)
    if len(store) != manifest["n_docs"]:
        raise IndexLoadError(f"{path}: store holds {len(store)} passages, manifest says {manifest['n_docs']}")
    bm25 = BM25Index.load(path, manifest["bm25"], len(store)) if "bm25" in manifest["kinds"] else None
    dense = DenseIndex.load(path, manifest["dense"], device) if "dense" in manifest["kinds"] else None
    if dense is not None and dense.dim != manifest["dense"]["dim"]:
        raise IndexLoadError(f"{path}: FAISS index has dim {dense.dim}, manifest says {manifest['dense']['dim']}")
    return Index(path, manifest, store, bm25, dense)

"""Build, save and load an index directory: ``manifest.json`` plus the files it lists.

Files of one build::

    manifest.json          format/package version, kinds, encoder, tokeniser, BM25 params,
                           document count, and the sha256 of every other file
    passages.jsonl         the passage store (one JSON object per line)
    passages_offsets.npy   byte offsets of each line
    bm25_*.npy, bm25_vocab.json   the BM25 sparse matrix (CSR) and vocabulary
    dense.faiss            the FAISS index (FAISS's own binary format)

No file is pickled and loading runs no code from the directory. A build is written into a
hidden temporary directory and published as a new version of the index directory by an atomic
pointer switch (:mod:`indexes.layout`): an interrupted build leaves the previous index (or
none), and a concurrent loader sees the old complete index or the new one, never a torn one.
Loading treats the manifest as untrusted input (:mod:`indexes.checks`) and verifies checksums
once per file state (:mod:`indexes.cache`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexes.bm25 import BM25Builder, BM25Index, BM25Params
from indexes.cache import Stamps, sha256_file
from indexes.checks import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    VERIFY_MODES,
    IndexLoadError,
    _version,
    check_files,
    listed_file,
    read_manifest,
)
from indexes.corpus import IngestStats, read_corpus
from indexes.dense import (
    DEFAULT_ENCODER,
    DENSE_FILE,
    DenseIndex,
    DenseParams,
    SentenceEncoder,
    canonical_model_id,
    check_faiss_file,
    describe_encoder,
    encoder_identity,
    encoder_mismatch,
    passage_text,
    pick_device,
    recorded_identity,
)
from indexes.layout import check_target, install, remove_stale, resolve, staging_dir
from indexes.store import STORE_FILES, PassageStore, StoreWriter
from indexes.tokenize import Tokenizer

log = logging.getLogger("ambigrag")

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "Index", "IndexLoadError", "build", "load",
           "read_manifest", "sha256_file", "verify_index"]
_LOAD_ATTEMPTS = 5
VECTORS_TMP = "vectors.tmp.npy"  # the encoded vectors while a build runs; deleted before publishing


@dataclass
class Index:
    """A loaded index: the passage store plus whichever of BM25 and dense it holds."""

    path: Path
    manifest: dict[str, Any]
    store: PassageStore
    bm25: BM25Index | None = None
    dense: DenseIndex | None = None
    files_dir: Path | None = None  # where the files were read: ``path`` or its current version

    @property
    def kinds(self) -> list[str]:
        return list(self.manifest["kinds"])

    def __len__(self) -> int:
        return len(self.store)

    def encoder(self, device: str | None = None, batch_size: int = 64, backend: str | None = None,
                threads: int | None = None):
        """A query encoder matching the one the dense index was built with (model and backend).

        ``backend`` (``torch`` or ``onnx-int8``) defaults to the index's; another is refused."""
        from indexes.onnx_encoder import make_encoder

        if self.dense is None:
            raise IndexLoadError(f"index {self.path} has no dense part (kinds: {self.kinds})")
        built = recorded_identity(self.manifest["dense"])
        if backend not in (None, built["encoder_backend"]):
            raise IndexLoadError(f"encoder mismatch: index {self.path} was built with {describe_encoder(built)}, "
                                 f"got {describe_encoder({**built, 'encoder_backend': backend})}")
        if threads is not None and built["encoder_backend"] == "torch":   # it was silently ignored
            raise ValueError(f"encoder threads set ONNX Runtime's threads; index {self.path} encodes queries with "
                             "torch, which uses its own (OMP_NUM_THREADS)")
        return make_encoder(built["encoder"], built["encoder_backend"], device=device,
                            batch_size=batch_size, threads=threads)


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
    if dense and device:
        pick_device(device)   # before the corpus is read, not after
    return publish(out, lambda tmp: _build_into(tmp, corpus, fmt, bm25, dense, encoder, device, tokenizer,
                                                bm25_params, dense_params, skip_bad, progress))


def publish(out: str | Path, fill: Callable[[Path], dict[str, Any]]) -> Path:
    """Run ``fill(tmp)`` in a new hidden directory beside ``out``; it writes the index files and
    returns the manifest. Checksum every file, write the manifest, and publish the directory as
    the current version of ``out`` atomically (:mod:`indexes.layout`); return ``out``.

    Every build engine (the local one here, :mod:`indexes.ray_build`) publishes through this.

    >>> publish("/tmp/idx", lambda tmp: {...})   # doctest: +SKIP
    PosixPath('/tmp/idx')
    """
    out = Path(out).resolve()
    check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out)
    tmp = staging_dir(out)
    tmp.mkdir()
    try:
        manifest = fill(tmp)
        stamps, states = Stamps(), {f.name: os.stat(f) for f in sorted(tmp.iterdir())}
        manifest["files"] = {name: sha256_file(tmp / name) for name in states}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        version = install(tmp, out)
        for name, st in states.items():  # verified at build time: the first load need not hash
            stamps.remember(os.path.join(os.path.realpath(version), name), st, manifest["files"][name])
        stamps.save()
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _build_into(tmp, corpus, fmt, bm25, dense, encoder, device, tokenizer, bm25_params,
                dense_params, skip_bad, progress) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from indexes.progress import hidden

    t0 = time.time()
    stats = IngestStats()
    writer = StoreWriter(tmp)
    builder = BM25Builder(tokenizer, bm25_params) if bm25 else None
    passages = read_corpus(corpus, fmt, skip_bad=skip_bad, stats=stats)
    for p in tqdm(passages, desc="reading corpus" + (" + BM25" if bm25 else ""), unit=" passages",
                  disable=hidden(progress), mininterval=0.5):
        writer.add(p)
        if builder is not None:
            builder.add(f"{p.title} {p.text}")
    n = writer.close()
    if stats.n_skipped:
        log.warning("%s: %s", corpus, stats.summary())
    manifest = base_manifest(corpus, stats, n, bm25, dense)
    if builder is not None:
        index = builder.build()
        manifest["bm25"] = index.save(tmp)
        manifest["bm25"]["text_fields"] = "title + ' ' + text"
        del index, builder
    if dense:
        manifest["dense"] = _build_dense(tmp, n, encoder, device, dense_params, progress)
    manifest["build_seconds"] = round(time.time() - t0, 1)
    return manifest


def base_manifest(corpus: str | Path, stats: IngestStats, n: int, bm25: bool, dense: bool) -> dict[str, Any]:
    """The manifest fields every build writes before its parts' sections."""
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": _version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kinds": [k for k, on in (("bm25", bm25), ("dense", dense)) if on], "n_docs": n,
        "corpus": {"source": str(Path(corpus).resolve()), "read": stats.read,
                   "skipped": dict(stats.skipped)},
    }


def _build_dense(tmp: Path, n: int, encoder, device, params: DenseParams | None, progress: bool) -> dict:
    from tqdm.auto import tqdm

    from indexes.progress import hidden

    enc = SentenceEncoder(encoder or DEFAULT_ENCODER, device=device) if encoder is None or \
        isinstance(encoder, str) else encoder  # any object with id, dim and encode() will do
    params = params or DenseParams()
    dim = enc.dim
    vecs = np.lib.format.open_memmap(tmp / VECTORS_TMP, mode="w+", dtype=np.float32, shape=(n, dim))
    store = PassageStore(tmp)
    chunk = encode_chunk(getattr(enc, "batch_size", 64))
    with tqdm(total=n, desc=f"encoding ({getattr(enc, 'device', '?')})", unit=" passages", disable=hidden(progress)) as bar:
        for lo in range(0, n, chunk):
            texts = [passage_text(p) for p in store.get(range(lo, min(n, lo + chunk)))]
            vecs[lo:lo + len(texts)] = enc.encode(texts)
            bar.update(len(texts))
    return write_dense(tmp, vecs, params, encoder_identity(enc), bool(getattr(enc, "normalize", True)))


def encode_chunk(batch_size: int) -> int:
    """Passages per ``encode`` call of a build: engines that cut the rows at multiples of this
    hand the encoder the same groups of texts (so the same padding) as the local build.

    >>> encode_chunk(64)
    256
    """
    return max(batch_size * 4, 256)


def write_dense(tmp: Path, vecs: np.memmap, params: DenseParams, identity: dict, normalized: bool) -> dict:
    """Build the FAISS index over the encoded vectors ``vecs`` (a memmap of
    ``tmp/vectors.tmp.npy``, row i the vector of passage row i), save it into ``tmp``, delete
    the vectors file, and return the manifest's dense section (``identity``: the encoder's,
    :func:`indexes.dense.encoder_identity`)."""
    from indexes.dense import build_faiss

    n, dim = vecs.shape
    vecs.flush()
    log.info("building FAISS index over %d vectors", n)
    index, record = build_faiss(vecs, params)
    DenseIndex(index, record, device="cpu").save(tmp)
    del vecs
    (tmp / VECTORS_TMP).unlink()
    record.update(**identity, dim=dim, metric="inner_product", normalized=normalized,
                  passage_template="{title}. {text}", params=asdict(params))
    return record


def _check_encoder(manifest: dict[str, Any], encoder: SentenceEncoder | str | None) -> None:
    if encoder is None:
        return
    rec = manifest.get("dense")
    if rec is None:
        raise IndexLoadError("an encoder was given but the index has no dense part")
    enc_id = canonical_model_id(encoder) if isinstance(encoder, str) else encoder.id
    if enc_id != rec["encoder"]:
        raise IndexLoadError(f"encoder mismatch: index was built with {rec['encoder']!r} "
                             f"(dim {rec['dim']}), got {enc_id!r}")
    problem = None if isinstance(encoder, str) else encoder_mismatch(rec, encoder)
    if problem:
        raise IndexLoadError(problem)
    if not isinstance(encoder, str) and encoder.dim != rec["dim"]:
        raise IndexLoadError(f"dimension mismatch: index has dim {rec['dim']}, encoder {enc_id!r} gives {encoder.dim}")


def _mode(verify: bool | str) -> str:
    mode = {True: "auto", False: "none"}.get(verify, verify) if isinstance(verify, bool) else verify
    if mode not in VERIFY_MODES:
        raise ValueError(f"verify must be True, False or one of {VERIFY_MODES}, got {verify!r}")
    return mode


def load(path: str | Path, *, encoder: SentenceEncoder | str | None = None, verify: bool | str = "auto",
         device: str | None = None) -> Index:
    """Load an index directory, checking the manifest, paths, checksums and the encoder.

    ``verify``: ``"auto"`` (or True) hashes each file once per file state and trusts the stamp
    after that; ``"full"`` hashes every file; ``"none"`` (or False) skips hashing. Paths, file
    types and array sizes are checked in every mode. A directory replaced by a rebuild while
    loading is loaded again at its new version.

    >>> idx = load("/tmp/idx")          # doctest: +SKIP
    >>> idx.kinds                       # doctest: +SKIP
    ['bm25', 'dense']
    """
    root, mode = Path(path), _mode(verify)
    for attempt in range(_LOAD_ATTEMPTS):
        files_dir = resolve(root)
        try:
            return _load_files(root, files_dir, mode, encoder, device)
        except Exception:
            if attempt == _LOAD_ATTEMPTS - 1 or _still_current(root, files_dir):   # a flat index converted meanwhile too
                raise
            log.info("%s was replaced while loading %s; loading the new version", root, files_dir.name)
    raise AssertionError("unreachable")


def _still_current(root: Path, files_dir: Path) -> bool:
    try:
        return resolve(root) == files_dir
    except IndexLoadError:
        return True


def _needed_files(kinds) -> tuple[str, ...]:
    return (*STORE_FILES, *(BM25Index.FILES if "bm25" in kinds else ()), *((DENSE_FILE,) if "dense" in kinds else ()))


def _load_files(root: Path, files_dir: Path, mode: str, encoder, device) -> Index:
    manifest = read_manifest(files_dir)
    kinds = manifest["kinds"]
    for name in _needed_files(kinds):
        listed_file(files_dir, manifest, name)  # refuses a file the manifest does not list
    _check_encoder(manifest, encoder)
    stamps = None if mode == "none" else Stamps()
    for _, error in check_files(files_dir, manifest, mode, stamps):
        if error:
            raise IndexLoadError(error)
    if stamps is not None:
        stamps.save()
    n = manifest["n_docs"]
    store = PassageStore(files_dir, n_docs=n)
    try:
        bm25 = BM25Index.load(files_dir, manifest["bm25"], n) if "bm25" in kinds else None
        dense = None
        if "dense" in kinds:
            check_faiss_file(files_dir / DENSE_FILE, manifest["dense"], n)
            dense = DenseIndex.load(files_dir, manifest["dense"], device)
    except (KeyError, TypeError) as e:
        raise IndexLoadError(f"{files_dir / MANIFEST}: bad or missing setting {e}") from e
    return Index(root, manifest, store, bm25, dense, files_dir)


def verify_index(path: str | Path) -> list[tuple[str, str | None]]:
    """Hash every file of index ``path`` against its manifest: ``[(name, error or None)]``.

    Files that match are stamped, so later loads skip hashing them until they change.

    >>> [name for name, err in verify_index("/tmp/idx") if err]     # doctest: +SKIP
    []
    """
    files_dir = resolve(Path(path))
    try:
        manifest = read_manifest(files_dir)
    except IndexLoadError as e:   # a damaged manifest is a failed check (exit 1), not a usage error
        if not os.path.lexists(files_dir / MANIFEST):
            raise
        return [(MANIFEST, str(e))]
    stamps = Stamps()
    results = list(check_files(files_dir, manifest, "full", stamps))
    stamps.save()
    return results + _structure(files_dir, manifest)


def _structure(files_dir: Path, manifest: dict) -> list[tuple[str, str | None]]:
    """What loading would refuse beyond the hashes (``verify`` passed an index that ``search``
    refused): a file its kinds need that the manifest does not list, a store, BM25 or FAISS file
    whose size disagrees with the manifest. One ``("structure", error)`` row when something is wrong."""
    try:
        kinds, n = manifest["kinds"], manifest["n_docs"]
        for name in _needed_files(kinds):
            listed_file(files_dir, manifest, name)
        PassageStore(files_dir, n_docs=n)
        if "bm25" in kinds:   # memory-maps its arrays: sizes and index bounds, as a load checks them
            BM25Index.load(files_dir, manifest["bm25"], n)
        if "dense" in kinds:
            check_faiss_file(files_dir / DENSE_FILE, manifest["dense"], n)
    except IndexLoadError as e:
        return [("structure", str(e))]
    except (KeyError, TypeError, ValueError) as e:
        return [("structure", f"{files_dir / MANIFEST}: bad or missing setting {e}")]
    return []

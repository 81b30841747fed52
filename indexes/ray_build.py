"""Build an index on a Ray cluster: BM25 statistics per shard, encoding on an actor pool.

``ambigrag index build CORPUS --out DIR --engine ray --workers N [--address ray://...]``
writes the same index directory as the local build (:func:`indexes.index.build`), read by
:func:`indexes.load` like any other; the manifest adds a ``distributed`` section naming the
engine, the cluster, the workers and the shards.

1. The driver reads and validates the corpus with the project's streaming reader (ids unique,
   errors naming the line, ``--skip-bad``) and writes the passage store, exactly as the local
   build does. Its rows go into Ray's object store as Arrow blocks of :func:`encode_chunk`
   rows; consecutive blocks form the shards (N by default).
2. BM25: one task per shard tokenises its passages and returns its vocabulary (in order of
   first occurrence), document frequencies and lengths. The driver merges them into the global
   vocabulary, df, N and avgdl (ids in order of first occurrence over the corpus, as the local
   builder gives them), and one task per shard turns its (term, doc, tf) triples into score
   contributions with the global idf and avgdl. The matrix is therefore the local one, byte
   for byte: scores are equal, not close.
3. Dense: ``ray.data.from_arrow_refs(blocks).map_batches(_Encoder, concurrency=N)``, an actor
   pool that loads the same sentence-transformers encoder as the local build (the shipped
   MiniLM via :func:`indexes.dense.resolve_model_path`), one CPU each, or one GPU each when
   ``device="cuda"`` or the cluster has GPUs. The driver writes each vector at its row and
   builds one FAISS index over all of them in row order (:func:`indexes.index.write_dense`):
   a flat index gives the local build's results (vectors equal to float rounding).

Ray is imported only inside functions (``pip install -e '.[ray]'``). A local cluster
(``ray.init(num_cpus=N)``) is started and shut down around the build unless ``address`` names
an existing cluster (whose workers need ambigrag installed) or Ray is already initialised.

>>> build_ray("corpus.jsonl", "/tmp/idx", workers=2)     # doctest: +SKIP
PosixPath('/tmp/idx')
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from indexes.bm25 import BM25Builder, BM25Index, BM25Params, bm25_idf, bm25_matrix, bm25_weights
from indexes.corpus import IngestStats, read_corpus
from indexes.dense import (
    DEFAULT_ENCODER,
    DenseParams,
    SentenceEncoder,
    encoder_identity,
    passage_text,
)
from indexes.index import VECTORS_TMP, base_manifest, encode_chunk, publish, write_dense
from indexes.store import PassageStore, StoreWriter
from indexes.tokenize import Tokenizer
from indexes.types import Passage

log = logging.getLogger("ambigrag")

ENGINES = ("local", "ray")
RAY_EXTRA = "pip install -e '.[ray]'"


def require_ray():
    """The ``ray`` module with Ray Data, or ModuleNotFoundError naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ModuleNotFoundError(f"the ray engine needs Ray Data ({e.name} is missing): {RAY_EXTRA}") from e
    return ray


def build_ray(corpus: str | Path, out: str | Path, *, workers: int = 2, address: str | None = None,
              shards: int | None = None, fmt: str | None = None, bm25: bool = True, dense: bool = True,
              encoder: SentenceEncoder | str | None = None, device: str | None = None,
              tokenizer: Tokenizer | None = None, bm25_params: BM25Params | None = None,
              dense_params: DenseParams | None = None, skip_bad: bool = False,
              progress: bool = True) -> Path:
    """Build an index over ``corpus`` into ``out`` on Ray (see the module doc); return ``out``.

    ``workers``: CPUs of the local cluster, encoder actors and (unless ``shards``) shards.
    Other arguments as for :func:`indexes.index.build`; ``encoder`` is a model id or a
    :class:`SentenceEncoder` (each actor loads its own copy by id).

    >>> build_ray("corpus.jsonl", "/tmp/idx", workers=4, address="ray://head:10001")  # doctest: +SKIP
    PosixPath('/tmp/idx')
    """
    if not (bm25 or dense):
        raise ValueError("nothing to build: enable bm25, dense, or both")
    if workers < 1 or (shards is not None and shards < 1):
        raise ValueError(f"workers and shards must be >= 1, got workers={workers}, shards={shards}")
    if encoder is not None and not isinstance(encoder, (str, SentenceEncoder)):
        raise TypeError("the ray engine loads the encoder in each actor: pass a model id or a "
                        f"SentenceEncoder, not {type(encoder).__name__}")
    require_ray()  # before reading anything
    enc = encoder if isinstance(encoder, SentenceEncoder) else \
        SentenceEncoder(encoder or DEFAULT_ENCODER, device=device)

    def fill(tmp: Path) -> dict[str, Any]:
        t0 = time.time()
        with ray_cluster(workers, address) as (ray, where):   # an unreachable cluster fails before the corpus is read
            n, stats = _write_store(tmp, corpus, fmt, skip_bad, progress)
            manifest = base_manifest(corpus, stats, n, bm25, dense)
            blocks = _put_blocks(ray, PassageStore(tmp), block_rows(n, workers, enc.batch_size))
            groups = _group(blocks, shards or workers)
            info: dict[str, Any] = {"engine": "ray", "ray_version": ray.__version__, "cluster": where,
                                    "workers": workers, "n_shards": len(groups),
                                    "shards": [{"rows": [g[0][0], g[-1][1]]} for g in groups]}
            if bm25:
                manifest["bm25"] = _build_bm25(ray, tmp, groups, n, tokenizer, bm25_params, info)
            if dense:
                manifest["dense"] = _build_dense(ray, tmp, blocks, n, enc, device or enc.device,
                                                 dense_params or DenseParams(), workers, progress, info)
        manifest["distributed"] = info
        manifest["build_seconds"] = round(time.time() - t0, 1)
        return manifest

    return publish(out, fill)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A ``ValueError`` naming ``--address`` when nothing listens at its ``host:port`` (Ray's own
    connection retries for minutes); ``auto`` is left to Ray. A ``ray://`` address needs the
    Ray Client (``pip install 'ray[client]'``), which the ``ray`` extra does not install."""
    import socket

    if address == "auto":
        return
    if address.startswith("ray://"):
        try:
            import grpc  # noqa: F401  (the Ray Client's transport)
        except ImportError:
            raise ValueError(f"--address {address}: a ray:// address needs the Ray Client: "
                             "pip install 'ray[client]'") from None
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address {address}: expected host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ValueError(f"--address {address}: cannot connect ({e.strerror or e})") from None


@contextlib.contextmanager
def ray_cluster(workers: int, address: str | None = None) -> Iterator[tuple[Any, str]]:
    """``(ray, where)`` inside the block: a local cluster of ``workers`` CPUs started for the
    block and shut down after it, the cluster at ``address`` (disconnected after), or the Ray
    session already initialised in this process (left running)."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray, "existing session"
        return
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        check_reachable(address)
        ray.init(address=address, **quiet)
    else:  # workers import this same copy of the package, whatever is installed
        root = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        ray.init(num_cpus=workers, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}},
                 **quiet)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = ctx.print_on_execution_start = ctx.enable_auto_log_stats = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        yield ray, address or f"local (num_cpus={workers})"
    finally:
        ray.shutdown()


def _write_store(tmp: Path, corpus, fmt, skip_bad: bool, progress: bool) -> tuple[int, IngestStats]:
    """Validate the corpus and write the passage store, as the local build does."""
    from tqdm.auto import tqdm

    from indexes.progress import hidden

    stats, writer = IngestStats(), StoreWriter(tmp)
    for p in tqdm(read_corpus(corpus, fmt, skip_bad=skip_bad, stats=stats), desc="reading corpus",
                  unit=" passages", disable=hidden(progress), mininterval=0.5):
        writer.add(p)
    n = writer.close()
    if stats.n_skipped:
        log.warning("%s: %s", corpus, stats.summary())
    return n, stats


def block_rows(n: int, workers: int, batch_size: int) -> int:
    """Rows per block (and per encoder call): the local build's :func:`encode_chunk`, so the
    encoder sees the same groups of texts (the same padding), unless the corpus is too small
    to give every worker four blocks of that size; then smaller blocks, so no actor idles.

    >>> block_rows(6724, 2, 64), block_rows(300, 2, 64)
    (256, 38)
    """
    return min(encode_chunk(batch_size), max(16, -(-n // (4 * workers))))


def _put_blocks(ray, store: PassageStore, rows: int) -> list[tuple[int, int, Any]]:
    """``(lo, hi, ref)`` per block of ``rows`` passages: an Arrow table (row, title, text) in
    Ray's object store."""
    import pyarrow as pa

    n, out = len(store), []
    for lo in range(0, n, rows):
        ps = store.get(range(lo, min(n, lo + rows)))
        table = pa.table({"row": pa.array(range(lo, lo + len(ps)), pa.int64()),
                          "title": [p.title for p in ps], "text": [p.text for p in ps]})
        out.append((lo, lo + len(ps), ray.put(table)))
    return out


def _group(blocks: list, n_shards: int) -> list[list]:
    """Consecutive blocks in ``min(n_shards, len(blocks))`` shards, as even as blocks allow."""
    s = min(n_shards, len(blocks))
    return [blocks[i * len(blocks) // s:(i + 1) * len(blocks) // s] for i in range(s)]


def _shard_terms(tokenizer: dict, *tables) -> tuple[dict, tuple]:
    """A shard's statistics (vocabulary in order of first occurrence, df, document lengths)
    and its (term, doc, tf) triples, with shard-local term ids and document rows."""
    builder = BM25Builder(Tokenizer.from_dict(tokenizer))
    for t in tables:
        for title, text in zip(t["title"].to_pylist(), t["text"].to_pylist()):
            builder.add(f"{title} {text}")
    terms, docs, tfs = builder.triples()
    stats = {"terms": builder.terms_by_id(), "df": np.bincount(terms, minlength=len(builder.vocab)),
             "doc_len": np.asarray(builder.doc_len, dtype=np.int64)}
    return stats, (terms, docs, tfs)


def _shard_weights(triples: tuple, remap: np.ndarray, idf: np.ndarray, doc_len: np.ndarray,
                   avgdl: float, params: dict, offset: int) -> tuple[np.ndarray, ...]:
    """A shard's triples as (global term id, global row, contribution) with the global idf
    and avgdl: the arrays the local builder would hold for these documents."""
    terms, docs, tfs = triples
    terms = remap[terms]
    weights = bm25_weights(terms, docs, np.array(tfs), doc_len, idf, avgdl, BM25Params(**params))
    return terms, (docs + offset).astype(np.int32), weights


def _build_bm25(ray, tmp: Path, groups: list, n: int, tokenizer: Tokenizer | None,
                params: BM25Params | None, info: dict) -> dict:
    """Per-shard statistics merged into exact global ones; the index saved into ``tmp``."""
    tokenizer, params = tokenizer or Tokenizer(), params or BM25Params()
    stage1 = ray.remote(num_returns=2)(_shard_terms)
    parts = [stage1.remote(tokenizer.to_dict(), *[ref for _, _, ref in g]) for g in groups]
    stats = ray.get([s for s, _ in parts])
    vocab: dict[str, int] = {}
    remaps = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in s["terms"]), np.int32, len(s["terms"]))
              for s in stats]  # shards in row order: ids in order of first occurrence, as locally
    df = np.zeros(len(vocab), dtype=np.int64)
    for s, remap in zip(stats, remaps):
        df[remap] += s["df"]
    lengths = [s["doc_len"].astype(np.float64) for s in stats]
    avgdl = float(np.concatenate(lengths).mean()) or 1.0
    idf_ref = ray.put(bm25_idf(df, n, params))
    stage2 = ray.remote(_shard_weights)
    triples = ray.get([stage2.remote(t, remap, idf_ref, dl, avgdl, asdict(params), g[0][0])
                       for (_, t), remap, dl, g in zip(parts, remaps, lengths, groups)])
    terms, docs, weights = (np.concatenate([t[i] for t in triples]) for i in range(3))
    del triples
    matrix = bm25_matrix(terms, docs, weights, len(vocab), n)
    del terms, docs, weights
    section = BM25Index(matrix, list(vocab), tokenizer, params, avgdl).save(tmp)  # ids = insertion order
    section["text_fields"] = "title + ' ' + text"
    for shard, s in zip(info["shards"], stats):
        shard.update(n_terms=len(s["terms"]), tokens=int(s["doc_len"].sum()))
    info["bm25"] = "exact: df, N and avgdl merged from the shards' statistics"
    return section


class _Encoder:
    """A Ray Data actor: loads the encoder once, then turns batches of rows into vectors."""

    def __init__(self, model_id: str, device: str, batch_size: int, normalize: bool, threads: int):
        if device == "cpu":
            import torch

            torch.set_num_threads(threads)  # the actor's CPU reservation, whatever OMP_NUM_THREADS says
        self.encoder = SentenceEncoder(model_id, device=device, batch_size=batch_size, normalize=normalize)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [passage_text(Passage(id="", title=str(t), text=str(x)))
                 for t, x in zip(batch["title"], batch["text"])]
        return {"row": batch["row"], "vector": self.encoder.encode(texts)}


def _actors(ray, workers: int, device: str | None) -> tuple[int, str, dict]:
    """(actor count, device, resources per actor): one GPU each for ``cuda`` or when the
    cluster has GPUs and no device was named, else one CPU each."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if device == "cuda" or (device is None and gpus > 0):
        if gpus == 0:
            raise ValueError("device cuda was asked for, but the Ray cluster has no GPU")
        return min(workers, gpus), "cuda", {"num_gpus": 1}
    return workers, "cpu", {"num_cpus": 1}


def _build_dense(ray, tmp: Path, blocks: list, n: int, enc: SentenceEncoder, device: str | None,
                 params: DenseParams, workers: int, progress: bool, info: dict) -> dict:
    """Encode every row on the actor pool, then one FAISS index over the vectors in row order."""
    from tqdm.auto import tqdm

    from indexes.progress import hidden

    count, device, resources = _actors(ray, workers, device)
    ds = ray.data.from_arrow_refs([ref for _, _, ref in blocks]).map_batches(
        _Encoder, fn_constructor_kwargs={"model_id": enc.id, "device": device, "batch_size": enc.batch_size,
                                         "normalize": enc.normalize, "threads": 1},
        batch_size=blocks[0][1] - blocks[0][0], batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=count), **resources)
    vecs, seen = None, np.zeros(n, dtype=bool)
    with tqdm(total=n, desc=f"encoding (ray, {count} {device} actors)", unit=" passages",
              disable=hidden(progress)) as bar:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            rows, v = batch["row"], batch["vector"]
            if vecs is None:
                vecs = np.lib.format.open_memmap(tmp / VECTORS_TMP, mode="w+", dtype=np.float32,
                                                 shape=(n, v.shape[1]))
            vecs[rows], seen[rows] = v, True
            bar.update(len(rows))
    if vecs is None or not seen.all():
        raise RuntimeError(f"the actors returned vectors for {int(seen.sum())} of {n} passages")
    info["dense"] = {"actors": count, "device": device,
                     "layout": "the shards' vectors merged into one FAISS index in row order"}
    return write_dense(tmp, vecs, params, encoder_identity(enc), enc.normalize)

"""Dense index benchmark: build time, query/s at batch 1 and 256, and recall@10 against exact
search, per FAISS index type, on 384-dimensional vectors.

Data:
* ``corpus``: the real MiniLM embeddings of the 6,724-passage corpus (read from an index built
  with the default encoder) and real AmbigQA dev questions as queries;
* ``random``: N random unit vectors, queries random unit vectors (the pessimistic case: no
  cluster structure, every neighbour nearly equidistant);
* ``clustered``: N vectors drawn around the real corpus embeddings (each a real embedding plus
  Gaussian noise, renormalised), queries likewise around real question embeddings. It keeps
  the neighbourhood structure of real data at sizes we cannot encode on this CPU.

    python bench/dense.py --index /tmp/idx                 # corpus + 100k random/clustered
    python bench/dense.py --index /tmp/idx --sizes 1000000 --data clustered
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_vectors(index_dir: str, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
    import indexes
    from rag.defaults import shared_data_dir

    idx = indexes.load(index_dir, verify=False, device="cpu")
    base = idx.dense.index.reconstruct_n(0, idx.dense.ntotal)
    dev = json.loads((shared_data_dir() / "ambigqa" / "dev_light.json").read_text())
    qs = idx.encoder(device="cpu").encode([q["question"] for q in dev[:n_queries]])
    return base, qs


def make_data(kind: str, n: int, real: tuple[np.ndarray, np.ndarray] | None, n_queries: int, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "random":
        return (unit(rng.standard_normal((n, 384), dtype=np.float32)),
                unit(rng.standard_normal((n_queries, 384), dtype=np.float32)))
    base, qs = real
    sigma = 0.04  # per-dimension noise: a perturbed copy keeps cosine ~0.6 to its source
    out = np.empty((n, 384), dtype=np.float32)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        src = base[rng.integers(0, len(base), hi - lo)]
        out[lo:hi] = unit(src + sigma * rng.standard_normal(src.shape, dtype=np.float32))
    q = qs[rng.integers(0, len(qs), n_queries)]
    return out, unit(q + sigma * rng.standard_normal(q.shape, dtype=np.float32))


def settings(n: int):
    import math

    nlist = max(16, int(math.sqrt(n)))  # sqrt(N) lists: k-means training stays minutes on 2 cores
    yield "flat", "", {}
    for ef in (32, 64, 128, 256):
        yield "hnsw", f"M=32 efSearch={ef}", {"m": 32, "ef": ef}
    for nprobe in (8, 16, 32, 64):
        yield "ivf", f"nlist={nlist} nprobe={nprobe}", {"nlist": nlist, "nprobe": nprobe}
    yield "ivfpq", f"nlist={nlist} PQ48 nprobe=32", {"nlist": nlist, "nprobe": 32, "pq": 48}


def build(kind: str, p: dict, xb: np.ndarray, cache: dict):
    import faiss

    d = xb.shape[1]
    key = (kind, p.get("m"), p.get("nlist"), p.get("pq"))
    if key in cache:
        index, secs = cache[key]
    else:
        t0 = time.perf_counter()
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, p["m"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
        else:
            quant = faiss.IndexFlatIP(d)
            index = (faiss.IndexIVFFlat(quant, d, p["nlist"], faiss.METRIC_INNER_PRODUCT) if kind == "ivf"
                     else faiss.IndexIVFPQ(quant, d, p["nlist"], p["pq"], 8, faiss.METRIC_INNER_PRODUCT))
            rng = np.random.default_rng(0)
            index.train(xb[rng.choice(len(xb), min(len(xb), 64 * p["nlist"]), replace=False)])
        index.add(xb)
        secs = time.perf_counter() - t0
        cache[key] = (index, secs)
    if kind == "hnsw":
        index.hnsw.efSearch = p["ef"]
    elif kind in ("ivf", "ivfpq"):
        index.nprobe = p["nprobe"]
    return index, secs


def qps(index, xq: np.ndarray, batch: int, budget_s: float = 4.0) -> float:
    n, t0, i = 0, time.perf_counter(), 0
    while time.perf_counter() - t0 < budget_s and i < len(xq):
        index.search(xq[i:i + batch], 10)
        n += len(xq[i:i + batch])
        i += batch
    return n / (time.perf_counter() - t0)


def bench(name: str, xb: np.ndarray, xq: np.ndarray) -> list[dict]:
    import faiss

    faiss.cvar.distance_compute_blas_threshold = 20
    cache: dict = {}
    rows, truth = [], None
    for kind, label, p in settings(len(xb)):
        index, secs = build(kind, p, xb, cache)
        _, found = index.search(xq, 10)
        if truth is None:
            truth = found
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
        row = {"data": name, "n": len(xb), "index": kind, "params": label, "build_s": secs,
               "qps_b1": qps(index, xq, 1), "qps_b256": qps(index, xq, 256), "recall@10": float(recall)}
        rows.append(row)
        flat = rows[0]
        print(f"| {name} | {len(xb):,} | {kind} | {label} | {secs:.1f} | {row['qps_b1']:.0f} "
              f"({row['qps_b1'] / flat['qps_b1']:.1f}×) | {row['qps_b256']:.0f} "
              f"({row['qps_b256'] / flat['qps_b256']:.1f}×) | {recall:.3f} |", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", help="an index built with the default encoder (for real embeddings)")
    ap.add_argument("--sizes", default="100000", help="comma-separated synthetic sizes (default 100000)")
    ap.add_argument("--data", default="random,clustered", help="synthetic kinds: random,clustered")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--json", help="write all rows as JSON")
    args = ap.parse_args()
    print("| data | N | index | params | build s | q/s batch 1 (vs flat) | q/s batch 256 (vs flat) | recall@10 |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    rows = []
    real = real_vectors(args.index, args.queries) if args.index else None
    if real is not None:
        rows += bench("corpus", *real)
    for n in [int(s) for s in args.sizes.split(",") if s]:
        for kind in args.data.split(","):
            if kind == "clustered" and real is None:
                continue
            rows += bench(kind, *make_data(kind, n, real, args.queries))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

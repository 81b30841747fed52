"""BM25 speed and memory: this engine against rank-bm25 BM25Okapi, measured in the same run.

Corpora of 10k and 100k passages (1M with --full) are sampled from the real corpus's unigram
distribution and passage lengths (../shared/data/ambigqa_passages/corpus.jsonl); queries are
real AmbigQA dev questions. Each engine runs in its own subprocess so its peak RSS is its own.
Both engines get the same tokens (ambigrag's default tokeniser).

    python bench/bm25.py            # 10k and 100k
    python bench/bm25.py --full     # adds 1M (rank-bm25 needs ~10 GB there)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_corpus(n: int, seed: int = 0):
    """Yield ``n`` passages sampled from the real corpus's unigrams and passage lengths."""
    from rag.defaults import default_corpus

    rng = np.random.default_rng(seed)
    words, lengths = [], []
    for line in default_corpus().read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        toks = f"{d['title']} {d['text']}".split()
        words.extend(toks)
        lengths.append(len(toks))
    vocab, counts = np.unique(np.array(words), return_counts=True)
    probs = counts / counts.sum()
    vocab = vocab.tolist()
    lens = rng.choice(np.array(lengths), size=n)
    for lo in range(0, n, 10_000):
        chunk = lens[lo:lo + 10_000]
        ids = rng.choice(len(vocab), size=int(chunk.sum()), p=probs)
        pos = 0
        for ln in chunk:
            yield " ".join([vocab[i] for i in ids[pos:pos + ln]])
            pos += ln


def queries(n: int) -> list[str]:
    from rag.defaults import shared_data_dir

    dev = json.loads((shared_data_dir() / "ambigqa" / "dev_light.json").read_text(encoding="utf-8"))
    return [q["question"] for q in dev[:n]]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(engine: str, n: int, n_queries: int) -> dict:
    from indexes.bm25 import build_bm25
    from indexes.tokenize import Tokenizer

    docs = synthetic_corpus(n)
    qs = queries(n_queries)
    tok = Tokenizer()
    base_rss = peak_rss_mb()
    t0 = time.perf_counter()
    if engine == "ambigrag":
        index = build_bm25(docs, tok)  # streams the generator: texts are never all in memory
        build_s = time.perf_counter() - t0
        index.search(qs[:2], k=10)  # warm-up: loads the numba kernel from its on-disk cache
        t0 = time.perf_counter()
        index.search(qs, k=10)
        batch_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for q in qs[: min(len(qs), 200)]:
            index.search([q], k=10)
        single_qps = min(len(qs), 200) / (time.perf_counter() - t0)
        return {"build_s": build_s, "qps": len(qs) / batch_s, "qps_batch1": single_qps,
                "peak_rss_mb": peak_rss_mb(), "corpus_rss_mb": base_rss}
    from rank_bm25 import BM25Okapi

    index = BM25Okapi([tok(d) for d in docs])
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in qs:
        np.argsort(index.get_scores(tok(q)))[::-1][:10]
    qps = len(qs) / (time.perf_counter() - t0)
    return {"build_s": build_s, "qps": qps, "qps_batch1": qps, "peak_rss_mb": peak_rss_mb(),
            "corpus_rss_mb": base_rss}


def run(engine: str, n: int, n_queries: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", engine, str(n), str(n_queries)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="also run 1M passages")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))))
        return
    sizes = [10_000, 100_000] + ([1_000_000] if args.full else [])
    rank_queries = {10_000: 200, 100_000: 30, 1_000_000: 5}
    import os

    print(f"{os.cpu_count()} cores; each engine in its own process; peak RSS includes the Python "
          "interpreter, numpy/scipy and the query set")
    print("| passages | engine | build s | query/s (batch) | query/s (1 at a time) | peak RSS MB | speed-up |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in sizes:
        base = run("rank-bm25", n, rank_queries[n])
        ours = run("ambigrag", n, 2000)
        for name, r in (("rank-bm25 BM25Okapi", base), ("ambigrag okapi", ours)):
            ratio = r["qps"] / base["qps"]
            print(f"| {n:,} | {name} | {r['build_s']:.1f} | {r['qps']:.1f} | {r['qps_batch1']:.1f} | "
                  f"{r['peak_rss_mb']:.0f} | {ratio:.0f}× |", flush=True)


if __name__ == "__main__":
    main()

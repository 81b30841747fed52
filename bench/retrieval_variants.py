"""Which BM25 variant/tokeniser and which hybrid fusion work best on the AmbigQA corpus?

Runs on the corpus-covered AmbigQA dev subset (passage_origin defines it) and prints MRecall@5/20
and answer recall@20 for BM25 variants, dense, and fusion settings. Used to pick the defaults
recorded in bench/RESULTS.md.

    python bench/retrieval_variants.py /tmp/idx     # an index built with the defaults
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import indexes  # noqa: E402
from eval.data import load_ambigqa  # noqa: E402
from eval.retrieval import covered_ids, evaluate_runs  # noqa: E402
from indexes.bm25 import BM25Params, build_bm25  # noqa: E402
from indexes.tokenize import Tokenizer  # noqa: E402
from rag.defaults import shared_data_dir  # noqa: E402
from rag.types import Hit  # noqa: E402
from retrievers.dense import DenseRetriever  # noqa: E402
from retrievers.fusion import convex_fusion, distribution_based_fusion, reciprocal_rank_fusion  # noqa: E402

KS = [5, 20, 100]


def bm25_runs(index, questions, tok, params):
    store = index.store
    passages = list(store)
    bm = build_bm25([f"{p.title} {p.text}" for p in passages], tok, params)
    scores, rows = bm.search([q["question"] for q in questions], 100)
    return [[Hit(passages[r], float(s), i + 1, "bm25") for i, (s, r) in enumerate(zip(sc, rs))]
            for sc, rs in zip(scores, rows)]


def show(name, questions, runs, covered):
    s = evaluate_runs(questions, runs, KS, covered)["summary"]
    c, cm = s["covered"], s["covered_multi"]
    print(f"| {name} | {c['recall@20']:.3f} | {c['mrecall@5']:.3f} | {c['mrecall@20']:.3f} | "
          f"{cm['mrecall@20']:.3f} |", flush=True)
    return c["mrecall@20"]


def main(index_dir: str) -> None:
    index = indexes.load(index_dir)
    questions = load_ambigqa()
    covered = covered_ids(questions, shared_data_dir() / "ambigqa_passages" / "passage_origin.jsonl")
    questions = [q for q in questions if q["id"] in covered]
    print("| setting | recall@20 | MRecall@5 | MRecall@20 | MRecall@20 (multi) |\n|---|---:|---:|---:|---:|")
    bm = {}
    for name, tok, params in [
        ("bm25 okapi, stopwords", Tokenizer(), BM25Params()),
        ("bm25 okapi, no stopwords", Tokenizer(stopwords=None), BM25Params()),
        ("bm25 okapi, stopwords+stem", Tokenizer(stemmer="english"), BM25Params()),
        ("bm25 lucene, stopwords", Tokenizer(), BM25Params(variant="lucene")),
        ("bm25 lucene, stopwords+stem", Tokenizer(stemmer="english"), BM25Params(variant="lucene")),
    ]:
        bm[name] = bm25_runs(index, questions, tok, params)
        show(name, questions, bm[name], covered)
    dense = DenseRetriever.from_index(index).retrieve([q["question"] for q in questions], 100)
    show("dense", questions, dense, covered)
    sparse = bm["bm25 okapi, stopwords+stem"]
    for label, fuse in [
        ("rrf k=60", reciprocal_rank_fusion),
        ("rrf k=60, dense weight 1.5", partial(reciprocal_rank_fusion, weights=(1.5, 1.0))),
        ("rrf k=60, dense weight 2", partial(reciprocal_rank_fusion, weights=(2.0, 1.0))),
        ("rrf k=20, dense weight 1.5", partial(reciprocal_rank_fusion, weights=(1.5, 1.0), rrf_k=20)),
        ("convex minmax 0.5", partial(convex_fusion, weights=(0.5, 0.5))),
        ("convex minmax 0.7 dense", partial(convex_fusion, weights=(0.7, 0.3))),
        ("convex zscore 0.5", partial(convex_fusion, weights=(0.5, 0.5), normalise="zscore")),
        ("convex zscore 0.7 dense", partial(convex_fusion, weights=(0.7, 0.3), normalise="zscore")),
        ("dbsf", distribution_based_fusion),
    ]:
        runs = [fuse([d, s], 100) for d, s in zip(dense, sparse)]
        show(f"hybrid {label}", questions, runs, covered)


if __name__ == "__main__":
    main(sys.argv[1])

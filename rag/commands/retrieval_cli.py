"""``ambigrag eval retrieval``: answer recall@k and MRecall@k on AmbigQA for several modes."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(evs) -> None:
    p = evs.add_parser("retrieval", help="retrieval metrics on AmbigQA dev (answer recall, MRecall)",
                       description="Answer recall@k and MRecall@k for bm25, dense and hybrid side by side, "
                                   "over all, multi-answer and corpus-covered questions.")
    p.add_argument("index", nargs="?", help="index directory (default: the default index, built on first use)")
    p.add_argument("--dataset", choices=("ambigqa",), default="ambigqa")
    p.add_argument("--data", help="AmbigQA-format file (default ../shared/data/ambigqa/dev_light.json)")
    p.add_argument("--origin", help="passage_origin.jsonl that defines the covered subset "
                                    "(default: beside the default corpus)")
    p.add_argument("--subset", choices=("all", "covered"), default="all",
                   help="which questions to run (default all; the covered subset is always reported)")
    p.add_argument("--limit", type=int, help="only the first N questions (after --subset)")
    p.add_argument("--mode", default="bm25,dense,hybrid", help="comma-separated: bm25,dense,hybrid")
    p.add_argument("--fuse", choices=("convex", "rrf", "dbsf"), default="convex")
    p.add_argument("-k", default="5,10,20,100", help="comma-separated cut-offs (default 5,10,20,100)")
    p.add_argument("--device", choices=("cpu", "cuda"))
    p.add_argument("--batch-size", type=int, default=64, help="queries per retrieval batch")
    p.add_argument("--rewrite", metavar="NAMES",
                   help="also run hybrid with query rewriting: comma-separated interpretations,evidence,"
                        "decompose,icl (each alone, then all combined)")
    p.add_argument("--no-llm", action="store_true", help="interpretations from first-round titles, not the LLM")
    p.add_argument("--json", metavar="OUT", help="write the report (summary and per-question rows)")
    p.add_argument("--md", metavar="OUT", help="write the markdown table")
    p.set_defaults(func=cmd_retrieval)


def _ints(s: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in s.split(",") if x.strip()})
    except ValueError:
        raise ValueError(f"-k takes comma-separated integers, got {s!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"-k values must be >= 1, got {s!r}")
    return ks


def _rewrite_names(spec: str) -> list[str]:
    from retrievers.expansion import REWRITES

    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names or any(n not in REWRITES for n in names):
        raise ValueError(f"--rewrite takes a comma-separated subset of {REWRITES}, got {spec!r}")
    return names


def _rewrite_variants(args, index) -> dict:
    """``hybrid+NAME`` for each rewrite, then ``hybrid+all`` when several are named."""
    from retrievers.expansion import ExampleBank, rewriter_for
    from retrievers.factory import retriever_for
    from retrievers.multi import MultiQueryRetriever

    names = _rewrite_names(args.rewrite)
    hybrid = retriever_for(index, "hybrid", fuse=args.fuse, device=args.device)
    llm = None
    if "interpretations" in names and not args.no_llm:
        import importlib.util

        from rag.pipeline import default_llm

        # transformers prefills faster; without its gguf reader, whatever runtime there is (or none)
        llm = default_llm(backend="transformers" if importlib.util.find_spec("gguf") else "auto")
    bank = ExampleBank() if {"interpretations", "icl"} & set(names) else None
    variants = {n: rewriter_for([n], retriever=hybrid, llm=llm, bank=bank) for n in names}
    if len(names) > 1:
        variants["all"] = rewriter_for(names, retriever=hybrid, llm=llm, bank=bank)
    return {f"hybrid+{n}": MultiQueryRetriever(hybrid, rw) for n, rw in variants.items()}


def _questions(args) -> tuple[list[dict], set[str] | None]:
    """The questions to evaluate (``--subset``, ``--limit``) and the corpus-covered ids (None
    without a passage-origin file)."""
    from eval.data import load_ambigqa
    from eval.retrieval import covered_ids
    from rag.defaults import shared_data_dir

    questions = load_ambigqa(args.data)
    origin = Path(args.origin) if args.origin else shared_data_dir() / "ambigqa_passages" / "passage_origin.jsonl"
    if args.origin and not origin.is_file():   # a mistyped --origin silently dropped the covered rows
        raise FileNotFoundError(f"--origin {origin}: no such file")
    covered = covered_ids(questions, origin) if origin.exists() else None
    if args.subset == "covered":
        if covered is None:
            raise FileNotFoundError(f"{origin}: needed for --subset covered")
        n = len(questions)
        questions = [q for q in questions if q["id"] in covered]
        if not questions:   # was a report of 0 questions and null metrics, exit 0
            raise ValueError(f"0 of the {n} questions of {args.data or 'AmbigQA dev'} are covered by {origin}; "
                             "use --subset all, or the passage-origin file of this corpus")
    if args.limit is not None:
        questions = questions[: args.limit]
    return questions, covered


def cmd_retrieval(args: argparse.Namespace) -> int:
    import indexes
    from eval.retrieval import evaluate_runs, markdown
    from rag.defaults import default_index
    from rag.validation import require_at_least
    from retrievers.base import retrieve_batched
    from retrievers.factory import MODES, retriever_for, serves

    ks = _ints(args.k)
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"--mode takes a comma-separated subset of {MODES}, got {args.mode!r}")
    # --limit -1 dropped the last question and 0 meant all; --batch-size 0 died in range()
    require_at_least((("--limit", args.limit), ("--batch-size", args.batch_size)))
    if args.rewrite is not None:
        _rewrite_names(args.rewrite)  # before the baseline runs, not after
    from indexes.paths import check_outputs, write_atomic

    check_outputs({"--json": args.json, "--md": args.md},
                  {"--data": args.data, "--origin": args.origin, "index": args.index})
    questions, covered = _questions(args)
    index = indexes.load(args.index or default_index(device=args.device), device=args.device)
    missing = [m for m in modes + (["hybrid"] if args.rewrite is not None else []) if not serves(index.kinds, m)]
    if missing:   # was found after the runs before it, with a hint (--mode auto) this command refuses
        raise ValueError(f"the index has only {', '.join(sorted(index.kinds))}: it cannot run --mode "
                         f"{','.join(dict.fromkeys(missing))}" + (" (--rewrite runs on hybrid)" if args.rewrite else "")
                         + f"; use --mode {','.join(m for m in modes if serves(index.kinds, m)) or 'bm25'}")
    results, timings = {}, {}

    def run(name: str, retriever) -> None:
        t0 = time.time()
        runs = retrieve_batched(retriever, [q["question"] for q in questions], max(ks), args.batch_size,
                                f"retrieving ({name})")
        timings[name] = round(time.time() - t0, 2)
        results[name] = evaluate_runs(questions, runs, ks, covered)

    for mode in modes:
        run(mode, retriever_for(index, mode, fuse=args.fuse, device=args.device))
    for name, retriever in (_rewrite_variants(args, index).items() if args.rewrite is not None else ()):
        run(name, retriever)
    md = markdown(results, ks, [k for k in ks if k <= 20] or ks)
    sys.stdout.write(md)
    report = {"dataset": args.dataset, "index": str(index.path), "n_questions": len(questions), "ks": ks,
              "fuse": args.fuse, "seconds": timings,
              "modes": {m: r["summary"] for m, r in results.items()},
              "rows": {m: r["rows"] for m, r in results.items()}}
    if args.json:
        write_atomic(args.json, json.dumps(report, indent=2, ensure_ascii=False))
    if args.md:
        write_atomic(args.md, md)
    return 0

"""``ambigrag eval run``: the pipeline on a dataset, ambiguity reader vs ordinary-RAG baseline."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from eval.data import DATASETS

log = logging.getLogger("ambigrag")


def register(evs) -> None:
    p = evs.add_parser("run", help="run the readers on a dataset and score them side by side",
                       description="RAMDocs (and AmbigDocs with documents) use each question's own "
                                   "documents; AmbigQA retrieves from an index (default: the default "
                                   "index and the corpus-covered dev subset).")
    p.add_argument("--dataset", choices=DATASETS, required=True)
    p.add_argument("--data", help="a file in that dataset's format (default: the copy in ../shared/data)")
    p.add_argument("--reader", choices=("ambig", "baseline", "both"), default="both")
    p.add_argument("--limit", type=int, help="first N questions (after subsetting)")
    p.add_argument("--subset", choices=("covered", "all"), default="covered",
                   help="ambigqa: corpus-covered dev questions (default) or all")
    p.add_argument("--index", help="index directory (ambigqa/ambigdocs; default: the default index)")
    p.add_argument("-k", type=int, default=10, help="hits per question (default 10)")
    p.add_argument("--no-llm", action="store_true", help="rank answer spans without an LLM (ambig only)")
    p.add_argument("--llm-backend", choices=("auto", "llamacpp", "transformers"), default="transformers",
                   help="runtime for SmolLM2 (default transformers: slower to load, faster per passage)")
    p.add_argument("--extract", choices=("span", "generate", "score"), default="span",
                   help="evidence step: the trained span reader (default; the baseline is then the "
                        "one-answer reader with the same model), a verified LLM reply, or "
                        "LLM-scored candidate spans")
    p.add_argument("--reader-model", metavar="DIR", help="span reader directory (default: the shipped one)")
    p.add_argument("--max-passages", type=int,
                   help="passages each reader reads (default: all of a record's documents; 5 retrieved for ambigqa)")
    p.add_argument("--no-clarify", action="store_true", help="ambigqa: skip the simulated clarification runs")
    p.add_argument("--out", help="directory for predictions, report.json and report.md")
    p.add_argument("--json", metavar="OUT", help="summary metrics per reader (keys 'ambig', 'baseline')")
    p.set_defaults(func=cmd_run)


def _span_readers(args, scorer, n: int, data_path) -> dict:
    """The span reader and its one-answer baseline; refuses to score RAMDocs with a model trained on
    the same file (its figures are the out-of-fold ones of ``ambigrag train reader``)."""
    from readers.span_reader import SpanBaseline, SpanReader, span_ambig_reader
    from readers.span_train import data_hash

    model = SpanReader(args.reader_model)
    trained_on = model.manifest.get("training_data", {}).get("sha256")
    if data_path is not None and trained_on and trained_on == data_hash(data_path):
        raise ValueError(f"the span reader {model.version} was trained on {data_path}: scoring it there "
                         "would be in-sample. Out-of-fold figures: `ambigrag train reader` (report.md); "
                         "or pass --reader-model with a model trained on other questions")
    if data_path is not None and trained_on and args.dataset == "ramdocs":
        _refuse_training_questions(model, trained_on, data_path)
    out = {}
    if args.reader in ("ambig", "both"):
        gate = 0.0 if args.dataset == "ramdocs" else 0.5  # gold documents vs retrieved passages
        out["ambig"] = span_ambig_reader(reader=model, ambiguity=scorer, max_passages=n, min_relevance=gate)
    if args.reader in ("baseline", "both"):
        out["baseline"] = SpanBaseline(model, max_passages=n)
    return out


def _refuse_training_questions(model, trained_on: str, data_path) -> None:
    """A part of the reader's training file (``head -12 RAMDocs_dev.jsonl``) is in-sample too: when
    that file is the shared RAMDocs copy (same hash), refuse ``data_path`` questions it holds."""
    from eval.data import default_path, load_ramdocs
    from readers.span_train import data_hash

    train = default_path("ramdocs")
    if not train.is_file() or data_hash(train) != trained_on:
        return
    seen = {r["question"].strip().lower() for r in load_ramdocs(train)}
    overlap = [r["question"] for r in load_ramdocs(data_path) if r["question"].strip().lower() in seen]
    if overlap:
        raise ValueError(f"{len(overlap)} question(s) of {data_path} trained the span reader {model.version} "
                         f"(they are in {train}), e.g. {overlap[0]!r}: scoring them would be in-sample. "
                         "Out-of-fold figures: `ambigrag train reader`; or pass --reader-model with a model "
                         "trained on other questions")


def _readers(args, llm, scorer) -> dict:
    n = args.max_passages or (5 if args.dataset == "ambigqa" else 100)
    if n < 1:
        raise ValueError(f"--max-passages must be >= 1, got {n}")
    if args.extract == "span":
        from eval.data import default_path

        path = args.data or (default_path(args.dataset) if args.dataset == "ramdocs" else None)
        return _span_readers(args, scorer, n, path)
    from readers.baseline import BaselineReader
    from readers.evidence import SpanExtractor
    from readers.reader import AmbigReader

    out = {}
    if args.reader in ("ambig", "both"):
        out["ambig"] = AmbigReader(SpanExtractor(None if args.no_llm else llm, mode=args.extract),
                                   ambiguity=scorer, max_passages=n)
    if args.reader in ("baseline", "both"):
        if llm is None:
            raise ValueError("the baseline reader needs an LLM: pip install -e '.[llm]'")
        out["baseline"] = BaselineReader(llm, max_passages=n)
    return out


def _load(args) -> list[dict]:
    from eval import data
    from rag.validation import require_at_least

    # --max-passages 0 scored readers that read nothing
    require_at_least((("--limit", args.limit), ("-k", args.k), ("--max-passages", args.max_passages)))
    loader = {"ambigqa": data.load_ambigqa, "ramdocs": data.load_ramdocs, "ambigdocs": data.load_ambigdocs}
    records = loader[args.dataset](args.data)
    if args.dataset == "ambigqa" and args.subset == "covered":
        from eval.retrieval import covered_ids
        from rag.defaults import shared_data_dir

        ids = covered_ids(records, shared_data_dir() / "ambigqa_passages" / "passage_origin.jsonl")
        records = [r for r in records if r["id"] in ids]
    return records[: args.limit] if args.limit else records


def cmd_run(args: argparse.Namespace) -> int:
    import indexes
    from eval.run import run_ambigqa, run_gold_docs
    from indexes.paths import check_outputs
    from rag.defaults import default_index
    from rag.pipeline import default_llm
    from readers.reader import AmbiguityScorer

    out = Path(args.out) if args.out else None   # checked before the run, not after it
    check_outputs({"--json": args.json, "--out's report.json": out and out / "report.json",
                   "--out's report.md": out and out / "report.md"},
                  {"--data": args.data, "--index": args.index, "--reader-model": args.reader_model}, dirs={"--out": out})
    records = _load(args)
    if not records:
        covered = " in the corpus-covered subset (--subset covered, the default; try --subset all)" \
            if args.dataset == "ambigqa" and args.subset == "covered" else ""
        raise ValueError(f"no {args.dataset} questions to run{covered}")
    needs_llm = args.extract != "span" and not (args.no_llm and args.reader == "ambig")
    llm = default_llm(backend=args.llm_backend) if needs_llm else None
    gold_docs = args.dataset == "ramdocs" or (
        args.dataset == "ambigdocs" and all(d.get("text") for r in records for d in r["documents"]))
    index = None if gold_docs else indexes.load(args.index or default_index())
    encoder = index.encoder() if index is not None else None
    scorer = AmbiguityScorer(encoder=encoder) if args.dataset == "ambigqa" else None
    readers = _readers(args, llm, scorer)
    if gold_docs:
        report = run_gold_docs(args.dataset, records, readers)
    else:
        from retrievers.factory import retriever_for

        retriever = retriever_for(index, "hybrid", encoder=encoder)
        if args.dataset == "ambigdocs":  # the offline copy has no document texts: retrieve
            from retrievers.base import retrieve_batched

            hits = retrieve_batched(retriever, [r["question"] for r in records], args.k, batch_size=64,
                                    desc="retrieving")
            report = run_gold_docs(args.dataset, records, readers, hits=hits)
        else:
            clarify = None if args.no_clarify else readers.get("ambig")
            report = run_ambigqa(records, retriever, readers, k=args.k, clarify_reader=clarify, encoder=encoder)
    report["llm"] = getattr(llm, "id", None)
    _write(args, report)
    return 0


def _earlier_predictions(report_json: Path) -> set[str]:
    """The systems whose predictions the report already in the folder wrote: only those files are
    replaced or removed (any other ``predictions_*.json`` there is the user's)."""
    try:
        preds = json.loads(report_json.read_text(encoding="utf-8")).get("predictions", {})
    except (OSError, ValueError, AttributeError):
        return set()
    return {n for n in preds if isinstance(n, str) and n.replace("_", "").isalnum()} if isinstance(preds, dict) else set()


def _write(args, report: dict) -> None:
    from eval.report import write_report
    from indexes.paths import write_atomic

    md_path = json_path = None
    if args.out:
        out = Path(args.out)
        json_path, md_path = out / "report.json", out / "report.md"
        earlier = _earlier_predictions(json_path)
        for name, preds in report.get("predictions", {}).items():
            write_atomic(out / f"predictions_{name}.json", json.dumps(preds, indent=1, ensure_ascii=False))
        for name in sorted(earlier - set(report.get("predictions", {}))):   # the last run's other reader
            stale = out / f"predictions_{name}.json"
            if stale.is_file():
                stale.unlink()
                log.info("removed %s: the earlier report in this folder wrote it, this run did not", stale)
    md = write_report(report, json_path, title=f"{args.dataset}: ambig vs baseline ({report['n']} questions)")
    if "clarification" in report:
        from eval.report import summary_table

        md += "\n## Clarification (multi-answer questions, simulated user)\n\n" + summary_table(report["clarification"])
    if md_path:
        write_atomic(md_path, md)
    if args.json:
        write_atomic(args.json, json.dumps(report["systems"], indent=2))
    sys.stdout.write(md)

"""``ambigrag eval ...`` subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eval.data import DATASETS


def register(sub) -> None:
    ev = sub.add_parser("eval", help="evaluate predictions, retrieval or the pipeline")
    evs = ev.add_subparsers(dest="eval_cmd", required=True)
    p = evs.add_parser("score", help="score an existing prediction file with the official metrics",
                       description="AmbigQA predictions: {id: [answers]} or {id: [{question, answer}]} "
                                   "([] = abstain). AmbigDocs/RAMDocs: {id: response text} or a list "
                                   "aligned with the data (RAMDocs ids are 0-based line numbers).")
    p.add_argument("--dataset", choices=DATASETS, required=True)
    p.add_argument("--gold", help="gold file (default: the copy in ../shared/data)")
    p.add_argument("--pred", required=True, help="prediction file (JSON or JSONL)")
    p.add_argument("--json", metavar="OUT", help="write metrics, per-example rows and categories as JSON")
    p.add_argument("--md", metavar="OUT", help="also write the markdown table to a file")
    p.set_defaults(func=cmd_score)
    from eval.feedback_cli import register as register_feedback
    from eval.retrieval_cli import register as register_retrieval
    from eval.run_cli import register as register_run
    from readers.ambiguity_cli import register_eval as register_ambiguity

    register_retrieval(evs)
    register_ambiguity(evs)
    register_run(evs)
    register_feedback(evs)


def score_file(dataset: str, gold: str | Path | None, pred: str | Path) -> dict:
    """Score a prediction file; return ``{"dataset", "summary", "rows"}``."""
    from eval import ambigdocs, ambigqa, data, ramdocs

    if dataset == "ambigqa":
        ref = data.load_ambigqa(gold)
        preds = ambigqa.validate_predictions(data.read_json_or_jsonl(pred), [r["id"] for r in ref], str(pred))
        result = ambigqa.evaluate(ref, preds)
    elif dataset == "ramdocs":
        recs = data.load_ramdocs(gold)
        result = ramdocs.evaluate(recs, data.load_generations(pred, [r["id"] for r in recs]))
    else:
        exs = data.load_ambigdocs(gold)
        result = ambigdocs.evaluate(exs, data.load_generations(pred, [e["id"] for e in exs]))
    return {"dataset": dataset, **result}


def cmd_score(args: argparse.Namespace) -> int:
    from eval.report import write_report

    result = score_file(args.dataset, args.gold, args.pred)
    md = write_report(result, args.json, args.md, title=f"{args.dataset} scores for {args.pred}")
    sys.stdout.write(md)
    return 0

"""``ambigrag eval ...`` subcommands (``eval score`` here; the others in :mod:`rag.commands`)."""

from __future__ import annotations

import argparse
import sys

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
    p.add_argument("--pred", required=True, help="prediction file: a JSON object {id: answer text or [answers]}")
    p.add_argument("--json", metavar="OUT", help="write metrics, per-example rows and categories as JSON")
    p.add_argument("--md", metavar="OUT", help="also write the markdown table to a file")
    p.add_argument("--only-predicted", action="store_true",
                   help="score only the gold questions the file predicts, an {id: ...} object (e.g. the "
                        "predictions_*.json of `eval run --limit N`, or the covered questions answered); default: "
                        "every gold question must be there")
    p.set_defaults(func=cmd_score)
    from eval.feedback_cli import register as register_feedback
    from rag.commands.ambiguity_cli import register_eval as register_ambiguity
    from rag.commands.policy_cli import register as register_policy
    from rag.commands.retrieval_cli import register as register_retrieval
    from rag.commands.run_cli import register as register_run

    register_retrieval(evs)
    register_ambiguity(evs)
    register_run(evs)
    register_feedback(evs)
    register_policy(evs)


def cmd_score(args: argparse.Namespace) -> int:
    from eval.report import write_report
    from eval.score import score_file
    from indexes.paths import check_outputs

    check_outputs({"--json": args.json, "--md": args.md}, {"--pred": args.pred, "--gold": args.gold})
    result = score_file(args.dataset, args.gold, args.pred, only_predicted=args.only_predicted)
    md = write_report(result, args.json, args.md, title=f"{args.dataset} scores for {args.pred}")
    sys.stdout.write(md)
    return 0

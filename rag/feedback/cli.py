"""``ambigrag feedback export|stats|crossval``: the feedback database for training and review."""

from __future__ import annotations

import sys


def register(sub) -> None:
    fb = sub.add_parser("feedback", help="export or count stored feedback")
    fbs = fb.add_subparsers(dest="feedback_cmd", required=True)
    db_help = "feedback database (default: feedback.sqlite in the user data directory)"
    p = fbs.add_parser("export", help="one JSON record per interaction, for training",
                       description="Write one JSONL record per interaction: question, turns, the answer "
                                   "shown with what the reader logged, ratings and follow-ups.")
    p.add_argument("--db", help=db_help)
    p.add_argument("--out", required=True, help="JSONL file to write ('-': standard output)")
    p.set_defaults(func=cmd_export)
    p = fbs.add_parser("stats", help="counts by answer kind, rating and follow-up label")
    p.add_argument("--db", help=db_help)
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=cmd_stats)
    p = fbs.add_parser("crossval", help="per-label accuracy of the follow-up classifier (k-fold)")
    p.add_argument("--data", help="labelled follow-ups JSONL (default: the shipped set)")
    p.add_argument("--folds", type=int, default=5)
    p.set_defaults(func=cmd_crossval)


def _open(path):
    from pathlib import Path

    from rag.feedback.store import FeedbackStore, default_db_path

    path = Path(path) if path else default_db_path()
    if not path.exists():
        raise FileNotFoundError(f"no feedback database at {path}")
    return FeedbackStore(path, readonly=True)


def cmd_export(args) -> int:
    from indexes.paths import check_outputs

    if args.out != "-":   # not into the shared data or over the database
        check_outputs({"--out": args.out}, {"--db": args.db})
    n = _open(args.db).export(args.out)
    if args.out == "-":   # stdout holds the records
        print(f"wrote {n} interactions to standard output", file=sys.stderr)
    else:
        print(f"wrote {n} interactions to {args.out}")
    return 0


def cmd_stats(args) -> int:
    import json

    stats = _open(args.db).stats()
    if args.json:
        print(json.dumps(stats))
        return 0
    for name, counts in stats.items():
        total = sum(counts.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
        print(f"{name:<9} {total:>6}  ({detail})")
    return 0


def cmd_crossval(args) -> int:
    from rag.feedback.implicit import LABELS, cross_validate, held_out, load_examples

    if args.folds < 2:
        raise ValueError(f"--folds must be >= 2, got {args.folds}")
    res = cross_validate(load_examples(args.data) if args.data else None, k=args.folds)
    print("| classifier | " + " | ".join(LABELS) + " | all | n |")
    print("|---" * (len(LABELS) + 3) + "|")
    if not args.data:
        res["held-out (rules+nb)"] = held_out()
    for name, acc in res.items():
        print(f"| {name} | " + " | ".join("-" if acc[lab] != acc[lab] else f"{acc[lab]:.3f}"   # NaN: no examples
                                          for lab in (*LABELS, "all")) + f" | {acc['n']} |")
    return 0

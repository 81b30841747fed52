"""``ambigrag train reader``: cross-validate the span reader, then train and save it.

1. ``k``-fold cross-validation split by question (:func:`eval.reader_cv.cross_validate`): the
   out-of-fold predictions go to ``OUT/cv/oof-fold*.jsonl``;
2. the out-of-fold report ``OUT/cv/report.json`` and ``report.md``: per-passage figures,
   question-level RAMDocs EM with the aggregation settings of each fold chosen on its training
   folds, and the one-answer baseline with the same spans;
3. the reader trained on every question, saved to ``OUT`` with the metrics and the aggregation
   settings chosen on all out-of-fold predictions in its manifest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from indexes.paths import write_atomic


def register(train_sub) -> None:
    p = train_sub.add_parser("reader", help="train the extractive span reader (cross-validated)",
                             description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="RAMDocs-style JSONL (question, documents[text, type, answer])")
    p.add_argument("--out", required=True, help="reader directory to write (manifest.json + weights)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds, split by question (default 5)")
    p.add_argument("--no-cv", action="store_true", help="skip cross-validation (no out-of-fold metrics)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold split and of training")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--train-layers", type=int, default=4, help="top encoder layers trained (the rest frozen)")
    p.add_argument("--max-length", type=int, default=256, help="tokens per window")
    p.add_argument("--stride", type=int, default=96, help="overlap of consecutive windows, tokens")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=cmd_train_reader)


def oof_report(rows: list[dict], records: list[dict]) -> dict:
    """Metrics of out-of-fold predictions (see module docstring)."""
    from eval.reader_cv import (
        add_labels,
        best_aggregation,
        nested_question_em,
        one_answer_em,
        passage_metrics,
    )

    rows = add_labels(rows, records)
    nested = nested_question_em(rows)
    chosen, em_all = best_aggregation(rows)
    baseline = one_answer_em(rows)
    return {"n_questions": len(rows), "passage": passage_metrics(rows),
            "ramdocs_em": nested["ramdocs_em"], "one_answer_baseline_em": round(baseline, 4),
            "ratio_to_baseline": round(nested["ramdocs_em"] / baseline, 2) if baseline else None,
            "per_fold": nested["per_fold"],
            "aggregation": {"settings": chosen, "em_on_all_oof_rows_not_reported": round(em_all, 4)},
            "rows": [{"qid": r["qid"], "fold": r["fold"]} for r in rows]}


def markdown(rep: dict) -> str:
    p = rep["passage"]
    lines = ["# Span reader: out-of-fold report", "",
             f"{rep['n_questions']} questions, {len(rep['per_fold'])} folds split by question.", "",
             "| measure | value |", "|---|---|",
             f"| per-passage EM, correct documents (best span) | {p.get('correct_em', 0):.3f} |",
             f"| per-passage EM, correct documents, answered (span beats no-answer) | {p.get('correct_em_answered', 0):.3f} |",
             f"| best span overlaps the answer, correct documents | {p.get('correct_overlap', 0):.3f} |",
             f"| noise documents read as no-answer | {p.get('noise_no_answer', 0):.3f} |",
             f"| misinformation documents: best span = their (wrong) answer | {p.get('misinfo_em', 0):.3f} |",
             f"| RAMDocs EM (aggregation chosen on each fold's training folds) | {rep['ramdocs_em']:.3f} |",
             f"| one-answer baseline EM (same spans) | {rep['one_answer_baseline_em']:.3f} |", "",
             "| fold | n | EM | settings (chosen on the other folds) |", "|---|---|---|---|"]
    lines += [f"| {f['fold']} | {f['n']} | {f['ramdocs_em']:.3f} | {json.dumps(f['settings'], sort_keys=True)} |"
              for f in rep["per_fold"]]
    return "\n".join(lines) + "\n"


def cmd_train_reader(args) -> int:
    from eval.reader_cv import cross_validate, train_and_ship
    from rag.validation import require_at_least
    from readers.span_train import (
        TrainSettings,
        check_folds,
        data_hash,
        examples_from_records,
        read_jsonl,
    )

    require_at_least((("--threads", args.threads),))   # -1 was a torch traceback, 0 silently ignored
    settings = TrainSettings(max_length=args.max_length, stride=args.stride, epochs=args.epochs, lr=args.lr,
                             batch_size=args.batch_size, train_layers=args.train_layers, seed=args.seed)
    records = read_jsonl(args.data)
    if not records:
        raise ValueError(f"{args.data}: no records")
    examples, skipped = examples_from_records(records)
    if not examples:   # it was an IndexError inside transformers, after the model loaded
        raise ValueError(f"{args.data}: no trainable examples ({skipped} document(s) skipped: an answer that is "
                         "not in its text, or a document without a type)")
    if not args.no_cv:
        check_folds(len(records), args.folds)
    out = Path(args.out)
    from indexes.paths import check_outputs

    check_outputs({}, {"--data": args.data}, dirs={"--out": out})
    _check_out(out)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    extra = None
    if not args.no_cv:
        rows = cross_validate(records, settings, out / "cv", folds=args.folds, seed=args.seed)
        rep = oof_report(rows, records)
        write_atomic(out / "cv" / "report.json", json.dumps(rep, indent=1))
        write_atomic(out / "cv" / "report.md", markdown(rep))
        print(markdown(rep))
        extra = rep
    path = train_and_ship(records, settings, out, data_sha256=data_hash(args.data),
                          metrics={k: v for k, v in (extra or {}).items() if k not in ("rows", "aggregation")})
    if extra:
        attach(path, {"aggregation": extra["aggregation"]})
    print(f"saved the reader to {path}")
    return 0


def _check_out(out: Path) -> None:
    """Before training (it takes minutes to hours): ``--out`` must be new, empty, or a reader
    directory to replace. A file failed only after training; a version store (``ambigrag learn
    --out``) was shadowed by a manifest written at its top, so its versions stopped being used."""
    from readers.versions import STATE

    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a directory")
    if (out / STATE).exists():
        raise ValueError(f"--out {out}: is a reader version store (ambigrag learn --out); choose another directory")
    others = sorted(p.name for p in out.iterdir() if p.name != "cv") if out.is_dir() else []
    if others and not _is_reader(out):   # (a cv/ of an interrupted run may stay)
        found = ", ".join(others[:5])
        raise ValueError(f"--out {out}: holds other files ({found}) and no span reader; choose a new or empty "
                         "directory")


def _is_reader(d: Path) -> bool:
    """Whether ``d`` holds a saved span reader (a manifest of that format), which ``--out`` may
    replace; an ambiguity model's or an index's manifest is not one."""
    from indexes.paths import manifest_field
    from readers.span_model import FORMAT

    return manifest_field(d, "format") == FORMAT


def attach(model_dir: str | Path, fields: dict) -> None:
    """Add fields to a saved reader's manifest (atomically; the weights checksum is unchanged)."""
    path = Path(model_dir) / "manifest.json"
    m = json.loads(path.read_text())
    m.update(fields)
    write_atomic(path, json.dumps(m, indent=1, sort_keys=True))

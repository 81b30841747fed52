"""``ambigrag learn``: one round of learning the span reader from stored feedback.

1. The version store ``--out`` (:class:`readers.versions.ReaderVersions`) starts, on first use,
   from a copy of ``--reader`` (default: the shipped reader) as its current version.
2. The feedback (``--feedback FILE.jsonl``: the output of ``ambigrag feedback export`` or
   learner records, :class:`readers.bandit.Feedback`; or ``--feedback-db``, the feedback store;
   with neither, the store ``ambigrag serve`` writes by default) becomes bandit targets: every
   rated interaction's shown span, its logged probability and its reward
   (:data:`readers.bandit.REWARDS`, :data:`readers.bandit.IMPLICIT_REWARDS`).
3. A candidate is trained from the current version on all of it (:func:`readers.bandit.update`;
   with ``--supervised FILE``, gold spans of that RAMDocs-style file are mixed into every batch,
   as ``eval feedback`` does with its seed questions)
   and saved as a new version; it is promoted only if its passage accuracy on the fixed check set
   (``--check``, RAMDocs-style; the first ``--check-questions`` questions) is not below the current
   version's. The previous version is kept: ``ambigrag learn --out DIR --rollback`` restores it.
   The shipped reader trained on all of RAMDocs dev, the default check set: a warning says so
   (the promotion rule then checks what the reader kept of its training); pass held-out questions.

What changed is printed: the feedback used, the shown spans' probabilities before and after by
label (rating or implicit follow-up), the check-set scores and the decision.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("learn", help="learn the span reader from stored feedback (one round)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--feedback", metavar="FILE",
                     help="JSONL: the output of `ambigrag feedback export` (one interaction a line; passage texts "
                          "from --index) or learner records (one shown span a line, fields in the README)")
    src.add_argument("--feedback-db", metavar="PATH",
                     help="feedback store (SQLite), read through its export (default, without --feedback: "
                          "the store `ambigrag serve` writes by default, feedback.sqlite in the user data directory)")
    p.add_argument("--index", help="with --feedback-db or an export: the index the server answered from (passage texts; "
                                   "default: the default index)")
    p.add_argument("--out", required=True, help="reader version store (created on first use)")
    p.add_argument("--reader", metavar="DIR", help="starting reader for a new store (default: the shipped one)")
    p.add_argument("--check", metavar="FILE",
                   help="RAMDocs-style check set of questions the reader did not train on (default: RAMDocs dev "
                        "in ../shared/data, which the shipped reader trained on: a warning says so)")
    p.add_argument("--check-questions", type=int, default=40,
                   help="questions of the check set used (the first N; default 40)")
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate of the update (default 1e-4)")
    p.add_argument("--epochs", type=int, default=2, help="passes over the feedback (default 2, as eval feedback)")
    p.add_argument("--train-layers", type=int, default=3,
                   help="top layers trained with the head (default 3, as eval feedback's chosen recipe)")
    p.add_argument("--supervised", metavar="FILE",
                   help="RAMDocs-style questions whose gold spans are mixed into every batch (the paper's "
                        "optional supervised mix; e.g. the data the reader was seeded with); not the check set")
    p.add_argument("--supervised-mix", type=int, default=16, metavar="N",
                   help="gold spans of --supervised added to each batch of 16 ratings (default 16, as eval feedback)")
    p.add_argument("--rollback", action="store_true", help="make the previous version current again and stop")
    p.set_defaults(func=cmd_learn)


def load_feedback(args) -> list:
    from rag.feedback.store import FeedbackStore
    from readers.bandit import read_feedback

    if args.feedback and not _is_export(args.feedback):
        return read_feedback(args.feedback)
    if args.feedback:   # `ambigrag feedback export` records: the logged spans, texts from --index
        source, records = args.feedback, _export_records(args.feedback)
    else:
        source = _feedback_db(args)
        records = FeedbackStore(source, readonly=True).records()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "feedback.jsonl"
        if records_to_learner_jsonl(records, args.index, out) == 0:
            raise ValueError(f"{source}: no rated interaction with a logged span")
        return read_feedback(out)


def feedback_source(args) -> str:
    """The feedback file or database a round learns from, as the user named it."""
    return str(args.feedback or args.feedback_db or "the web server's default feedback store")


def _feedback_db(args) -> Path:
    """``--feedback-db``, or without it the store ``ambigrag serve`` writes by default; it must exist."""
    from rag.feedback.store import default_db_path

    db = Path(args.feedback_db) if args.feedback_db else default_db_path()
    if args.feedback_db is None and db.is_file():
        print(f"feedback: {db} (the web server's default store)")
    if not db.is_file():
        hint = "" if args.feedback_db else (" (the web server's default store); "
                                            "pass --feedback FILE.jsonl or --feedback-db PATH")
        raise FileNotFoundError(f"{db}: no such feedback database{hint}")
    return db


def _is_export(path: str | Path) -> bool:
    """Whether a --feedback file holds ``ambigrag feedback export`` records (interactions with
    their turns) rather than learner records (one shown span a line). A bad first line is named
    by :func:`~indexes.datafiles.jsonl_objects`, as read_feedback would name it."""
    from indexes.datafiles import jsonl_objects

    first = next(jsonl_objects(path), None)
    return first is not None and "turns" in first[1]


def _export_records(path: str | Path):
    from indexes.datafiles import jsonl_objects

    for n, rec in jsonl_objects(path):
        if not isinstance(rec.get("turns"), list):
            raise ValueError(f"{path}:{n}: not a feedback export record (no turns)")
        yield rec


def records_to_learner_jsonl(records, index_dir: str | Path | None, out: Path) -> int:
    """Exported interactions as learner records: every span shown in an interaction's last answer,
    with its explicit rating and the implicit label of its follow-ups (``judgement``); passage
    texts from the index the server answered from. Returns the number of records written."""
    from indexes.store import PassageLookup
    from rag.defaults import default_index
    from rag.feedback.implicit import judgement

    index_dir = index_dir or default_index()
    lookup = PassageLookup(index_dir)
    n = missing = 0
    with open(out, "w", encoding="utf-8") as f:
        for rec in records:
            answered = [t for t in rec["turns"] if t.get("reader_logs")]
            implicit = judgement(rec["followups"])
            if not answered or (rec["rating"] is None and implicit is None):
                continue
            for log in answered[-1]["reader_logs"]:
                p = lookup(log["passage_id"]) if log.get("passage_id") else None
                missing += p is None and bool(log.get("passage_id"))
                if p is None or log.get("span_start") is None or not log.get("probability"):
                    continue
                f.write(json.dumps({"question": rec["question"], "passage_text": p.text,
                                    "span_start": log["span_start"], "span_end": log["span_end"],
                                    "span_text": log["span"], "probability": log["probability"],
                                    "model_version": log["model_version"], "rating": rec["rating"],
                                    "implicit": implicit}) + "\n")
                n += 1
    if n == 0 and missing:
        raise ValueError(f"{missing} rated span(s) cite passages that are not in the index {index_dir}; "
                         f"pass --index with the index the server answered from")
    return n


def check_accuracy(tok, model, records: list[dict], settings, desc: str = "check set") -> float:
    from eval.reader_cv import passage_metrics, predict_records

    rows = predict_records(tok, model, records, list(range(len(records))), settings, desc=desc)
    return passage_metrics(rows).get("correct_em", 0.0)


def _mean_p(logps: list[float], labels: list[str], label: str) -> str:
    ps = [math.exp(lp) for lp, lab in zip(logps, labels) if lab == label]
    return f"{sum(ps) / len(ps):.3f}"


@dataclass(frozen=True)
class CheckedFile:
    """A RAMDocs-style file read once: its path, sha256 (as manifests record training data) and records."""

    path: Path
    sha256: str
    records: list[dict]

    @classmethod
    def read(cls, path: str | Path) -> CheckedFile:
        from eval.data import load_ramdocs
        from readers.span_train import data_hash

        records = load_ramdocs(path)  # first: its errors name the file and the record
        return cls(Path(path), data_hash(path), records)


def cmd_learn(args) -> int:
    from indexes.paths import check_outputs
    from readers.versions import ReaderVersions

    check_outputs({}, {"--feedback": args.feedback, "--feedback-db": args.feedback_db, "--index": args.index,
                       "--check": args.check, "--supervised": args.supervised}, dirs={"--out": args.out})
    store = ReaderVersions(args.out)
    with store.locked():   # one round (or rollback) at a time: two would promote over each other
        return _learn(args, store)


def _learn(args, store) -> int:
    from rag.validation import require_at_least

    if args.rollback:
        ignored = [f for f, v in (("--feedback", args.feedback), ("--feedback-db", args.feedback_db),
                                  ("--reader", args.reader), ("--check", args.check), ("--supervised", args.supervised),
                                  ("--index", args.index)) if v]
        if ignored:   # they were silently ignored
            raise ValueError(f"--rollback only switches versions; it takes no {', '.join(ignored)}")
        cur = store.rollback()
        print(f"rolled back: current version is now {cur.name}")
        return 0
    require_at_least((("--check-questions", args.check_questions), ("--epochs", args.epochs),
                      ("--supervised-mix", args.supervised_mix)))
    if args.reader and store.current() is not None:   # it was silently ignored
        raise ValueError(f"--reader {args.reader}: {store.root} already has versions (current "
                         f"{store.current().name}); --reader only starts a new store")
    if not 0 < args.lr < math.inf or args.train_layers < 0:
        raise ValueError(f"need --lr > 0 and --train-layers >= 0, got --lr {args.lr} --train-layers {args.train_layers}")
    from eval.data import default_path

    check_path = Path(args.check) if args.check else default_path("ramdocs")
    check_file = CheckedFile.read(check_path)
    gold = None
    if args.supervised:
        gold = CheckedFile.read(args.supervised)
        if gold.sha256 == check_file.sha256:
            raise ValueError(f"--supervised {args.supervised} is the check set: the promotion rule would score "
                             "the candidate on gold spans it trained on; pass another --check or --supervised file")
    feedback = load_feedback(args)
    return learn_round(store, feedback, check_file.records[: args.check_questions], args,
                       check_file=check_file, gold=gold)


def warn_if_trained_on(manifest: dict, name: str, check_file: CheckedFile | None, n: int) -> bool:
    """Warn (stderr) when the check set's file is the one the reader's manifest says trained it
    (``training_data.sha256``, as ``ambigrag run`` checks): the promotion rule would then measure
    what the reader keeps of its training. The shipped reader trained on all of RAMDocs dev, the
    default check set. Returns whether it warned."""
    import sys

    trained_on = manifest.get("training_data", {}).get("sha256")
    if check_file is None or not trained_on or trained_on != check_file.sha256:
        return False
    print(f"warning: {check_file.path} trained reader {name} (its manifest's training data), so its first {n} "
          "questions check what the reader keeps of its training, not how it reads questions it has not "
          "seen; pass --check with held-out questions", file=sys.stderr)
    return True


def supervised_targets(tok, gold: CheckedFile | None, windows) -> tuple[list, dict]:
    """(targets, record): the gold spans of a RAMDocs-style file as supervised targets, and what to
    record of them in the new version's manifest; nothing without a file."""
    from readers.bandit import targets_from_examples
    from readers.span_train import examples_from_records

    if gold is None:
        return [], {}
    examples, _ = examples_from_records(gold.records)
    targets = targets_from_examples(tok, examples, windows.max_length, windows.stride)
    print(f"supervised mix: {len(targets)} gold-span windows from {len(gold.records)} questions of {gold.path}")
    return targets, {"supervised": {"file": str(gold.path), "sha256": gold.sha256, "questions": len(gold.records),
                                    "targets": len(targets)}}


def learn_round(store, feedback: list, check: list[dict], args, check_file: CheckedFile | None = None,
                gold: CheckedFile | None = None) -> int:
    from dataclasses import asdict

    from readers.bandit import (
        BanditSettings,
        ModelScorer,
        shown_logprobs,
        targets_from_feedback,
        update,
    )
    from readers.span_model import load_reader, shipped_reader_dir
    from readers.span_train import TrainSettings, trainable_names
    from readers.versions import resolve_reader_dir

    start = store.current() or resolve_reader_dir(args.reader or shipped_reader_dir())
    tok, model, manifest = load_reader(start)
    ms = manifest.get("settings", {})
    windows = TrainSettings(max_length=ms.get("max_length", 256), stride=ms.get("stride", 96))
    targets, labels, counts = targets_from_feedback(tok, feedback, windows.max_length, windows.stride)
    if not targets:   # before a new store is made: a refused round leaves nothing (it left v0001)
        raise ValueError(f"{feedback_source(args)}: no rated feedback to learn from ({len(feedback)} records, "
                         f"{counts['no_reward']} without reward)")
    if store.current() is None:
        first = store.add_copy(start)
        store.promote(first, new_score=None, old_score=None)
        print(f"new version store {store.root}: starts from {args.reader or 'the shipped reader'} as {first.name}")
    current = store.current()
    warn_if_trained_on(manifest, current.name, check_file, len(check))
    scorer = ModelScorer(model)
    before, old = shown_logprobs(scorer, targets), check_accuracy(tok, model, check, windows, "check set: current")
    gold_targets, gold_info = supervised_targets(tok, gold, windows)
    bs = BanditSettings(lr=args.lr, epochs=args.epochs, train_layers=args.train_layers,
                        supervised=args.supervised_mix if gold_targets else 0)
    stats = update(model, targets, supervised=gold_targets, settings=bs, progress=True)
    after, new = shown_logprobs(scorer, targets), check_accuracy(tok, model, check, windows, "check set: candidate")
    trained = sorted(set(manifest["trained_parameters"]) | set(trainable_names(model, args.train_layers)))
    extra = {k: manifest[k] for k in ("aggregation", "training_data") if k in manifest}
    extra["learned_from"] = {"feedback": counts, "bandit": asdict(bs), **gold_info, **stats}
    cand = store.add(model, base=manifest["base_model"], trained=trained, settings=ms, extra=extra)
    promoted = store.promote(cand, new_score=new, old_score=old)
    _report(len(feedback), counts, targets, labels, before, after, stats)
    print(f"check set ({len(check)} questions) passage accuracy: {current.name} {old:.3f} -> {cand.name} {new:.3f}")
    if promoted:
        print(f"promoted {cand.name}; {current.name} kept for rollback "
              f"(ambigrag learn --out {shlex.quote(str(store.root))} --rollback)")
    else:
        print(f"refused {cand.name} (loses on the check set); current stays {current.name}")
    root = shlex.quote(str(store.root))   # pasteable when the path has spaces
    print(f"answer with the current version: ambigrag ask QUESTION --reader-model {root} "
          f"(or ambigrag serve --reader-model {root})")
    return 0


def _report(n: int, counts: dict, targets: list, labels: list[str], before: list[float], after: list[float],
            stats: dict) -> None:
    from collections import Counter

    by, rewards = Counter(labels), {lab: t.reward for lab, t in zip(labels, targets)}
    print(f"feedback: {n} records, {counts['used']} used ({', '.join(f'{k} {v}' for k, v in by.items())}), "
          f"{counts['no_reward']} without reward, {counts['not_in_window']} spans not in one window")
    print("shown spans' mean probability before -> after, by label: "
          + ", ".join(f"{k} ({rewards[k]:+g}) {_mean_p(before, labels, k)} -> {_mean_p(after, labels, k)}"
                      for k in by))
    print(f"update: {stats['steps']} steps, mean clipped weight {stats['mean_weight']:.3f}, {stats['seconds']:.1f} s")

"""``ambigrag train ambiguity`` and ``ambigrag eval ambiguity``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from indexes.paths import write_atomic
from readers.ambiguity import FeatureSpec, label, shipped_model_dir

SPECS = {"question": FeatureSpec(), "evidence": FeatureSpec(evidence=True)}


def register_train(sub) -> None:
    p = sub.add_parser("ambiguity", help="train the question-ambiguity classifiers",
                       description="Train the question-only and question+evidence models on AmbigQA "
                                   "train_light (never dev). The decision threshold is then picked on "
                                   "--threshold-data, by default AmbigQA dev (as the shipped models were), "
                                   "so their dev accuracy is tuned on dev; AUROC and ECE are not. "
                                   "Reproducible for a fixed --seed.")
    p.add_argument("--train", help="AmbigQA-format training file (default ../shared/data/ambigqa/train_light.json)")
    p.add_argument("--out", required=True, help="output directory; models go to OUT/ambiguity_{question,evidence}")
    p.add_argument("--index", help="index for the evidence features (default: the default index)")
    p.add_argument("--models", default="question,evidence", help="which models (comma-separated)")
    p.add_argument("--threshold-data", default="dev",
                   help="AmbigQA file whose accuracy picks the decision threshold ('dev': dev_light; "
                        "'none': keep the train calibration split's threshold)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the fit/calibration split (default 0)")
    p.set_defaults(func=cmd_train)


def register_eval(evs) -> None:
    p = evs.add_parser("ambiguity", help="accuracy, F1, AUROC and ECE of the ambiguity classifiers",
                       description="Accuracy, F1, AUROC and ECE of the question-only and question+evidence "
                                   "ambiguity classifiers on --data (default AmbigQA dev), beside the training "
                                   "majority. The shipped models' threshold was picked on dev, so their dev "
                                   "accuracy and F1 are tuned on it; AUROC and ECE do not use the threshold.")
    p.add_argument("--data", help="AmbigQA-format file (default ../shared/data/ambigqa/dev_light.json)")
    p.add_argument("--models", help="directory holding ambiguity_question/ and ambiguity_evidence/ "
                                    "(default: the shipped models)")
    p.add_argument("--index", help="index for the evidence features (default: the default index)")
    p.add_argument("--train", help="training file, for the majority baseline (default train_light)")
    p.add_argument("--json", metavar="OUT", help="write the table as JSON (and the diagram beside it as .png)")
    p.add_argument("--plot", metavar="PNG", help="reliability diagram (default: beside --json, else none)")
    p.set_defaults(func=cmd_eval)


def _encode(questions: list[str]) -> np.ndarray:
    from indexes.dense import SentenceEncoder

    return SentenceEncoder(batch_size=128).encode(questions, progress=True)


def _retriever(index_dir: str | None):
    """The hybrid retriever of the evidence features, over ``index_dir`` or the default index."""
    import indexes
    from rag.defaults import default_index
    from retrievers.factory import retriever_for

    return retriever_for(indexes.load(index_dir or default_index()), "hybrid")


def _hits(questions: list[str], retriever) -> list:
    from retrievers.base import retrieve_batched

    return retrieve_batched(retriever, questions, 10, batch_size=128, desc="evidence (hybrid top-10)")


def cmd_train(args: argparse.Namespace) -> int:
    from eval.data import default_path, load_ambigqa, refuse_dev_questions
    from indexes.index import sha256_file
    from indexes.paths import check_outputs
    from rag.validation import require_at_least
    from readers.ambiguity import build_features
    from readers.ambiguity_train import best_threshold, check_trainable, train

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    if not names or any(n not in SPECS for n in names):  # was a KeyError trace after encoding
        raise ValueError(f"--models must be a comma-separated subset of {','.join(SPECS)}, got {args.models!r}")
    require_at_least([("--seed", args.seed)], minimum=0)
    check_outputs({}, {"--train": args.train, "--index": args.index,
                       "--threshold-data": None if args.threshold_data in ("dev", "none") else args.threshold_data},
                  dirs={"--out": args.out, **{f"--out's ambiguity_{n}": Path(args.out) / f"ambiguity_{n}"
                                              for n in names}})
    path = Path(args.train) if args.train else default_path("ambigqa").with_name("train_light.json")
    records = load_ambigqa(path)
    refuse_dev_questions(records, f"--train {path}")   # a copy of dev under another name was trained on
    check_trainable(path, [label(r) for r in records])
    questions = [r["question"] for r in records]
    trecs = None   # the threshold file and the index are checked before minutes of encoding
    if args.threshold_data != "none":
        tpath = default_path("ambigqa") if args.threshold_data == "dev" else Path(args.threshold_data)
        trecs = load_ambigqa(tpath)
    retriever = _retriever(args.index) if "evidence" in names else None
    t0 = time.time()
    emb = _encode(questions)
    hits = _hits(questions, retriever) if retriever is not None else None
    meta = {"encoder": "sentence-transformers/all-MiniLM-L6-v2", "train_file": path.name,
            "train_sha256": sha256_file(path), "n_train": len(records),
            "label": "any annotation is multipleQAs"}
    thr = None
    if trecs is not None:
        tq = [r["question"] for r in trecs]
        thr = (trecs, _encode(tq), _hits(tq, retriever) if retriever is not None else None)
        meta["threshold_file"] = tpath.name
    for name in names:
        model, report = train(records, emb, SPECS[name], hits if SPECS[name].evidence else None,
                              seed=args.seed, meta=meta)
        if thr is not None:
            y = np.array([label(r) for r in thr[0]], dtype=np.float64)
            p = model.predict_proba(build_features(SPECS[name], thr[1], [r["question"] for r in thr[0]],
                                                   thr[2] if SPECS[name].evidence else None))
            model.threshold = best_threshold(p, y)
        out = model.save(Path(args.out) / f"ambiguity_{name}")
        write_atomic(out / "train_report.json", json.dumps(report, indent=2))
        print(f"{name}: {out} threshold {model.threshold:.3f}, calibration accuracy "
              f"{report['calibration_accuracy']:.3f}, log loss {report['calibration_log_loss']:.3f}")
    print(f"trained in {time.time() - t0:.0f} s")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.data import default_path, load_ambigqa
    from eval.report import markdown_table
    from indexes.paths import check_outputs, plot_format
    from readers.ambiguity import AmbiguityModel, build_features
    from readers.ambiguity_train import majority_baseline, metrics, reliability_diagram

    plot = args.plot or (str(Path(args.json).with_suffix(".png")) if args.json else None)
    if plot:
        plot_format(plot)   # a suffix matplotlib cannot write failed after all the encoding
    check_outputs({"--json": args.json, "--plot" if args.plot else "--json's plot": plot},
                  {"--data": args.data, "--train": args.train, "--models": args.models, "--index": args.index})
    models = {name: AmbiguityModel.load(Path(args.models) / f"ambiguity_{name}" if args.models
                                        else shipped_model_dir(name), expect=spec)
              for name, spec in SPECS.items()}  # a bad --models fails here, not after retrieval
    records = load_ambigqa(args.data)
    train_path = Path(args.train) if args.train else default_path("ambigqa").with_name("train_light.json")
    y = np.array([label(r) for r in records], dtype=np.float64)
    y_train = np.array([label(r) for r in load_ambigqa(train_path)], dtype=np.float64)
    questions = [r["question"] for r in records]
    emb = _encode(questions)
    hits = _hits(questions, _retriever(args.index))
    rows = [{"model": "majority of train (never ambiguous)", **majority_baseline(y_train, y)},
            {"model": "always ambiguous", **majority_baseline(np.ones(1), y)}]
    curves, timing = {}, {}
    for name, spec in SPECS.items():
        model = models[name]
        t0 = time.perf_counter()
        p = model.predict_proba(build_features(spec, emb, questions, hits if spec.evidence else None))
        timing[name] = (time.perf_counter() - t0) / len(questions) * 1e3
        rows.append({"model": f"question{' + evidence' if spec.evidence else ' only'}",
                     **metrics(p, y, model.threshold)})
        curves[rows[-1]["model"]] = (p, y)
    sys.stdout.write(markdown_table(rows, ["model", "accuracy", "f1_ambiguous", "auroc", "ece", "threshold"]))
    print(f"ambiguous rate: {y.mean():.3f} of {len(y)}; classifier time per question (features given): "
          + ", ".join(f"{k} {v:.3f} ms" for k, v in timing.items()))
    if args.json:   # before the plot: a plot that fails must not lose the figures
        write_atomic(args.json, json.dumps({"n": len(y), "ambiguous_rate": float(y.mean()), "rows": rows,
                                            "ms_per_question": timing}, indent=2))
    if plot:
        reliability_diagram(curves, plot)
        print(f"reliability diagram: {plot}")
    return 0

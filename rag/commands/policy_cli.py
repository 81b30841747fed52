"""``ambigrag eval policy``: learn when to answer, answer completely, clarify or abstain from
simulated future turns (issue 15 part 3), and compare it with the ambiguity classifier.

Training questions: AmbigQA ``train_light`` questions whose retrieved passages hold a gold answer
(:func:`eval.policy_sim.answer_in_hits`). Evaluation: the corpus-covered AmbigQA dev questions
(never trained on): all of them for when-to-clarify, and the covered ones. The policy's features
include the ambiguity classifier's P(ambiguous): out-of-fold (5 folds) on the training questions,
the shipped model's on dev. The ridge strength is chosen by 5-fold cross-validation on the training
questions. Simulated outcomes are cached in ``--out`` (``outcomes-train.jsonl``,
``outcomes-dev.jsonl``) and reused when present with the same settings.

With ``--ramdocs-oof DIR`` (the ``cv`` directory of ``ambigrag train reader``), the RAMDocs
questions join the training set and are scored out-of-fold (:mod:`eval.policy_ramdocs`): each
fold is decided by a policy fitted on train_light and the other folds, and read from the spans of
the fold's out-of-fold reader.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(evs) -> None:
    p = evs.add_parser("policy", help="learn the answer/clarify/abstain policy from simulated turns",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--train", help="AmbigQA-format training file (default ../shared/data/ambigqa/train_light.json)")
    p.add_argument("--dev", help="AmbigQA-format evaluation file (default dev_light; all its questions are "
                                 "scored, and its corpus-covered ones again in a second table)")
    p.add_argument("--index", help="index directory (default: the default index)")
    p.add_argument("-k", type=int, default=10, help="passages retrieved per question (default 10)")
    p.add_argument("--max-passages", type=int, default=5, help="passages the reader reads (default 5, as eval run)")
    p.add_argument("--train-limit", type=int, help="at most N training questions (after selection)")
    p.add_argument("--dev-limit", type=int, help="at most N evaluation questions")
    p.add_argument("--out", required=True, help="directory for the outcomes, the policy and report.{json,md}")
    p.add_argument("--json", metavar="FILE", help="also write the report JSON here")
    p.add_argument("--ramdocs-oof", metavar="DIR", help="also train and score out-of-fold on RAMDocs, from the "
                   "out-of-fold spans in DIR (OUT/cv of `ambigrag train reader`)")
    p.add_argument("--ramdocs", metavar="FILE", help="RAMDocs file (default ../shared/data/ramdocs)")
    p.set_defaults(func=cmd_policy)


def _outcomes(name: str, records, hits, ps, settings: dict, out: Path, reader, encoder, targets_of=None):
    """Simulated outcomes of ``records``, cached in ``out/outcomes-{name}.jsonl`` one line at a time:
    a rerun with the same settings simulates only the questions not yet there."""
    from eval.policy_sim import ambigqa_targets, load_outcomes, outcome_line, simulate

    cache, meta = out / f"outcomes-{name}.jsonl", out / f"outcomes-{name}.settings.json"
    same = cache.exists() and meta.exists() and json.loads(meta.read_text()) == settings
    done = {o.id: o for o in load_outcomes(cache)} if same else {}
    if not same:
        cache.write_text("")
        meta.write_text(json.dumps(settings))
    todo = [i for i, r in enumerate(records) if r["id"] not in done]
    if done:
        print(f"{name}: {len(done)} outcomes reused from {cache}, {len(todo)} to simulate", file=sys.stderr)
    with open(cache, "a", encoding="utf-8") as f:
        def sink(o):
            f.write(outcome_line(o))
            f.flush()

        new = simulate([records[i] for i in todo], [hits[i] for i in todo], reader, encoder,
                       [ps[i] for i in todo], sink=sink, targets_of=targets_of or ambigqa_targets)
    done.update((o.id, o) for o in new)
    return [done[r["id"]] for r in records]


def _probabilities(model, records, hits, encoder, train: bool):
    """P(ambiguous) per record: out-of-fold on training questions, the given model's on others."""
    from readers.ambiguity import build_features
    from readers.ambiguity_train import out_of_fold

    spec = model.spec
    qs = [r["question"] for r in records]
    emb = encoder.encode(qs, progress=True) if spec.embedding else None
    ev = hits if spec.evidence else None
    if train:
        return out_of_fold(records, emb, spec, ev)
    return model.predict_proba(build_features(spec, emb, qs, ev))


def cmd_policy(args: argparse.Namespace) -> int:
    import indexes
    from eval.policy_sim import arrays, choose_lam, evaluate_policy
    from rag.defaults import default_index
    from readers.action_policy import ActionPolicy
    from readers.reader import AmbiguityScorer
    from readers.span_reader import span_ambig_reader

    _check_args(args)
    out = Path(args.out)
    ram_inputs = _ramdocs_inputs(args) if args.ramdocs_oof else None  # a bad --ramdocs-oof fails before any work
    out.mkdir(parents=True, exist_ok=True)
    index = indexes.load(args.index or default_index())
    encoder = index.encoder()
    reader = span_ambig_reader(ambiguity=None, max_passages=args.max_passages)
    classifier = AmbiguityScorer(encoder=encoder).model
    aq = _ambigqa(args, out, index, encoder, reader, classifier)
    tr, te, base = aq["train"], aq["dev"], aq["base"]
    ram = _ramdocs(args, ram_inputs, out, base, classifier, encoder) if ram_inputs else None
    train_all = tr + (ram[0] if ram else [])
    lam, cv = choose_lam(train_all)
    policy = ActionPolicy.fit(*arrays(train_all), lam=lam, meta={
        "trained_on": aq["train_path"].name + (" + RAMDocs" if ram else ""), "reader": base["reader"],
        "n_train": len(tr), "n_train_ramdocs": len(ram[0]) if ram else 0})
    policy.save(out / "policy")
    p_of, cov = aq["p_dev"], [o for o in te if o.id in aq["covered"]]
    report = {"settings": {**base, "lam": lam, "lam_cv_reward": cv, "n_train": len(tr),
                           "train_file": aq["train_path"].name,
                           "classifier_threshold": classifier.threshold},
              "dev_all": evaluate_policy(policy, te, [p_of[o.id] for o in te], threshold=classifier.threshold),
              "dev_covered": evaluate_policy(policy, cov, [p_of[o.id] for o in cov], threshold=classifier.threshold)
              if cov else {"n": 0}}   # none covered (e.g. --dev-limit 3): the report is still written
    if ram:
        report["settings"]["n_train_ramdocs"] = len(ram[0])
        report["ramdocs_oof"] = _ramdocs_report(*ram, tr, classifier.threshold)
    _write_report(report, out, args.json)
    return 0


def _ambigqa(args: argparse.Namespace, out: Path, index, encoder, reader, classifier) -> dict:
    """AmbigQA's simulated outcomes: the train_light questions whose retrieved passages hold a gold
    answer, and every dev question; with dev's P(ambiguous) by id and its corpus-covered ids."""
    from eval import data
    from eval.policy_sim import TURN_COST, WRONG, answer_in_hits
    from eval.retrieval import covered_ids
    from rag.defaults import shared_data_dir
    from retrievers.base import retrieve_batched
    from retrievers.factory import retriever_for

    retriever = retriever_for(index, "hybrid", encoder=encoder)
    train_path = Path(args.train or shared_data_dir() / "ambigqa" / "train_light.json")
    train, dev = data.load_ambigqa(train_path), data.load_ambigqa(args.dev)[: args.dev_limit]
    covered = covered_ids(dev, shared_data_dir() / "ambigqa_passages" / "passage_origin.jsonl")
    hits = {n: retrieve_batched(retriever, [r["question"] for r in recs], args.k, batch_size=64,
                                desc=f"retrieving {n}") for n, recs in (("train", train), ("dev", dev))}
    p_train = _probabilities(classifier, train, hits["train"], encoder, train=True)
    p_dev = _probabilities(classifier, dev, hits["dev"], encoder, train=False)
    pick = [i for i, (r, h) in enumerate(zip(train, hits["train"])) if answer_in_hits(r, h)][: args.train_limit]
    base = {"index": str(index.path), "k": args.k, "max_passages": args.max_passages,
            "reader": reader.extractor.version, "turn_cost": TURN_COST, "wrong": WRONG, "features": 2,
            "targets": "best annotation", "labels": "described-3"}  # outcomes cached under older targets or labels are not reused
    tr = _outcomes("train", [train[i] for i in pick], [hits["train"][i] for i in pick], [p_train[i] for i in pick],
                   {**base, "data": str(train_path)}, out, reader, encoder)
    te = _outcomes("dev", dev, hits["dev"], p_dev, {**base, "data": str(args.dev)}, out, reader, encoder)
    return {"train": tr, "dev": te, "base": base, "train_path": train_path, "covered": covered,
            "p_dev": dict(zip((r["id"] for r in dev), p_dev))}


def _check_args(args: argparse.Namespace) -> None:
    """Bad numbers and missing files fail here, before the output directory, the index and the
    models (before, ``--dev-limit 0`` first retrieved for all 10,036 training questions)."""
    from eval.policy_sim import LAM_FOLDS
    from indexes.paths import check_outputs
    from rag.validation import require_at_least

    require_at_least((("-k", args.k), ("--max-passages", args.max_passages), ("--train-limit", args.train_limit),
                      ("--dev-limit", args.dev_limit)))
    if args.train_limit is not None and args.train_limit < LAM_FOLDS and not args.ramdocs_oof:   # refused after the run
        raise ValueError(f"--train-limit {args.train_limit}: the ridge strength is chosen by {LAM_FOLDS}-fold "
                         f"cross-validation on the training questions, so at least {LAM_FOLDS} are needed "
                         "(or add --ramdocs-oof)")
    if args.ramdocs and not args.ramdocs_oof:   # it was silently ignored
        raise ValueError("--ramdocs names the RAMDocs file of --ramdocs-oof; give --ramdocs-oof too")
    for flag, value in (("--train", args.train), ("--dev", args.dev), ("--ramdocs", args.ramdocs),
                        ("--index", args.index)):
        if value is not None and not Path(value).exists():
            raise FileNotFoundError(f"{flag} {value}: no such file or directory")
    _check_train_is_not_dev(args)
    out = Path(args.out)
    check_outputs({"--json": args.json, "--out's report.json": out / "report.json", "--out's report.md": out / "report.md"},
                  {"--train": args.train, "--dev": args.dev, "--ramdocs": args.ramdocs, "--index": args.index,
                   "--ramdocs-oof": args.ramdocs_oof}, dirs={"--out": out})


def _check_train_is_not_dev(args: argparse.Namespace) -> None:
    """AmbigQA dev (and the files drawn from its questions) is evaluation only: ``--train`` may not
    hold a question of the ``--dev`` file or of AmbigQA dev, compared by id (a copy of dev under
    another name passed), nor may ``--dev`` be the training file (the default train_light too)."""
    from eval import data
    from rag.defaults import shared_data_dir

    dev_light = shared_data_dir() / "ambigqa" / "dev_light.json"
    train_path = Path(args.train) if args.train else dev_light.with_name("train_light.json")
    if not train_path.is_file():
        return
    for flag, path in (("--dev", args.dev), ("AmbigQA dev", dev_light)):
        if path is not None and Path(path).exists() and train_path.resolve() == Path(path).resolve():
            raise ValueError(f"--train {train_path} is the {flag} file: the policy would be scored on the "
                             "questions it was trained on (AmbigQA dev is evaluation only)")
    train = data.load_ambigqa(train_path)
    for dev in dict.fromkeys(p for p in (args.dev, dev_light) if p is not None):
        data.refuse_dev_questions(train, f"--train {train_path}", dev)


def _write_report(report: dict, out: Path, json_path: str | None) -> None:
    from eval.policy_sim import markdown
    from indexes.paths import write_atomic

    text = json.dumps(report, indent=2)
    write_atomic(out / "report.json", text)
    write_atomic(out / "report.md", markdown(report))
    if json_path:
        write_atomic(json_path, text)   # its folder is made (it failed after the whole run)
    print(text)


def _ramdocs_inputs(args) -> tuple[list[dict], list[dict]]:
    """The RAMDocs records and their out-of-fold rows (refused when they do not match)."""
    from eval import data
    from eval.policy_ramdocs import read_oof_rows

    records = data.load_ramdocs(args.ramdocs)
    return records, read_oof_rows(args.ramdocs_oof, len(records))


def _ramdocs(args, inputs, out: Path, base: dict, classifier, encoder):
    """RAMDocs outcomes read from the out-of-fold spans (cached per fold like the others), their
    fold numbers, the classifier's P(ambiguous) (it never saw RAMDocs) and each fold's settings."""
    from eval.policy_ramdocs import fold_readers, ramdocs_targets
    from eval.run import record_hits

    records, rows = inputs
    hits = [record_hits(r) for r in records]
    p = _probabilities(classifier, records, hits, encoder, train=False)
    readers = fold_readers(records, rows)
    fold_of = {r["qid"]: r["fold"] for r in rows}
    outcomes, folds = [None] * len(records), [fold_of[i] for i in range(len(records))]
    for f, (reader, agg) in sorted(readers.items()):
        held = [i for i in range(len(records)) if fold_of[i] == f]
        key = {**base, "reader": f"oof-fold{f}", "oof": str(Path(args.ramdocs_oof).resolve()), "aggregation": agg,
               "data": str(args.ramdocs or "default")}
        got = _outcomes(f"ramdocs-fold{f}", [records[i] for i in held], [hits[i] for i in held],
                        [p[i] for i in held], key, out, reader, encoder, targets_of=ramdocs_targets)
        for i, o in zip(held, got):
            outcomes[i] = o
    return outcomes, folds, [float(v) for v in p], {f: agg for f, (_, agg) in readers.items()}


def _ramdocs_report(outcomes, folds, p, settings, extra, threshold: float) -> dict:
    from eval.policy_ramdocs import out_of_fold_choices
    from eval.policy_sim import evaluate_choices

    chosen, scores, lams = out_of_fold_choices(outcomes, folds, extra=extra)
    row = evaluate_choices(outcomes, chosen, scores, p, threshold=threshold)
    row["folds"] = [{"fold": f, "lam": lams[f], "aggregation": settings[f]} for f in sorted(lams)]
    return row

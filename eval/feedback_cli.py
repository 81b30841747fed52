"""``ambigrag eval feedback``: the simulated-user learning curve (see :mod:`eval.feedback_sim`).

Writes the JSON report (``--json``), a markdown table beside it (``.md``) and the learning-curve
plot (``.png``): passage accuracy on the test questions per round, for learning from ratings, from
gold spans (the supervised upper bound) and from ratings flipped at each ``--noise`` rate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from indexes.paths import write_atomic, write_figure


def register(evs) -> None:
    p = evs.add_parser("feedback", help="simulated users rate the span reader's answers; learning curve",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="RAMDocs-style JSONL (default: RAMDocs dev in ../shared/data)")
    p.add_argument("--json", required=True, metavar="FILE", help="report to write (.md and .png beside it)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--per-round", type=int, default=200, help="rated interactions (shown spans) per round")
    p.add_argument("--seed-questions", type=int, default=64, help="questions whose gold spans train the first reader")
    p.add_argument("--check-questions", type=int, default=40, help="fixed check set of the promotion rule")
    p.add_argument("--test-questions", type=int, default=100, help="scored every round, never give feedback")
    p.add_argument("--noise", default="0.1,0.3", help="comma-separated rating flip rates to also run ('' for none)")
    p.add_argument("--no-supervised", action="store_true", help="skip the gold-span upper bound")
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate of the per-round update")
    p.add_argument("--train-layers", type=int, default=3, help="top layers the per-round update trains")
    p.add_argument("--epochs", type=int, default=2, help="passes over a round's feedback in its update")
    p.add_argument("--rehearsal", type=int, default=16, help="earlier rounds' feedback added to each batch")
    p.add_argument("--supervised-mix", type=int, default=16, metavar="N",
                   help="seed questions' gold spans added to each batch of an update (0: none)")
    p.add_argument("--top-layers", type=int, default=3,
                   help="top layers the seed reader trains; every forward pass runs only these over cached states")
    p.add_argument("--seed", type=int, default=0, help="split and training seed")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.set_defaults(func=cmd_feedback)


def _check(args) -> None:
    for name in ("rounds", "per_round", "seed_questions", "test_questions", "check_questions", "epochs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("rehearsal", "supervised_mix"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if not 1 <= args.top_layers <= 6 or not 1 <= args.train_layers <= args.top_layers:
        raise ValueError(f"need 1 <= --train-layers ({args.train_layers}) <= --top-layers ({args.top_layers}) <= 6")
    if not 0 < args.lr < float("inf"):
        raise ValueError(f"--lr must be a number > 0, got {args.lr}")
    if args.threads is not None and args.threads < 1:   # -1 was a torch traceback, 0 silently ignored
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if not 0 <= args.seed < 2 ** 32:   # a larger one overflowed in torch after the data was read
        raise ValueError(f"--seed must be in [0, 2**32), got {args.seed}")
    if Path(args.json).is_dir():  # found now, not when round 1 writes its partial report
        raise ValueError(f"--json {args.json} is a directory; pass a file name (the .md and .png go beside it)")


def cmd_feedback(args) -> int:
    from eval.data import load_ramdocs
    from eval.feedback_sim import SimSettings, simulate
    from indexes.paths import check_outputs
    from readers.bandit import BanditSettings

    _check(args)
    out = Path(args.json)
    check_outputs({"--json": out, "--json's markdown": out.with_suffix(".md"), "--json's plot": out.with_suffix(".png")},
                  {"--data": args.data})
    try:
        noises = [float(x) for x in args.noise.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--noise must be comma-separated numbers, got {args.noise!r}") from None
    if any(not 0 <= p < 1 for p in noises):
        raise ValueError(f"--noise rates must be in [0, 1), got {args.noise!r}")
    if len(set(noises)) < len(noises):   # one variant a rate: '0.1,0.1' silently ran one
        raise ValueError(f"--noise names a rate twice: {args.noise!r}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    records = load_ramdocs(args.data)
    settings = SimSettings(rounds=args.rounds, per_round=args.per_round, seed_questions=args.seed_questions,
                           check_questions=args.check_questions, test_questions=args.test_questions,
                           split_seed=args.seed, top_layers=args.top_layers,
                           bandit=BanditSettings(lr=args.lr, epochs=args.epochs, train_layers=args.train_layers,
                                                 rehearsal=args.rehearsal, supervised=args.supervised_mix))
    rep = simulate(records, settings, noises=noises, supervised=not args.no_supervised,
                   on_round=lambda partial: write(partial, out))
    print(write(rep, out))
    return 0


def write(rep: dict, out: Path) -> str:
    """Write the JSON, the markdown beside it and the plot; returns the markdown."""
    write_atomic(out, json.dumps(rep, indent=1))   # its folder is made here, after the split and seed checks
    md = markdown(rep)
    write_atomic(out.with_suffix(".md"), md)
    plot(rep, out.with_suffix(".png"))
    return md


def _curves(rep: dict) -> dict[str, list[float]]:
    runs = {"ratings": rep, **{k.replace("noise_", "ratings, flipped "): v for k, v in rep["variants"].items()}}
    if "supervised" in runs:
        runs["gold spans (upper bound)"] = runs.pop("supervised")
    return {k: [v["seed"]["passage_accuracy"]] + [r["passage_accuracy"] for r in v["rounds"]] for k, v in runs.items()}


def markdown(rep: dict) -> str:
    s, sp, t = rep["settings"], rep["split"], rep["targets"]
    curves = _curves(rep)
    lines = ["# Learning from simulated ratings (RAMDocs)", "",
             *([] if rep.get("complete", True) else
               [f"**Partial report**: {len(rep['rounds'])} of {s['rounds']} rounds done when written.", ""]),
             f"Questions: seed {sp['seed']}, check {sp['check']}, test {sp['test']}, feedback pool {sp['pool']}. "
             f"{s['rounds']} rounds x {s['per_round']} rated spans; update: lr {s['bandit']['lr']}, top "
             f"{s['bandit']['train_layers']} layer(s) + head, {s['bandit']['epochs']} epoch(s), batch "
             f"{s['bandit']['batch_size']} + {s['bandit']['rehearsal']} rehearsed + "
             f"{s['bandit'].get('supervised', 0)} seed gold spans; seed reader: top {s['top_layers']} layer(s), "
             f"{s['seed_epochs']} epochs, lr {s['seed_lr']}; {rep['seconds']:.0f} s in all.", "",
             "Passage accuracy (exact match on correct documents) on the test questions:", "",
             "| round | feedback | " + " | ".join(curves) + " | RAMDocs EM (ratings) | promoted |",
             "|---|---|" + "---|" * len(curves) + "---|---|"]
    rows = [{"round": 0, "n_feedback": 0, **rep["seed"], "promoted": "seed"}, *rep["rounds"]]
    for i, r in enumerate(rows):
        vals = " | ".join(f"{c[i]:.3f}" if i < len(c) else "-" for c in curves.values())
        lines.append(f"| {r['round']} | {r['n_feedback']} | {vals} | {r['ramdocs_em']:.3f} | {r['promoted']} |")
    lines += ["", "| target | figure | met |", "|---|---|---|",
              f"| final round >= 15 points over the seed | {t['final_gain_points']:+.1f} points | {t['gain_target_met']} |",
              f"| no round > 2 points below the one before | largest drop {t['largest_drop_points']:.1f} points "
              f"| {t['no_drop_target_met']} |"]
    if "noise30_gain_points" in t:
        lines.append(f"| gains with 30% flipped ratings | {t['noise30_gain_points']:+.1f} points | {t['noise30_target_met']} |")
    return "\n".join(lines) + "\n"


def plot(rep: dict, path: str | Path) -> Path:
    from eval.plots import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, ys in _curves(rep).items():
        ax.plot(range(len(ys)), ys, marker="o", ms=3, label=name)
    ax.set_xlabel(f"round ({rep['settings']['per_round']} rated spans each; 0 = seed reader)")
    ax.set_ylabel("test passage accuracy")
    ax.xaxis.get_major_locator().set_params(integer=True)   # rounds, not 0.25 steps
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    return Path(path)

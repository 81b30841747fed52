"""``ambigrag learn-policy``: refit the answer/clarify/abstain policy on simulated outcomes and
users' feedback from the store (issue 15 part 3).

The simulated outcomes (``outcomes-train.jsonl`` written by ``ambigrag eval policy --out DIR``)
know every action's reward; each rated or followed-up interaction of the store adds one row that
knows only the reward of the action taken (:mod:`rag.feedback.policy_rows`). One ridge regression
per action fits the rows where its reward is known. The ridge strength is that of ``--start``
(the policy ``eval policy`` saved), and what changed is printed: the rows used per action and
the decisions that differ from ``--start`` on the store's questions.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("learn-policy", help="refit the answer/clarify/abstain policy with stored feedback",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--outcomes", required=True, nargs="+", metavar="PATH",
                   help="simulated outcomes: files, or the folder of `eval policy --out DIR` (its "
                        "outcomes-train.jsonl and outcomes-ramdocs-fold*.jsonl, the rows its policy was fitted on)")
    p.add_argument("--feedback-db", metavar="PATH", help="feedback store (SQLite) of the web server")
    p.add_argument("--start", metavar="DIR", help="the current policy (for its ridge strength and the diff)")
    p.add_argument("--lam", type=float, help="ridge strength (default: that of --start; needed without it)")
    p.add_argument("--index", help="the index the server answered from (default: the default index)")
    p.add_argument("--out", required=True, help="directory for the new policy (not --start's)")
    p.set_defaults(func=cmd_learn_policy)


def outcome_files(paths: list[str]) -> list[Path]:
    """The outcome files ``--outcomes`` names: a file as given; a folder of ``eval policy --out``
    as the rows its policy was fitted on (train_light's and the RAMDocs folds', never dev's)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("outcomes-train.jsonl")) + sorted(p.glob("outcomes-ramdocs-fold*.jsonl"))
            if not found:
                raise FileNotFoundError(f"--outcomes {p}: no outcomes-train.jsonl in this folder (eval policy --out DIR)")
            files += found
        elif not p.is_file():
            raise FileNotFoundError(f"--outcomes {p}: no such file or directory")
        else:
            files.append(p)
    return list({f.resolve(): f for f in files}.values())   # a folder and a file in it: each row once


def cmd_learn_policy(args: argparse.Namespace) -> int:
    import numpy as np

    from eval.policy_sim import arrays, load_outcomes
    from indexes.paths import check_outputs
    from rag.defaults import default_index
    from rag.pipeline import Pipeline
    from readers.action_policy import ACTIONS, FEATURE_NAMES, ActionPolicy

    files = outcome_files(args.outcomes)
    check_outputs({}, {**{f"--outcomes {f}": f for f in files}, "--feedback-db": args.feedback_db,
                       "--index": args.index}, dirs={"--out": args.out})
    if args.start and Path(args.out).resolve() == Path(args.start).resolve():
        raise ValueError(f"--out {args.out} is --start: the new policy would replace the one it is compared "
                         "with; choose another directory")
    if args.lam is None and not args.start:
        raise ValueError("give --start (its ridge strength is used) or --lam")
    if args.lam is not None and not 0 < args.lam < float("inf"):
        raise ValueError(f"--lam must be a positive number, got {args.lam}")
    start = ActionPolicy.load(args.start) if args.start else None
    sim = []
    for f in files:
        got = load_outcomes(f)
        if not got:
            raise ValueError(f"--outcomes {f}: no rows")
        if len(got[0].features) != len(FEATURE_NAMES):   # written by an older ambigrag
            raise ValueError(f"--outcomes {f}: rows of {len(got[0].features)} features, this policy has "
                             f"{len(FEATURE_NAMES)}; run `ambigrag eval policy` again to rewrite them")
        sim += got
    if start is not None and start.meta.get("n_rows") not in (None, len(sim)) and not start.meta.get("store_rows"):
        print(f"note: --start was fitted on {start.meta['n_rows']} simulated rows; --outcomes holds {len(sim)}")
    rows = []
    if args.feedback_db:
        from rag.feedback.policy_rows import store_rows

        # the store is read (and refused) before the pipeline loads, which only reads questions again
        rows = store_rows(args.feedback_db, lambda: Pipeline.from_index(args.index or default_index()))
        if not rows:
            print(f"note: {args.feedback_db} holds no rated or followed-up interaction; the policy is refitted "
                  "on the simulated rows alone")
    lam = args.lam if args.lam is not None else start.meta.get("lam", 1.0)
    x, r = arrays([*sim, *rows])
    new = ActionPolicy.fit(x, r, lam=lam, meta={"simulated_rows": len(sim), "store_rows": len(rows),
                                                "feedback_db": args.feedback_db})
    new.save(args.out)
    taken = {a: int(sum(not np.isnan(o.rewards[i]) for o in rows)) for i, a in enumerate(ACTIONS)}
    print(f"{len(sim)} simulated rows, {len(rows)} rated interactions (actions taken: {taken}); lambda {lam:g}")
    if start is not None and rows:
        xs = arrays(rows)[0]
        allowed = [o.allowed for o in rows]
        before, after = start.choose(xs, allowed), new.choose(xs, allowed)
        changed = [(o.id, b, a) for o, b, a in zip(rows, before, after) if b != a]
        print(f"decisions changed on the store's questions: {len(changed)} of {len(rows)}")
        for iid, b, a in changed[:20]:
            print(f"  {iid}: {b} -> {a}")
    print(f"saved {args.out}")
    return 0

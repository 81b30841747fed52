"""Trial (issue 15 part 2): does training on from a refused candidate beat the default on the
check sets of several splits?

The default round trains a candidate from the deployed reader and throws it away when refused.
The *lineage* variant trains the next round from the last candidate, refused or not; the deployed
reader (which shows the spans and is scored) still changes only on promotion. Both play the same
feedback stream from the same seed reader of each split (``eval.feedback_sim``, default settings
but ``split_seed``).

The rule, fixed before the run of splits 1 and 2: adopt lineage only if, over the splits, both the
mean candidate check accuracy and the final deployed check accuracy are at least the default's and
one is higher. Test figures are written too, to be read after that choice.

    python bench/feedback_lineage.py --splits 1 2 --json /tmp/lineage.json   # ~22 min a split on 2 cores
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import replace


def lineage(sim) -> dict:
    """Play the rounds of :meth:`eval.feedback_sim.Simulation.play` ("bandit", no noise), each
    round's update starting from the last candidate."""
    from readers.bandit import update

    s = sim.s
    deployed = lin = sim.seed_state
    rng, stream = random.Random(s.split_seed + 2), sim.stream()
    check, test, history, rounds = sim.seed_check, dict(sim.seed_test), [], []
    for r in range(1, s.rounds + 1):
        t0 = time.perf_counter()
        sim.restore(deployed)
        new, _ = sim.feedback([next(stream) for _ in range(s.per_round)], 0.0, rng)
        sim.restore(lin)
        update(sim.model, new, scorer=sim.scorer, old=history, supervised=sim.seed_targets,
               settings=replace(s.bandit, seed=s.split_seed + r))
        lin, cand = sim.snapshot(), sim.score(sim.split["check"])["passage_accuracy"]
        if promoted := cand >= check:
            deployed, check, test = lin, cand, sim.score(sim.split["test"])
        history += new
        rounds.append({"round": r, **test, "candidate_check_accuracy": cand, "check_accuracy": check,
                       "promoted": promoted, "seconds": round(time.perf_counter() - t0, 1)})
    return {"seed": dict(sim.seed_test), "rounds": rounds}


def summary(split: dict) -> dict:
    """Check-set figures (the choice) and test figures (read after it) of each variant."""
    out = {}
    for name in ("default", "lineage"):
        rs = split[name]["rounds"]
        curve = [split[name]["seed"]["passage_accuracy"]] + [r["passage_accuracy"] for r in rs]
        out[name] = {"candidate_check_mean": round(statistics.mean(r["candidate_check_accuracy"] for r in rs), 4),
                     "final_check": rs[-1]["check_accuracy"],
                     "test_gain_points": round(100 * (curve[-1] - curve[0]), 1),
                     "test_largest_drop_points": round(100 * max(0.0, *(a - b for a, b in zip(curve, curve[1:]))), 1)}
    return out


def main() -> None:
    from eval.data import load_ramdocs
    from eval.feedback_sim import SimSettings, Simulation

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, nargs="+", default=[1, 2], help="split seeds")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    records, out = load_ramdocs(None), {}
    for k in args.splits:
        sim = Simulation(records, SimSettings(split_seed=k), progress=False)
        out[k] = {"seed_check": sim.seed_check, "default": sim.run("bandit"), "lineage": lineage(sim)}
        out[k]["summary"] = summary(out[k])
        print(k, json.dumps(out[k]["summary"]), flush=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

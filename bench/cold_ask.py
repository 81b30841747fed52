"""Cold CLI ``ask --no-llm`` and warm ``Pipeline.ask``: where the time goes, and what checksum
verification costs before (full hash on every call) and after (stamps), in the same run.

Each cold run is a fresh ``python`` process running the real CLI (``rag.cli.main``) on the
default index. Phases are timed by wrapping the functions that do them (exclusive times, so
nothing is counted twice):

* ``python start + exit``: the interpreter starting and shutting down (wall time measured by
  the parent minus everything the child measured);
* ``imports``: ``import rag.cli`` and the modules the CLI imports lazily (pipeline, readers,
  retrievers, indexes), imported up front to wrap them;
* ``index path (corpus digest)``: ``rag.defaults.default_index``, which hashes the corpus;
* ``index load`` with ``of which hashing`` split out (every ``sha256_file`` call);
* ``model loading``: the sentence-transformers encoder (incl. importing torch) and the
  ambiguity classifier;
* ``retrieval`` and ``reading``: ``Pipeline.retrieve`` and the reader's ``read``;
* ``other``: the rest of ``main`` (argument parsing, lazy imports of our modules, printing).

The "after" runs take the program path (``main()`` without arguments, which ends in
``rag.cli.fast_exit``); the "before" runs return from ``main`` and let Python finalise.

``--baseline`` mode reproduces the old path in the same code: ``verify="full"`` on every load
and the corpus hashed on every call. ``--reader MODULE:FACTORY`` swaps the reader (the factory
gets the loaded ``Index`` and returns an object with ``read``) for the warm timing, and
``--cli-arg`` passes extra arguments to ``ask`` (for a reader flag of the CLI).

    python bench/cold_ask.py                     # 3 cold runs per mode + warm asks + profile
    python bench/cold_ask.py --runs 5 --warm 30 --profile-out /tmp/cold.prof
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUESTION = "Who played the weasley brothers in harry potter?"
PHASES = ("python start + exit", "imports", "index path (corpus digest)", "index load", "of which hashing", "model loading",
          "retrieval", "reading", "other")


class Timers:
    """Exclusive wall and process-CPU seconds per label of wrapped functions (a nested wrapped
    call is not counted twice)."""

    def __init__(self):
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        self._stack: list[list[float]] = []

    def wrap(self, owner, name: str, label: str, is_property: bool = False) -> None:
        func = getattr(owner, name).fget if is_property else getattr(owner, name)

        def timed(*args, **kwargs):
            t0, c0 = time.perf_counter(), time.process_time()
            self._stack.append([0.0, 0.0])
            try:
                return func(*args, **kwargs)
            finally:
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                inner = self._stack.pop()
                self.totals[label][0] += dt - inner[0]
                self.totals[label][1] += dc - inner[1]
                if self._stack:
                    self._stack[-1][0] += dt
                    self._stack[-1][1] += dc

        setattr(owner, name, property(timed) if is_property else timed)


def _instrument(baseline: bool) -> Timers:
    import functools

    import indexes
    import indexes.cache
    import indexes.checks
    import indexes.index
    import rag.defaults
    from indexes.dense import SentenceEncoder
    from rag.pipeline import Pipeline
    from readers.ambiguity import AmbiguityModel
    from readers.reader import AmbigReader

    if baseline:  # the path before stamps: hash every index file and the corpus on every call
        indexes.index._mode = lambda verify: "full"
        rag.defaults.corpus_digest = functools.partial(rag.defaults.corpus_digest, stamps=False)
    t = Timers()
    t.wrap(rag.defaults, "default_index", "index path (corpus digest)")
    t.wrap(indexes, "load", "index load")
    t.wrap(indexes.checks, "sha256_file", "of which hashing")
    t.wrap(indexes.cache, "sha256_file", "of which hashing")
    t.wrap(SentenceEncoder, "model", "model loading", is_property=True)
    t.wrap(AmbiguityModel, "load", "model loading")
    t.wrap(Pipeline, "retrieve", "retrieval")
    t.wrap(AmbigReader, "read", "reading")
    return t


def child(args) -> None:
    """One cold CLI run in this (fresh) process; prints the phase times as JSON on the last line."""
    t0, c0 = time.perf_counter(), time.process_time()
    import rag.cli

    timers = _instrument(args.baseline)
    imports = [time.perf_counter() - t0, time.process_time() - c0]
    argv = ["-q", "ask", "--no-llm", args.question, *args.cli_arg] + (["--index", args.index] if args.index else [])
    prof = None
    if args.profile_out:
        import cProfile

        prof = cProfile.Profile()
    t1, c1 = time.perf_counter(), time.process_time()

    def finish(rc: int) -> None:
        main_s = [time.perf_counter() - t1, time.process_time() - c1]
        if prof:
            prof.disable()
            prof.dump_stats(args.profile_out)
        phases = {k: list(v) for k, v in timers.totals.items()}
        phases["other"] = [m - sum(v[i] for v in timers.totals.values()) for i, m in enumerate(main_s)]
        phases["imports"] = imports
        print(json.dumps({"rc": rc, "measured": [a + b for a, b in zip(imports, main_s)], "phases": phases}),
              file=real_stdout, flush=True)

    real_stdout = sys.stdout
    if prof:
        prof.enable()
    with contextlib.redirect_stdout(sys.stderr):
        if args.baseline:  # before: main() returns and Python finalises as usual
            finish(rag.cli.main(argv))
            return
        exit_fast = rag.cli.fast_exit  # after: the program path, main() ends in fast_exit
        rag.cli.fast_exit = lambda code: (finish(code), exit_fast(code))
        sys.argv = ["ambigrag", *argv]
        rag.cli.main()


def cold(args, baseline: bool, profile_out: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", "--question", args.question]
    cmd += ["--baseline"] if baseline else []
    cmd += ["--index", args.index] if args.index else []
    cmd += ["--profile-out", profile_out] if profile_out else []
    for a in args.cli_arg:
        cmd += [f"--cli-arg={a}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"cold run failed:\n{proc.stderr[-3000:]}")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    rec["wall"], rec["cpu"] = wall, cpu
    rec["phases"]["python start + exit"] = [wall - rec["measured"][0], cpu - rec["measured"][1]]
    return rec


def warm(args) -> dict:
    """Median and p90 of ``Pipeline.ask`` over dev questions after one warm-up ask."""
    import importlib

    import indexes
    from rag.defaults import default_index, shared_data_dir
    from rag.pipeline import Pipeline

    path = args.index or default_index()
    reader = None
    if args.reader:
        module, factory = args.reader.split(":")
        reader = getattr(importlib.import_module(module), factory)(indexes.load(path))
    t0 = time.perf_counter()
    pipe = Pipeline.from_index(path, llm=None, reader=reader)
    build_s = time.perf_counter() - t0
    dev = json.loads((shared_data_dir() / "ambigqa" / "dev_light.json").read_text(encoding="utf-8"))
    questions = [args.question] + [q["question"] for q in dev[:args.warm]]
    pipe.ask(questions[0])  # warm-up: loads the encoder weights and fills caches
    times, cpus = [], []
    for q in questions[1:]:
        t, c = time.perf_counter(), time.process_time()
        pipe.ask(q)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    t = time.perf_counter()
    indexes.load(path)
    reload_s = time.perf_counter() - t
    return {"pipeline_s": build_s, "n": len(times), "median": statistics.median(times),
            "p90": sorted(times)[int(0.9 * (len(times) - 1))], "max": max(times), "index_reload_s": reload_s,
            "cpu_median": statistics.median(cpus)}


def report(runs: dict[str, list[dict]], w: dict, args) -> str:
    def med(mode: str, phase: str, i: int) -> float:
        return statistics.median(r["phases"].get(phase, [0.0, 0.0])[i] for r in runs[mode])

    lines = [f"Question: {args.question!r}; {args.runs} cold runs per mode, interleaved (medians); reader: "
             f"{args.reader or 'default'}; extra `ask` args: {' '.join(args.cli_arg) or 'none'}.", "",
             "| phase | before: wall s | before: CPU s | after: wall s | after: CPU s |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {p} | " + " | ".join(f"{med(m, p, i):.2f}" for m in ("baseline", "stamped") for i in (0, 1)) + " |"
              for p in PHASES]
    total = {m: [statistics.median(r[k] for r in runs[m]) for k in ("wall", "cpu")] for m in runs}
    beyond = {m: [total[m][i] - med(m, "model loading", i) for i in (0, 1)] for m in runs}
    lines += ["| **whole command** | " + " | ".join(f"**{total[m][i]:.2f}**" for m in ("baseline", "stamped")
                                                  for i in (0, 1)) + " |",
              "| **beyond model loading** | " + " | ".join(f"**{beyond[m][i]:.2f}**" for m in ("baseline", "stamped")
                                                        for i in (0, 1)) + " |", "",
              f"Warm `Pipeline.ask` over {w['n']} dev questions: median {w['median']:.3f} s, p90 "
              f"{w['p90']:.3f} s, max {w['max']:.3f} s (CPU median {w['cpu_median']:.3f} s); `Pipeline.from_index` {w['pipeline_s']:.2f} s; "
              f"a second `indexes.load` in the warm process {w['index_reload_s']:.3f} s."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", help="index directory (default: the default index)")
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--runs", type=int, default=3, help="cold runs per mode")
    ap.add_argument("--warm", type=int, default=20, help="dev questions for the warm timing")
    ap.add_argument("--reader", help="MODULE:FACTORY returning a reader for the warm pipeline")
    ap.add_argument("--cli-arg", action="append", default=[], help="extra argument for `ask` (repeatable)")
    ap.add_argument("--no-prime", action="store_true",
                    help="skip the untimed first cold run (when the files are already stamped)")
    ap.add_argument("--profile-out", help="cProfile stats file of one cold run (stamped mode)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    from rag.defaults import default_index

    default_index() if not args.index else None  # build on first use, outside the timings
    if not args.no_prime:
        cold(args, baseline=False)  # once untimed: stamps the files, warms the OS page cache
    runs: dict[str, list[dict]] = {"baseline": [], "stamped": []}
    for _ in range(args.runs):  # interleaved, so load on the shared cores hits both modes alike
        for mode in runs:
            runs[mode].append(cold(args, baseline=mode == "baseline"))
            print(mode, json.dumps({k: [round(x, 2) for x in v] for k, v in runs[mode][-1]["phases"].items()}),
                  file=sys.stderr)
    if args.profile_out:
        cold(args, baseline=False, profile_out=args.profile_out)
    print(report(runs, warm(args), args))


if __name__ == "__main__":
    main()

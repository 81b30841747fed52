"""Load test of ``ambigrag serve``: a real uvicorn process on 127.0.0.1, 8 concurrent clients
running bounded ask -> reply -> feedback loops, then ``kill -9`` and a count of the rows.

Every response the server acknowledged (HTTP 200) must be in the database after the kill:
asked interactions, replies (a ``reply`` turn) and ratings. ``--kill-after S`` kills the server
while the clients are still running instead of after they finish.

    PYTHONPATH=$PWD python bench/web_load.py                      # example index, model-free reader
    PYTHONPATH=$PWD python bench/web_load.py --kill-after 20 --loops 1000

The server runs the model-free reader (``--extract llm --no-llm``) over the example corpus: the figures are
the web and storage path, not the reader.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ("When was Bobby Carpenter drafted?",            # clarify with the model-free reader
             "What sport is Bobby Carpenter associated with?",
             "Who won the 1950 Tour de France?")
RATINGS = ("correct", "partial", "wrong")


def build_example_index(out: Path) -> Path:
    from indexes import build
    from indexes.dense import SentenceEncoder

    return build(ROOT / "examples" / "bobby_carpenter.jsonl", out, encoder=SentenceEncoder(device="cpu"),
                 progress=False)


def start_server(index: Path, db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--index", str(index), "--port", str(port),
                             "--feedback-db", str(db), "--extract", "llm", "--no-llm", "-k", "6"],
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not answer /api/health within 300 s")


class Acks:
    """What the server acknowledged, and how long each request took (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.asked: set[str] = set()
        self.replied: set[str] = set()
        self.rated: Counter[str] = Counter()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()


def client_loop(url: str, loops: int, seed: int, acks: Acks, stop: threading.Event) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=300) as c:
        for i in range(loops):
            if stop.is_set():
                return
            try:
                one_loop(c, QUESTIONS[(seed + i) % len(QUESTIONS)], RATINGS[(seed + i) % 3], acks)
            except httpx.HTTPError as e:          # the server was killed mid-run
                with acks.lock:
                    acks.errors[type(e).__name__] += 1
                return


def _post(c, acks: Acks, path: str, body: dict) -> dict:
    t0 = time.perf_counter()
    r = c.post(path, json=body)
    dt = time.perf_counter() - t0
    with acks.lock:
        acks.latency[path].append(dt)
    if r.status_code != 200:
        raise RuntimeError(f"{path} -> {r.status_code} {r.text}")
    return r.json()


def one_loop(c, question: str, rating: str, acks: Acks) -> None:
    d = _post(c, acks, "/api/ask", {"question": question})
    iid = d["interaction_id"]
    with acks.lock:
        acks.asked.add(iid)
    if d["kind"] == "clarify":
        _post(c, acks, "/api/reply", {"interaction_id": iid, "text": "the hockey player"})
        with acks.lock:
            acks.replied.add(iid)
    _post(c, acks, "/api/feedback", {"interaction_id": iid, "rating": rating})
    with acks.lock:
        acks.rated[iid] += 1


def count_lost(db: Path, acks: Acks) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        have = {i for (i,) in conn.execute("SELECT id FROM interactions")}
        replied = {i for (i,) in conn.execute("SELECT interaction_id FROM turns WHERE role = 'reply'")}
        rated = Counter(dict(conn.execute("SELECT interaction_id, COUNT(*) FROM ratings GROUP BY interaction_id")))
        rows = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("interactions", "turns", "reader_logs", "ratings")}
    lost = {"interactions": len(acks.asked - have), "replies": len(acks.replied - replied),
            "ratings": sum(max(0, n - rated[i]) for i, n in acks.rated.items())}
    return {"rows": rows, "lost": lost}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return 1000 * xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", help="index directory (default: the example corpus, built into a temp dir)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--loops", type=int, default=25, help="ask -> reply -> feedback loops per client")
    ap.add_argument("--kill-after", type=float, help="kill -9 the server after this many seconds of load")
    ap.add_argument("--baseline-loops", type=int, default=6,
                    help="loops of one client first: the same-run baseline for the latency ratios")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="web_load_"))
    index = Path(args.index) if args.index else build_example_index(tmp / "idx")
    db, log = tmp / "feedback.sqlite", tmp / "server.log"
    proc, url = start_server(index, db, log)
    base, stop = Acks(), threading.Event()
    client_loop(url, args.baseline_loops, 0, base, stop)
    acks = Acks()
    threads = [threading.Thread(target=client_loop, args=(url, args.loops, j, acks, stop)) for j in range(args.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    if args.kill_after:
        time.sleep(args.kill_after)
        proc.send_signal(signal.SIGKILL)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    for name in ("asked", "replied"):
        getattr(acks, name).update(getattr(base, name))
    acks.rated.update(base.rated)
    report(args, acks, base, count_lost(db, acks), wall, log)
    return 0


def report(args, acks: Acks, base: Acks, counts: dict, wall: float, log: Path) -> None:
    n = sum(len(v) for v in acks.latency.values())
    logged = sum(1 for line in log.read_text().splitlines() if " /api/" in line and " ms" in line)
    print(f"{args.clients} clients, {args.loops} loops each{f', kill -9 after {args.kill_after} s' if args.kill_after else ''}; "
          f"{n} requests in {wall:.1f} s ({n / wall:.1f} req/s); server logged {logged} request lines; "
          f"client errors {dict(acks.errors) or 'none'}")
    print(f"| endpoint | requests | p50 ms | p95 ms | 1-client p50 ms (baseline, {args.baseline_loops} loops) | p50 ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = sorted(acks.latency.items()) + [("all", [x for xs in acks.latency.values() for x in xs])]
    base_all = [x for xs in base.latency.values() for x in xs]
    for path, xs in rows:
        b = pct(base_all if path == "all" else base.latency.get(path, []), 0.5)
        print(f"| {path} | {len(xs)} | {pct(xs, 0.5):.1f} | {pct(xs, 0.95):.1f} | {b:.1f} | {pct(xs, 0.5) / b:.1f}× |")
    print(f"acknowledged: {len(acks.asked)} interactions, {len(acks.replied)} replies, "
          f"{sum(acks.rated.values())} ratings; rows after kill -9: {counts['rows']}; lost: {counts['lost']}")


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of ``ambigrag index build --no-dense`` on hostile corpora (``/usr/bin/time -f %M``).

Cases, each built in its own process (so the peak RSS is its own):

* baseline: 1,000 tiny passages (the cost of the process and its imports);
* one 50 MB record among 1,000 tiny ones: the default 1 MiB limit (an error naming the line),
  ``--skip-bad`` (skipped, counted), and the limit raised to 100 MB (the record is read whole:
  what every build did before the limit existed);
* N tiny lines (10M by default; ``--lines`` to cap: say so when reporting), BM25 only;
* a 50 MB file of NUL bytes, and a directory given as a JSONL corpus.

    python bench/hostile_corpora.py [--lines 10000000] [--json bench/hostile_corpora.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIG = 50 * 1024 * 1024


def _tiny(f, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        f.write(f'{{"id": "{i}", "text": "w{i % 1000} river castle {i}"}}\n'.encode())


def make_corpora(d: Path, lines: int) -> dict[str, Path]:
    with open(d / "tiny.jsonl", "wb") as f:
        _tiny(f, 1000)
    with open(d / "big.jsonl", "wb") as f:
        _tiny(f, 500)
        f.write(b'{"id": "big", "text": "' + b"word " * (BIG // 5) + b'"}\n')
        _tiny(f, 500, 500)
    with open(d / "many.jsonl", "wb") as f:
        _tiny(f, lines)
    with open(d / "nul.jsonl", "wb") as f:
        for _ in range(BIG >> 20):
            f.write(b"\x00" * (1 << 20))
    (d / "dir.jsonl").mkdir()
    return {p.stem: p for p in (d / "tiny.jsonl", d / "big.jsonl", d / "many.jsonl", d / "nul.jsonl", d / "dir.jsonl")}


def run_build(corpus: Path, out: Path, *extra: str) -> dict:
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "rag.cli", "index", "build", str(corpus),
           "--out", str(out), "--no-dense", "--format", "jsonl", *extra]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    err = p.stderr.strip().splitlines()
    peak_kb = int(err[-1])
    msg = (p.stdout.strip() or (err[-2] if len(err) > 1 else ""))[:160]  # the CLI's one-line error
    return {"rc": p.returncode, "peak_rss_mb": round(peak_kb / 1024, 1), "seconds": round(time.time() - t0, 1),
            "message": msg}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000_000, help="tiny lines in the many-lines case")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "hostile_corpora.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        c = make_corpora(d, args.lines)
        cases = [
            ("baseline: 1,000 tiny passages", c["tiny"], ()),
            ("one 50 MB record, default limit (1 MiB)", c["big"], ()),
            ("one 50 MB record, --skip-bad", c["big"], ("--skip-bad",)),
            ("one 50 MB record, limit raised to 100 MB (read whole)", c["big"], ("--max-record-bytes", str(100 << 20))),
            (f"{args.lines:,} tiny lines, BM25 only", c["many"], ()),
            ("50 MB of NUL bytes", c["nul"], ()),
            ("a directory as a JSONL corpus", c["dir"], ()),
        ]
        results = []
        for i, (name, corpus, extra) in enumerate(cases):
            r = {"case": name, **run_build(corpus, d / f"idx{i}", *extra)}
            print(json.dumps(r), flush=True)
            results.append(r)
    args.json.write_text(json.dumps({"lines": args.lines, "results": results}, indent=1) + "\n")
    print("| case | exit | peak RSS (MB) | seconds | message |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['rc']} | {r['peak_rss_mb']} | {r['seconds']} | {r['message']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Crash injection: SIGKILL an index build on entry to the function of each build phase, twice
in a row, over an existing index. The previous index must stay byte-identical and loadable,
temporary directories must not pile up (the next build removes them), and a loader running in a
loop meanwhile must never fail. indexes/index.py is not modified: the build runs in a child
process that replaces the phase function with one that kills the process.

``CRASH_POINTS`` and ``REPEATS`` are read by bench/reliability_report.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPEATS = 2
N_PASSAGES = 300

# (phase, "module:attribute" killed on entry, needs the dense part, expected to survive)
CRASH_POINTS = (
    ("reading", "indexes.index:read_corpus", False, True),
    ("bm25", "indexes.bm25:BM25Builder.build", False, True),
    ("writing store", "indexes.store:StoreWriter.close", False, True),
    ("encoding", "indexes.dense:SentenceEncoder.encode", True, True),
    ("faiss", "indexes.dense:build_faiss", True, True),
    ("writing manifest", "indexes.index:sha256_file", False, True),
    ("swap (entry)", "indexes.layout:install", False, True),
    # between publishing the new version directory and pointing ``current`` at it
    ("swap (before the pointer)", "indexes.layout:_point", False, True),
)

CHILD = r"""
import os, signal, sys, importlib
target, corpus, out, dense = sys.argv[1:5]
mod, attr = target.split(":")
owner = importlib.import_module(mod)
*path, name = attr.split(".")
for p in path:
    owner = getattr(owner, p)
name, _, nth = name.partition("#")
orig, calls = getattr(owner, name), [0]
def die(*a, **k):
    calls[0] += 1
    if calls[0] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
    return orig(*a, **k)
setattr(owner, name, die)
import indexes.index as ix
ix.build(corpus, out, dense=dense == "1", progress=False)
"""


def _snapshot(d: Path) -> dict[str, str]:
    return {str(f.relative_to(d)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(d.rglob("*")) if f.is_file()}


def _published(out: Path) -> dict[str, str]:
    """What a loader sees: the ``current`` pointer and the files of the version it names."""
    from indexes.layout import resolve

    return {"current ->": os.readlink(out / "current"), **_snapshot(resolve(out))}


def _leftovers(out: Path) -> list[str]:
    """Temporary build directories beside ``out`` and version directories no pointer names."""
    current = os.readlink(out / "current") if (out / "current").is_symlink() else None
    tmp = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    orphans = [p.name for p in out.iterdir() if p.name.startswith("v-") and p.name != current]
    return sorted(tmp + orphans)


@pytest.fixture(scope="module")
def crash_corpus(tmp_path_factory, corpus_path) -> Path:
    path = tmp_path_factory.mktemp("crash") / "corpus.jsonl"
    with open(corpus_path, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as dst:
        for _, line in zip(range(N_PASSAGES), src):
            dst.write(line)
    return path


class LoaderLoop(threading.Thread):
    """Loads the index and fetches a passage in a loop; records every failure."""

    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out, self.stop, self.loads, self.failures = out, threading.Event(), 0, []

    def run(self) -> None:
        import indexes

        while not self.stop.is_set():
            try:
                idx = indexes.load(self.out)
                assert idx.store.get([0])[0].id
                self.loads += 1
            except Exception as e:  # noqa: BLE001 - every failure is recorded and asserted on
                self.failures.append(f"{type(e).__name__}: {e}")


def _params():
    for phase, target, dense, survives in CRASH_POINTS:
        marks = [pytest.mark.slow] if dense else []
        if not survives:
            marks.append(pytest.mark.xfail(strict=True, reason="the swap is two renames: a kill "
                                           "between them leaves no index (fixed on branch indexsafe)"))
        yield pytest.param(phase, target, dense, id=phase.replace(" ", "-"), marks=marks)


@pytest.mark.parametrize("phase, target, dense", list(_params()))
def test_killed_build_leaves_previous_index_intact(tmp_path, crash_corpus, phase, target, dense):
    import indexes

    out = indexes.build(crash_corpus, tmp_path / "idx", dense=False, progress=False)
    before = _published(out)
    loader = LoaderLoop(out)
    loader.start()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    try:
        for rep in range(REPEATS):
            leftover_before = _leftovers(out)
            child = subprocess.run([sys.executable, "-c", CHILD, target, str(crash_corpus), str(out),
                                    "1" if dense else "0"], env=env, capture_output=True, text=True, timeout=600)
            assert child.returncode == -9, f"{phase} #{rep}: build was not killed: {child.stderr[-2000:]}"
            assert _published(out) == before, f"{phase} #{rep}: previous index changed"
            assert len(indexes.load(out)) == N_PASSAGES
            assert len(_leftovers(out)) <= 1, f"{phase} #{rep}: temp dirs pile up: {_leftovers(out)}"
            stale = set(leftover_before) & set(_leftovers(out))
            assert not stale, f"{phase} #{rep}: the stale temp dir {stale} was not removed"
    finally:
        loader.stop.set()
        loader.join(timeout=60)
    assert loader.failures == [], loader.failures[:3]
    assert loader.loads > 0
    indexes.build(crash_corpus, out, dense=False, progress=False)  # a clean build after the crashes
    assert _leftovers(out) == []
    assert json.loads((out / "manifest.json").read_text())["n_docs"] == N_PASSAGES

"""Shared fixtures: small real samples of ../shared/data, and one small real index per session.

Nothing from ../shared/data is copied into the repository: samples are read at run time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Property tests: ``default`` keeps hypothesis's 100 examples a property (slow properties take a
# fraction of settings.default.max_examples); HYPOTHESIS_PROFILE=ci runs ten times as many,
# HYPOTHESIS_PROFILE=smoke five (a quick check that the properties run).
# No per-example deadline (the shared CPU makes timings noisy): hangs are caught by ``guarded``.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=1000)
settings.register_profile("smoke", parent=settings.get_profile("default"), max_examples=5)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@contextlib.contextmanager
def _guarded(root: Path, seconds: float = 20.0):
    """Run a parser under a wall-clock alarm; yields the list of files opened under ``root``."""
    global _OPENED

    def hang(signum, frame):
        raise TimeoutError(f"parser still running after {seconds} s: a hang")

    opened: list[str] = []
    _OPENED, old = [], signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield opened
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        opened += [p for p in _OPENED if os.path.abspath(p).startswith(str(root))]
        _OPENED = None


@pytest.fixture(scope="session")
def guarded():
    """``with guarded(root) as opened:`` runs the block under a 20 s alarm (a hang raises
    TimeoutError) and fills ``opened`` with the files it opened under ``root``."""
    return _guarded

SAMPLE_SIZE = 300


def _shared() -> Path:
    from rag.defaults import shared_data_dir

    return shared_data_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _shared()


@pytest.fixture(scope="session")
def corpus_path(shared_data) -> Path:
    return shared_data / "ambigqa_passages" / "corpus.jsonl"


@pytest.fixture(scope="session")
def sample_records(corpus_path) -> list[dict]:
    """300 real passages spread evenly over the corpus (every 22nd line)."""
    lines = corpus_path.read_text(encoding="utf-8").splitlines()
    step = max(1, len(lines) // SAMPLE_SIZE)
    return [json.loads(x) for x in lines[::step][:SAMPLE_SIZE]]


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory, sample_records) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "sample.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in sample_records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def encoder():
    from indexes.dense import SentenceEncoder

    return SentenceEncoder(device="cpu")


@pytest.fixture(scope="session")
def small_index_dir(tmp_path_factory, sample_corpus, encoder) -> Path:
    """A real hybrid index (BM25 + MiniLM/FAISS) over the 300-passage sample."""
    from indexes import build

    return build(sample_corpus, tmp_path_factory.mktemp("idx") / "small", encoder=encoder, progress=False)


@pytest.fixture(scope="session")
def small_index(small_index_dir, encoder):
    import indexes

    return indexes.load(small_index_dir, device="cpu")


@pytest.fixture(scope="session")
def dev_questions(shared_data) -> list[dict]:
    return json.loads((shared_data / "ambigqa" / "dev_light.json").read_text(encoding="utf-8"))

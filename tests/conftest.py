"""Shared fixtures: small real samples of ../shared/data, and one small real index per session.

Nothing from ../shared/data is copied into the repository: samples are read at run time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

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

"""A real index of the hand-written Bobby Carpenter corpus plus one passage carrying markup, and
the real model-free pipeline over it (no LLM ships in ``.[dev]``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bobby_carpenter.jsonl"
MARKUP = {"id": "tools", "title": "Carpentry tools <script>alert(1)</script>",
          "text": "A carpenter uses the hand saw, the chisel and the hammer. "
                  "<script>window.__pwned = 1</script> Power tools came later."}
# With the model-free reader this question has two readings in the example corpus.
CLARIFY_Q = "When was Bobby Carpenter drafted?"


@pytest.fixture(scope="session")
def web_index(tmp_path_factory, encoder) -> Path:
    from indexes import build

    corpus = tmp_path_factory.mktemp("webcorpus") / "corpus.jsonl"
    corpus.write_text(EXAMPLE.read_text(encoding="utf-8") + json.dumps(MARKUP) + "\n", encoding="utf-8")
    return build(corpus, tmp_path_factory.mktemp("webidx") / "idx", encoder=encoder, progress=False)


@pytest.fixture(scope="session")
def web_pipeline(web_index):
    from rag.pipeline import Pipeline

    return Pipeline.from_index(web_index, llm=None, k=6, extract="llm")  # the model-free span ranking


@pytest.fixture()
def make_app(web_pipeline, web_index):
    """``make_app(db_path)`` -> the real app over the real pipeline and a store at ``db_path``."""
    from rag.feedback.store import FeedbackStore
    from rag.web.app import PassageLookup, create_app

    stores = []

    def make(db: Path):
        store = FeedbackStore(db)
        stores.append(store)
        return create_app(web_pipeline, store, passages=PassageLookup(web_index)), store

    yield make
    for s in stores:
        s.close()

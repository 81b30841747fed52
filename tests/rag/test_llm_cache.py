"""LLM set-up failures named in one line, and the LLM cache when its file cannot be used (the
answers still come, uncached, with a warning naming the file; it was a sqlite3 traceback). The
model behind the cache is a stand-in that echoes its prompts: what is tested is the cache file,
and the real models' tests (tests/rag/test_llm.py) need the ``llm`` extra."""

from __future__ import annotations

import logging

import pytest

from rag.llm.base import CachedLLM


class Echo:
    id = "echo"

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, max_tokens=64, stop=None):
        self.calls += 1
        return [p.upper() for p in prompts]

    def score(self, prompts, continuations):
        self.calls += 1
        return [-float(len(c)) for c in continuations]


@pytest.mark.parametrize("damage", ["not-a-database", "folder-is-a-file"])
def test_an_unusable_cache_file_answers_uncached_and_names_the_file(tmp_path, caplog, damage):
    path = tmp_path / "llm.sqlite"
    if damage == "not-a-database":
        path.write_bytes(b"this is not SQLite" * 100)
    else:
        (tmp_path / "cache").write_text("a file where the cache folder should be")
        path = tmp_path / "cache" / "llm.sqlite"
    inner = Echo()
    with caplog.at_level(logging.WARNING, logger="ambigrag"):
        llm = CachedLLM(inner, path)
    assert f"LLM cache {path} cannot be used" in caplog.text
    assert llm.generate(["a", "b"]) == ["A", "B"] and llm.generate(["a"]) == ["A"]
    assert llm.score(["q"], ["abc"]) == [-3.0]
    assert (inner.calls, llm.hits, llm.misses) == (3, 0, 4)


def test_a_working_cache_answers_a_repeat_from_the_file(tmp_path):
    inner = Echo()
    assert CachedLLM(inner, tmp_path / "llm.sqlite").generate(["a"]) == ["A"]
    again = CachedLLM(inner, tmp_path / "llm.sqlite")
    assert again.generate(["a"]) == ["A"] and (inner.calls, again.hits, again.misses) == (1, 1, 0)


def test_a_backend_named_without_its_runtime_is_refused_at_once(monkeypatch):
    """default_llm(backend="llamacpp") without llama-cpp-python returned an LLM that failed at its
    first call, so `eval run --llm-backend llamacpp` set everything up and then failed."""
    import importlib.util

    from rag.pipeline import default_llm

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("llama_cpp", "gguf")
                        else real(name, *a))
    with pytest.raises(ValueError, match=r"^the llamacpp LLM backend needs llama-cpp-python: pip install"):
        default_llm(backend="llamacpp")
    with pytest.raises(ValueError, match=r"^the transformers LLM backend needs gguf: pip install"):
        default_llm(backend="transformers")


def test_a_transformers_model_that_cannot_be_had_is_named(tmp_path, monkeypatch):
    """Offline, an uncached id failed with the hub's "We couldn't connect ...", naming no model;
    a missing folder with "Repo id must be in the form 'repo_name' ..."."""
    from rag.llm.hf import TransformersLLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=f"^LLM {tmp_path / 'nope'}: no such model folder$"):
        TransformersLLM(str(tmp_path / "nope")).generate(["hi"])
    with pytest.raises(ValueError, match=r"^LLM someone/not-cached-llm: cannot load it \(.*\); give a local model"):
        TransformersLLM("someone/not-cached-llm").generate(["hi"])

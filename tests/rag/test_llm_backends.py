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
    from rag.llm.hf import TransformersLLM
    from rag.llm.llamacpp import smollm2_gguf

    try:
        path = smollm2_gguf()   # found without importing the package (importing it needs `llm`)
    except (ModuleNotFoundError, FileNotFoundError) as e:
        pytest.skip(f"install the llm extra ({e})")
    llm = TransformersLLM(os.path.dirname(path), gguf_file=os.path.basename(path), device="cpu")
    out = llm.generate(["What is the capital of France? Answer in a few words."], max_tokens=10)
    assert "paris" in out[0].lower()
    s = llm.score(["What is the capital of France?"] * 2, ["Paris", "Ulaanbaatar"])
    assert s[0] > s[1]
    raw = TransformersLLM(os.path.dirname(path), gguf_file=os.path.basename(path), device="cpu", chat=False)
    # an empty prompt: the first token was read from the row after the continuation (-31.8, not
    # -35.4); it is scored after the start token, as if the prompt were that token
    tok = raw._load()[0]
    empty, start = raw.score(["", tok.bos_token or tok.eos_token], ["Paris is nice"] * 2)
    assert empty == start < 0


def test_chat_model_adapter_passes_the_token_limit_and_joins_text_blocks():
    """max_tokens never reached the model, and text blocks were joined with spaces ("Par is")."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    from rag.integrations.langchain_llm import ChatModelLLM

    class Recording(BaseChatModel):
        seen: list = []

        @property
        def _llm_type(self) -> str:
            return "recording"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            self.seen.append({"stop": stop, **kwargs})
            blocks = [{"type": "text", "text": "Par"}, {"type": "text", "text": "is"}]
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=blocks))])

    model = Recording()
    assert ChatModelLLM(model).generate(["capital of France?"], max_tokens=5, stop=["\n"]) == ["Paris"]
    assert model.seen == [{"stop": ["\n"], "max_tokens": 5}]
    assert ChatModelLLM(model, max_tokens_arg="num_predict").generate(["q"], max_tokens=7) == ["Paris"]
    assert ChatModelLLM(model, max_tokens_arg=None).generate(["q"], max_tokens=7) == ["Paris"]
    assert model.seen[1:] == [{"stop": None, "num_predict": 7}, {"stop": None}]


def test_batches_stop_lists_and_backend_results_are_checked(tmp_path):
    """stop=[""] failed deep in the backend ("empty separator"); a backend returning too few
    results gave a KeyError, and a None was cached for good; a missing GGUF path was accepted."""
    from rag.llm.base import check_batch
    from rag.llm.llamacpp import LlamaCppLLM

    assert check_batch(("a", "b"), 4, ["\n"]) == ["a", "b"]
    with pytest.raises(ValueError, match="stop must hold non-empty strings, got \\['\\\\n', ''\\]"):
        check_batch(["x"], 4, ["\n", ""])
    with pytest.raises(TypeError, match="stop must be a list of strings, not the string"):
        check_batch(["x"], 4, "\n")

    class Short:
        id = "short"

        def generate(self, prompts, max_tokens=64, stop=None):
            return [None] if len(prompts) == 1 else ["only one"]

    cached = CachedLLM(Short(), tmp_path / "c.sqlite")
    for prompts in (["a"], ["a", "b"]):
        with pytest.raises(TypeError, match="short: the model returned"):
            cached.generate(prompts)
    assert cached._db.execute("SELECT count(*) FROM cache").fetchone() == (0,)
    with pytest.raises(FileNotFoundError, match="nope.gguf: no such GGUF model file"):
        LlamaCppLLM(str(tmp_path / "nope.gguf"))

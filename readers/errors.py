"""Errors a reader raises when it cannot read, as opposed to finding nothing to read.

A reader that finds no supporting evidence abstains ("no supporting evidence in the retrieved
passages"); a reader whose model failed (a missing model file, out of memory, an exception or a
malformed result from the backend) raises :class:`ReaderError`, whose message starts with
"the reader failed:" and carries the backend's own message.

>>> str(ReaderError.from_backend(MemoryError("CUDA out of memory")))
'the reader failed: MemoryError: CUDA out of memory'
"""

from __future__ import annotations

from retrievers.llm import ModelError


class ReaderError(ModelError):
    """The reader's model failed; never raised for a question the evidence cannot answer."""

    PREFIX = "the reader failed: "

    @classmethod
    def malformed(cls, what: str) -> ReaderError:
        return cls(f"{cls.PREFIX}{what}")

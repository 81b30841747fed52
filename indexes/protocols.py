"""The Encoder protocol (the dense index's stage). Implementations do not inherit from it; any
object with the right attribute and method fits (:class:`indexes.dense.SentenceEncoder` does)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """Texts to L2-normalised vectors, shape (len(texts), dim)."""

    id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

"""ambigrag's public API. Importing this package loads no model and no heavy library.

>>> from rag import Pipeline, Answer   # Pipeline is imported on first use
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indexes._version import __version__
from rag.types import Answer, Hit, Passage, Reading, SpanLog  # light: dataclasses only

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

__all__ = ["Answer", "Hit", "Passage", "Pipeline", "Reading", "SpanLog", "__version__"]


def __getattr__(name: str):
    if name == "Pipeline":
        from rag.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'rag' has no attribute {name!r}")

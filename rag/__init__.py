"""ambigrag's public API. Importing this package loads no model and no heavy library."""

from __future__ import annotations

__version__ = "0.1.0"

from rag.types import Answer, Hit, Passage, Reading, SpanLog  # noqa: E402  (light: dataclasses only)

__all__ = ["Answer", "Hit", "Passage", "Reading", "SpanLog", "__version__"]

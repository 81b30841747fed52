"""Typed records shared by every stage, the CLI, the API and eval (re-exported from their floors).

``Passage`` and ``Hit`` live in :mod:`indexes.types`; ``SpanLog``, ``Reading``, ``Answer`` and
``AnswerKind`` in :mod:`readers.types`. This module keeps ``from rag.types import Answer`` working.

>>> p = Passage(id="d1", title="Dexter (TV series)", text="Dexter is ...")
>>> Hit(passage=p, score=1.5, rank=1, source="bm25").passage.title
'Dexter (TV series)'
"""

from __future__ import annotations

from indexes.types import Hit, Passage
from readers.types import Answer, AnswerKind, Reading, SpanLog

__all__ = ["Answer", "AnswerKind", "Hit", "Passage", "Reading", "SpanLog"]

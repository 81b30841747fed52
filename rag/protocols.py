"""One small Protocol per pipeline stage, re-exported from the floor of each stage. All are
batch-first.

Implementations do not inherit from these; any object with the right methods fits.

* :class:`Encoder` (:mod:`indexes.protocols`): texts to L2-normalised vectors;
* :class:`Retriever`, :class:`QueryRewriter` (:mod:`retrievers.protocols`);
* :class:`LLM` (:mod:`retrievers.llm`): batch ``generate`` and ``score``;
* :class:`Reader` (:mod:`readers.protocols`): a question and its hits to an Answer.
"""

from __future__ import annotations

from indexes.protocols import Encoder
from readers.protocols import Reader
from retrievers.llm import LLM
from retrievers.protocols import QueryRewriter, Retriever

__all__ = ["LLM", "Encoder", "QueryRewriter", "Reader", "Retriever"]

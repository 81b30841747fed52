"""LLM backends behind one protocol (``rag.llm.base.LLM``): batch ``generate`` and, where the
backend allows it, ``score`` (log-likelihood of given continuations). Nothing loads at import."""

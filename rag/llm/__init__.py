"""LLM backends behind one protocol (:class:`retrievers.llm.LLM`): batch ``generate`` and, where the
backend allows it, ``score`` (log-likelihood of given continuations). Nothing loads at import."""

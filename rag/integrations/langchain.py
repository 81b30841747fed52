"""LangChain edge: expose any ambigrag retriever as a ``langchain_core`` ``BaseRetriever``.

Only this module imports ``langchain_core``; the core packages never do.

>>> from rag.integrations.langchain import as_langchain_retriever       # doctest: +SKIP
>>> lc = as_langchain_retriever(retriever_for(indexes.load("/tmp/idx")), k=5)   # doctest: +SKIP
>>> lc.invoke("who won the 2017 nfl draft")[0].metadata["title"]        # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from rag.types import Hit


def hit_to_document(hit: Hit):
    """A LangChain ``Document``: the passage text, and as metadata the passage's own fields with
    the hit's ``id``, ``title``, ``score``, ``rank`` and ``source`` (a passage field of the same
    name is kept as ``passage_<name>``, so a corpus's ``score`` column cannot hide the hit's)."""
    from langchain_core.documents import Document

    own = {"id": hit.passage.id, "title": hit.passage.title, "score": hit.score, "rank": hit.rank,
           "source": hit.source}
    meta = {(f"passage_{key}" if key in own else key): v for key, v in hit.passage.meta.items()}
    return Document(page_content=hit.passage.text, id=hit.passage.id, metadata={**meta, **own})


def as_langchain_retriever(retriever: Any, k: int = 5):
    """Wrap ``retriever`` (anything with ``retrieve(queries, k)``) as a LangChain retriever.

    ``invoke`` retrieves one query; ``batch`` sends all its queries to ``retriever.retrieve`` in
    one call; ``ainvoke``/``abatch`` run the same in a worker thread. Each takes ``k=`` to
    override ``k`` for that call (``invoke(q, k=10)``, ``batch(qs, k=10)``).
    """
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict

    if not hasattr(retriever, "retrieve"):
        raise TypeError(f"{type(retriever).__name__} has no retrieve(queries, k) method")
    k = _k(k, 5)

    class AmbigragRetriever(BaseRetriever):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        inner: Any
        k: int = 5

        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                    k: int | None = None):
            return [hit_to_document(h) for h in self.inner.retrieve([query], _k(k, self.k))[0]]

        async def _aget_relevant_documents(self, query: str, *, run_manager, k: int | None = None):
            import asyncio

            n = _k(k, self.k)
            return await asyncio.to_thread(lambda: [hit_to_document(h) for h in self.inner.retrieve([query], n)[0]])

        def batch(self, inputs: list[str], config=None, *, return_exceptions: bool = False, **kwargs):
            """One batched retrieval (see :func:`_batch`)."""
            parent, n = super().batch, _k(kwargs.get("k"), self.k)
            return _batch(lambda qs: [[hit_to_document(h) for h in run] for run in self.inner.retrieve(qs, n)],
                          lambda rx: parent(inputs, config, return_exceptions=rx, **kwargs),
                          inputs, config, return_exceptions)

        async def abatch(self, inputs: list[str], config=None, *, return_exceptions: bool = False, **kwargs):
            import asyncio

            return await asyncio.to_thread(self.batch, inputs, config, return_exceptions=return_exceptions, **kwargs)

    return AmbigragRetriever(inner=retriever, k=k)


def as_runnable(pipeline: Any):
    """The whole pipeline as a langchain-core ``Runnable``: a question string (or
    ``{"question": ...}``) in, the :class:`~rag.types.Answer` as a dict out. ``batch`` goes
    through ``pipeline.answer_many``.

    >>> chain = as_runnable(Pipeline.default())                          # doctest: +SKIP
    >>> chain.invoke("What sport is Bobby Carpenter associated with?")["kind"]   # doctest: +SKIP
    'multi'
    """
    from langchain_core.runnables import RunnableLambda

    if not (hasattr(pipeline, "ask") and hasattr(pipeline, "answer_many")):
        raise TypeError(f"{type(pipeline).__name__} has no ask()/answer_many() methods")

    def _question(x: Any) -> str:
        q = x.get("question") if isinstance(x, dict) else x
        if not isinstance(q, str):
            raise TypeError(f"expected a question string or {{'question': str}}, got {type(x).__name__}")
        return q

    def one(x: Any) -> dict:
        return pipeline.ask(_question(x)).to_dict()

    def many(xs: list[Any]) -> list[dict]:
        return [a.to_dict() for a in pipeline.answer_many([_question(x) for x in xs], progress=False)]

    class PipelineRunnable(RunnableLambda):
        def batch(self, inputs, config=None, *, return_exceptions: bool = False, **kwargs):
            """``answer_many`` in one go (see :func:`_batch`)."""
            parent = super().batch
            return _batch(many, lambda rx: parent(inputs, config, return_exceptions=rx, **kwargs),
                          inputs, config, return_exceptions)

    return PipelineRunnable(one, name="ambigrag")


def _k(k: Any, default: int) -> int:
    """``k`` checked (an integer >= 1), or ``default`` when it is None."""
    if k is None:
        return default
    from retrievers.base import is_positive_int

    if not is_positive_int(k):   # numpy integers too, as retrievers take them
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def _batch(fast, one_by_one, inputs, config, return_exceptions: bool) -> list:
    """A batch in one call (``fast(list(inputs))``); input by input (``one_by_one(return_exceptions)``,
    LangChain's own batch) when callbacks must see each run, or when the one call failed and
    ``return_exceptions`` asks for each input's own result or error (one bad input used to fail
    them all)."""
    if not inputs:
        return []
    if _has_callbacks(config):
        return one_by_one(return_exceptions)
    try:
        return fast(list(inputs))
    except Exception:  # noqa: BLE001 - honour LangChain's return_exceptions contract
        if return_exceptions:
            return one_by_one(True)
        raise


def _has_callbacks(config: Any) -> bool:
    """Whether a batch's config (one dict, or one per input) names callbacks to notify."""
    configs = config if isinstance(config, list) else [config]
    return any(isinstance(c, dict) and c.get("callbacks") for c in configs)

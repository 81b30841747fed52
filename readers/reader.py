"""The ambiguity-aware reader: evidence table -> readings -> decision -> rendered answer.

Each stage is its own, separately testable piece:

1. :class:`readers.evidence.SpanExtractor`: one evidence row per passage that answers;
2. :func:`readers.readings.group_evidence`: readings, conflicts and outvoted rows; a reading
   labelled only by its answer gets distinctive phrases of its passages
   (:func:`readers.describe.describe_readings`), so a clarifying question does not list answers;
3. :func:`readers.policy.decide`: single / multi / clarify / abstain, reading the calibrated
   P(ambiguous) from :class:`AmbiguityScorer` when one is given;
4. :mod:`readers.clarify`: the clarifying question and the reply.

>>> from indexes.types import Hit, Passage
>>> hits = [Hit(Passage("a", "Bobby Carpenter (ice hockey)", "He played ice hockey for the Capitals."), 1, 1, "x"),
...         Hit(Passage("b", "Bobby Carpenter (American football)",
...                     "He played American football for the Cowboys."), 1, 2, "x")]
>>> AmbigReader().read("Which team did Bobby Carpenter play for?", hits).kind
'multi'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from indexes.types import Hit, distinct_hits
from readers.describe import describe_readings
from readers.evidence import SpanExtractor
from readers.policy import Policy, decide
from readers.readings import group_evidence
from readers.render import cited_first
from readers.types import Answer


class AmbiguityScorer:
    """Calibrated P(ambiguous) for a question and its hits from a trained
    :class:`~readers.ambiguity.AmbiguityModel` (the shipped question + evidence model by default).

    ``encoder`` is shared only when it is the model the classifier was trained on (its manifest's
    ``encoder``; any backend of it): an index built with another encoder gets the classifier's own,
    loaded on first use (another model's embeddings failed on their width, or, at the same width,
    gave meaningless probabilities)."""

    def __init__(self, model=None, encoder=None):
        from readers.ambiguity import AmbiguityModel, shipped_model_dir

        self.model = model or AmbiguityModel.load(shipped_model_dir("evidence"))
        self._wants = self.model.meta.get("encoder")
        self._encoder = encoder if encoder is None or self._wants in (None, encoder.id) else None

    @property
    def encoder(self):
        if self._encoder is None:
            from indexes.dense import DEFAULT_ENCODER, SentenceEncoder

            self._encoder = SentenceEncoder(self._wants or DEFAULT_ENCODER)
        return self._encoder

    def probability(self, question: str, hits: Sequence[Hit]) -> float:
        from readers.ambiguity import build_features

        spec = self.model.spec
        emb = self.encoder.encode([question]) if spec.embedding else None
        x = build_features(spec, emb, [question], [list(hits)] if spec.evidence else None)
        return float(np.asarray(self.model.predict_proba(x)).ravel()[0])


def _described(grouping, hits: Sequence[Hit], question: str):
    """``grouping`` with answer-only labels described (:mod:`readers.describe`); a conflict keeps
    pointing at its reading under the new label (the decision matches them by label)."""
    texts = {h.passage.id: h.passage.text for h in hits}
    described = describe_readings(grouping.readings, texts, question)
    renamed = {old.label: new.label for old, new in zip(grouping.readings, described) if old.label != new.label}
    conflicts = tuple(replace(c, label=renamed.get(c.label, c.label)) for c in grouping.conflicts)
    return replace(grouping, readings=tuple(described), conflicts=conflicts)


class AmbigReader:
    """Find every reading the hits support and decide how to answer (see module docstring).

    ``max_passages`` caps how many hits are read (best first). ``action_policy`` (a
    :class:`readers.action_policy.ActionPolicy`) replaces the threshold rule of
    :func:`readers.policy.decide` with a learned choice among the actions the readings allow."""

    def __init__(self, extractor=None, policy: Policy | None = None, ambiguity: AmbiguityScorer | None = None,
                 max_passages: int = 10, action_policy=None):
        if max_passages < 1:
            raise ValueError(f"max_passages must be >= 1, got {max_passages}")
        self.extractor = extractor or SpanExtractor()
        self.policy = policy or Policy()
        self.ambiguity = ambiguity
        self.max_passages = max_passages
        self.action_policy = action_policy  # readers.action_policy.ActionPolicy: a learned decision

    def read(self, question: str, hits: Sequence[Hit], *, interactive: bool = False) -> Answer:
        retrieved = distinct_hits(hits)   # a passage given twice is one piece of evidence
        hits = retrieved[: self.max_passages]
        table = self.extractor.extract(question, hits)
        grouping = group_evidence(table, min_support=self.policy.min_support,
                                  conflict_ratio=self.policy.conflict_ratio)
        grouping = _described(grouping, hits, question)
        # the classifier's evidence features were trained on the retrieved top 10, not on the passages read
        p = self.ambiguity.probability(question, retrieved) if self.ambiguity is not None else None
        if self.action_policy is None:
            ans = decide(grouping, p_ambiguous=p, interactive=interactive, policy=self.policy)
        else:
            from readers.action_policy import act

            full = decide(grouping, p_ambiguous=1.0, interactive=True, policy=self.policy)
            ans = full if full.kind == "abstain" else act(self.action_policy, question, hits, full,
                                                          interactive=interactive, p_ambiguous=p)
        # [1] is sources[0]: the cited passages in citation order, then the rest by rank
        sources = tuple(h.passage.id for h in hits) if ans.kind == "abstain" else \
            cited_first(ans.readings, [h.passage.id for h in hits])
        return replace(ans, question=question, sources=sources, p_ambiguous=p,
                       model_version=getattr(self.extractor, "version", None))

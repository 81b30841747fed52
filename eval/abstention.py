"""Abstention metrics and deterministic unanswerable sets.

Each item is ``(answerable, abstained, correct, confidence)``: ``correct`` is whether an
answered item's answer is right (an answered unanswerable item is never right), and
``confidence`` the system's confidence in answering, or ``None``.

* coverage = answered / all;  risk = wrong answers / answered;  accuracy when answering = 1 − risk
  (selective prediction, El-Yaniv & Wiener 2010);
* abstention precision / recall / F1 treat "abstain" as the prediction for "unanswerable"
  (Feng et al. 2024, "Don't Hallucinate, Abstain");
* AUROC of the confidence for separating right answers from everything else (Mann–Whitney U,
  ties counted half).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from readers.metrics import auroc

__all__ = ["AbstentionItem", "abstention_metrics", "auroc", "evidence_removed_ids", "ramdocs_noise_only"]


@dataclass(frozen=True)
class AbstentionItem:
    answerable: bool
    abstained: bool
    correct: bool = False
    confidence: float | None = None


def abstention_metrics(items: Sequence[AbstentionItem]) -> dict[str, Any]:
    if not items:
        raise ValueError("no items to score")
    answered = [x for x in items if not x.abstained]
    right = [x for x in answered if x.answerable and x.correct]
    unans = [x for x in items if not x.answerable]
    abst = [x for x in items if x.abstained]
    tp = sum(1 for x in abst if not x.answerable)
    prec = tp / len(abst) if abst else None
    rec = tp / len(unans) if unans else None
    f1 = 2 * prec * rec / (prec + rec) if prec and rec else (0.0 if prec is not None and rec is not None else None)
    conf = [x for x in items if x.confidence is not None]
    return {
        "n": len(items), "n_unanswerable": len(unans),
        "coverage": len(answered) / len(items),
        "risk": 1 - len(right) / len(answered) if answered else None,
        "accuracy_when_answering": len(right) / len(answered) if answered else None,
        "abstain_precision": prec, "abstain_recall": rec, "abstain_f1": f1,
        "auroc": auroc([x.confidence for x in conf], [x.answerable and x.correct and not x.abstained
                                                      for x in conf]) if conf else None,
    }


def ramdocs_noise_only(records: Sequence[dict]) -> list[dict]:
    """Unanswerable RAMDocs items: each question with only its ``noise`` documents.

    Questions with no noise document are left out. Ids get a ``-noise`` suffix. Deterministic.
    """
    out = []
    for r in records:
        noise = [d for d in r["documents"] if d["type"] == "noise"]
        if noise:
            out.append({**r, "id": f"{r['id']}-noise", "documents": noise, "answerable": False})
    return out


def evidence_removed_ids(question: str, origin_rows: Sequence[dict]) -> set[str]:
    """Passage ids to hide so an AmbigQA question loses its own evidence (from passage_origin)."""
    q = question.strip().lower()
    return {r["id"] for r in origin_rows if r["question"].strip().lower() == q}

"""Is a question ambiguous? A small calibrated classifier that drives clarify vs answer.

**Label** (AmbigQA, Min et al. 2020): a question is *ambiguous* when at least one annotation is
``multipleQAs`` (58.5% of dev_light, 47.3% of train_light). The evaluation's stricter "multi"
(no ``singleAnswer`` annotation at all) is a subset of it.

**Features** (:class:`FeatureSpec`):

* ``embedding``: the question's all-MiniLM-L6-v2 vector (384 numbers);
* ``lexical`` (:func:`lexical_features`): wh-word, year/number present, superlative, first/last,
  plural words, capitalised spans, recurring-event words, question length;
* ``evidence`` (question + evidence model only, :func:`evidence_features`): from retrieved hits,
  the number of distinct titles and of parenthetical titles in the top 10, the title entropy,
  and the score spread.

**Model**: L2-regularised logistic regression (numpy/scipy), then Platt scaling fitted on a
held-out 20% of train. Weights are an ``.npz`` (loaded with ``allow_pickle=False``) beside a
``manifest.json`` holding the feature spec, encoder id, threshold and training-data hash. The
two shipped models live in ``readers/models/`` and load without torch (only the encoder needs
it, to embed a new question).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from indexes.types import Hit

LEXICAL_NAMES = (
    "wh_who", "wh_what", "wh_when", "wh_where", "wh_which", "wh_how", "wh_other", "has_year",
    "has_number", "superlative", "first_last", "plural_words", "cap_spans", "recurring_event",
    "temporal_now", "n_words",
)
EVIDENCE_NAMES = ("n_titles_top10", "n_paren_titles_top10", "title_entropy", "score_spread", "top_title_share")
_SUPERLATIVE = re.compile(r"\b(most|least|best|worst|biggest|largest|highest|lowest|longest|oldest|"
                          r"youngest|\w+est)\b", re.I)
_RECURRING = re.compile(r"\b(won|win|wins|winner|champion|championship|season|episode|series|cup|"
                        r"award|oscar|olympics?|election|president|world series|super bowl)\b", re.I)
_NOW = re.compile(r"\b(current|currently|now|latest|recent|last|new|today|this year)\b", re.I)


def lexical_features(question: str) -> np.ndarray:
    """Cheap surface features of a question, in the order of ``LEXICAL_NAMES``."""
    q = question.strip()
    low = q.lower()
    first = low.split()[0] if low.split() else ""
    wh = [first == w for w in ("who", "what", "when", "where", "which", "how")]
    words = re.findall(r"[A-Za-z']+", q)
    caps = re.findall(r"(?:\b[A-Z][\w'&.-]*(?:\s+(?:of|the|and|de|la)?\s*[A-Z][\w'&.-]*)*)", q[1:])
    plural = sum(1 for w in words if len(w) > 3 and w.lower().endswith("s") and not w.lower().endswith("ss"))
    return np.array([*map(float, wh), float(not any(wh)),
                     float(bool(re.search(r"\b(1[5-9]|20)\d\d\b", q))), float(bool(re.search(r"\d", q))),
                     float(bool(_SUPERLATIVE.search(q))), float(bool(re.search(r"\b(first|last)\b", low))),
                     plural / max(1, len(words)), float(len(caps)), float(bool(_RECURRING.search(q))),
                     float(bool(_NOW.search(q))), len(words) / 10.0], dtype=np.float32)


def evidence_features(hits: Sequence[Hit]) -> np.ndarray:
    """Spread of the evidence, in the order of ``EVIDENCE_NAMES`` (zeros when there are no hits)."""
    top = list(hits)[:10]
    if not top:
        return np.zeros(len(EVIDENCE_NAMES), dtype=np.float32)
    titles = Counter(h.passage.title.strip().lower() for h in top)
    probs = np.array(list(titles.values()), dtype=np.float64) / len(top)
    scores = np.array([h.score for h in top], dtype=np.float64)
    spread = (scores[0] - scores[-1]) / (abs(scores[0]) + 1e-9)
    return np.array([len(titles) / 10.0, sum("(" in t for t in titles) / 10.0,
                     float(-(probs * np.log(probs)).sum()), float(spread),
                     max(titles.values()) / len(top)], dtype=np.float32)


@dataclass(frozen=True)
class FeatureSpec:
    """Which feature blocks a model uses, in order; stored in its manifest and checked on load."""

    embedding: bool = True
    lexical: bool = True
    evidence: bool = False
    dim: int = 384

    @property
    def names(self) -> list[str]:
        out = [f"emb_{i}" for i in range(self.dim)] if self.embedding else []
        out += list(LEXICAL_NAMES) if self.lexical else []
        out += list(EVIDENCE_NAMES) if self.evidence else []
        return out


def build_features(spec: FeatureSpec, embeddings: np.ndarray | None, questions: Sequence[str],
                   hits: Sequence[Sequence[Hit]] | None = None) -> np.ndarray:
    blocks = []
    if spec.embedding:
        if embeddings is None or embeddings.shape != (len(questions), spec.dim):
            raise ValueError(f"need question embeddings of shape ({len(questions)}, {spec.dim})")
        blocks.append(np.asarray(embeddings, dtype=np.float32))
    if spec.lexical:
        blocks.append(np.stack([lexical_features(q) for q in questions]))
    if spec.evidence:
        if hits is None or len(hits) != len(questions):
            raise ValueError("the question + evidence model needs the retrieved hits of every question")
        blocks.append(np.stack([evidence_features(h) for h in hits]))
    return np.concatenate(blocks, axis=1)


class AmbiguityModel:
    """Standardise -> logistic regression -> Platt scaling. ``predict_proba`` gives P(ambiguous)."""

    def __init__(self, spec: FeatureSpec, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 bias: float, platt: tuple[float, float], threshold: float, meta: dict[str, Any] | None = None):
        n = len(spec.names)
        for name, arr in (("mean", mean), ("scale", scale), ("coef", coef)):
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}, the feature spec needs ({n},)")
        self.spec, self.mean, self.scale, self.coef = spec, mean, scale, coef
        self.bias, self.platt, self.threshold = float(bias), (float(platt[0]), float(platt[1])), float(threshold)
        self.meta = meta or {}

    def decision(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * self.decision(x) + b)))

    def save(self, directory: str | Path) -> Path:
        """Write ``weights.npz`` and ``manifest.json`` as one folder that replaces ``directory``
        (:func:`indexes.paths.replace_dir`: never new weights under an old manifest); refuses a
        model with a non-finite parameter (a fit on too few questions), which would load and
        misjudge."""
        from indexes.paths import replace_dir

        d = Path(directory)
        params = [self.mean, self.scale, self.coef, [self.bias, *self.platt, self.threshold]]
        if not all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in params):
            raise ValueError(f"{d}: the model has a non-finite parameter (NaN or inf); not saved")
        manifest = {"kind": "ambiguity-logreg", "format_version": 1, "feature_spec": asdict(self.spec),
                    "n_features": len(self.spec.names), "bias": self.bias, "platt": list(self.platt),
                    "threshold": self.threshold, **self.meta}

        def fill(stage: Path) -> None:
            np.savez(stage / "weights.npz", mean=self.mean, scale=self.scale, coef=self.coef)
            (stage / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")

        return replace_dir(d, fill, kind="ambiguity-logreg", what="ambiguity model")   # never a folder of something else

    @classmethod
    def load(cls, directory: str | Path, expect: FeatureSpec | None = None) -> AmbiguityModel:
        """The model saved in ``directory``; a ``ValueError`` naming the file for a missing or
        damaged manifest or weights file."""
        d = Path(directory)
        try:
            m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
            if not isinstance(m, dict) or m.get("kind") != "ambiguity-logreg":
                raise ValueError(f"not an ambiguity model (kind {m.get('kind') if isinstance(m, dict) else None!r})")
            spec = FeatureSpec(**m["feature_spec"])
            bias, platt, threshold, n_features = m["bias"], tuple(m["platt"]), m["threshold"], m["n_features"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{d / 'manifest.json'}: {_why(e)}") from None
        if expect is not None and spec != expect:
            raise ValueError(f"{d}: feature spec {asdict(spec)} does not match the expected {asdict(expect)}")
        if n_features != len(spec.names):
            raise ValueError(f"{d}: manifest says {n_features} features, its spec gives {len(spec.names)}")
        try:
            with np.load(d / "weights.npz", allow_pickle=False) as w:
                mean, scale, coef = w["mean"], w["scale"], w["coef"]
        except (OSError, ValueError, KeyError, EOFError) as e:
            raise ValueError(f"{d / 'weights.npz'}: {_why(e)}") from None
        meta = {k: v for k, v in m.items() if k not in ("kind", "format_version", "feature_spec", "n_features",
                                                        "bias", "platt", "threshold")}
        return cls(spec, mean, scale, coef, bias, platt, threshold, meta)


def _why(e: Exception) -> str:
    if isinstance(e, KeyError):
        return f"no {e.args[0]!r} field"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror[0].lower() + e.strerror[1:]
    return str(e) or type(e).__name__


def shipped_model_dir(name: str) -> Path:
    """``question`` or ``evidence``: the models trained on AmbigQA train_light that ship in the package."""
    if name not in ("question", "evidence"):
        raise ValueError(f"shipped ambiguity models are 'question' and 'evidence', not {name!r}")
    return Path(str(resources.files("readers").joinpath("models", f"ambiguity_{name}")))


def label(record: dict) -> int:
    """1 if any annotation is ``multipleQAs`` (see module docstring)."""
    return int(any(a["type"] == "multipleQAs" for a in record["annotations"]))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width bins (Guo et al. 2017): Σ_b |B|/n · |acc(B) − conf(B)|, on P(ambiguous)."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


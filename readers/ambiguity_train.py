"""Train and evaluate the ambiguity classifiers (see :mod:`readers.ambiguity`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexes.paths import write_figure
from readers.ambiguity import (
    AmbiguityModel,
    FeatureSpec,
    build_features,
    expected_calibration_error,
    label,
    log_loss,
    sigmoid,
)
from readers.metrics import auroc

# Ridge strength on standardised features, chosen by log loss on the train calibration split
# (l2 = 1, 30, 100, 300, 1000, 3000 gave 0.6655, 0.6641, 0.6626, 0.6610, 0.6596, 0.6595; 1000
# also had the best calibration accuracy).
L2 = 1000.0


def fit_logreg(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by L-BFGS (deterministic: zero init, exact gradients)."""
    from scipy.optimize import minimize

    n, d = x.shape

    def loss(w):
        z = x @ w[:d] + w[d]
        p = sigmoid(z)
        eps = 1e-12
        nll = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
        g = p - y
        grad = np.concatenate([x.T @ g / n + l2 * w[:d] / n, [g.mean()]])
        return nll + 0.5 * l2 * (w[:d] @ w[:d]) / n, grad

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:d].astype(np.float32), float(res.x[d])


def fit_platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt (1999) scaling: P = σ(a·z + b) fitted by maximum likelihood on held-out scores."""
    w, b = fit_logreg(z.reshape(-1, 1).astype(np.float64), y, l2=1e-6)
    return float(w[0]), b


def best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The probability cut-off with the highest accuracy (ties: the one closest to 0.5)."""
    cands = np.unique(np.round(p, 4))
    accs = [((p >= t) == y).mean() for t in cands]
    best = max(accs)
    return float(min((t for t, a in zip(cands, accs) if a == best), key=lambda t: abs(t - 0.5)))


MIN_PER_CLASS = 10   # questions of each label: the 20% calibration split needs both


def check_trainable(path, labels: Sequence[int]) -> None:
    """``ValueError`` naming ``path`` unless its questions hold at least :data:`MIN_PER_CLASS` of
    each label: fewer left the calibration split with one class, a NaN threshold and a saved model
    that calls every question ambiguous (or none)."""
    n_amb = int(sum(labels))
    if min(n_amb, len(labels) - n_amb) < MIN_PER_CLASS:
        raise ValueError(f"{path}: {n_amb} ambiguous and {len(labels) - n_amb} unambiguous questions; training "
                         f"needs at least {MIN_PER_CLASS} of each")


def train(records: Sequence[dict], embeddings: np.ndarray | None, spec: FeatureSpec,
          hits: Sequence | None = None, *, seed: int = 0, l2: float = L2,
          meta: dict[str, Any] | None = None) -> tuple[AmbiguityModel, dict[str, float]]:
    """Fit on 80% of ``records``, calibrate and pick the threshold on the other 20%."""
    y = np.array([label(r) for r in records], dtype=np.float64)
    x = build_features(spec, embeddings, [r["question"] for r in records], hits).astype(np.float64)
    order = np.random.default_rng(seed).permutation(len(records))
    cut = int(0.8 * len(records))
    fit_i, cal_i = order[:cut], order[cut:]
    mean = x[fit_i].mean(0)
    scale = x[fit_i].std(0) + 1e-6
    xs = (x - mean) / scale
    coef, bias = fit_logreg(xs[fit_i], y[fit_i], l2)
    z_cal = xs[cal_i] @ coef + bias
    platt = fit_platt(z_cal, y[cal_i])
    p_cal = sigmoid(platt[0] * z_cal + platt[1])
    model = AmbiguityModel(spec, mean.astype(np.float32), scale.astype(np.float32), coef, bias, platt,
                           best_threshold(p_cal, y[cal_i]), {"seed": seed, "l2": l2, **(meta or {})})
    return model, {"calibration_log_loss": log_loss(p_cal, y[cal_i]),
                   "calibration_accuracy": float(((p_cal >= model.threshold) == y[cal_i]).mean())}


def metrics(p: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    pred = p >= threshold
    tp = float((pred & (y == 1)).sum())
    prec = tp / pred.sum() if pred.sum() else 0.0
    rec = tp / (y == 1).sum() if (y == 1).sum() else 0.0
    return {"accuracy": float((pred == y).mean()), "f1_ambiguous": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "auroc": auroc(p.tolist(), (y == 1).tolist()), "ece": expected_calibration_error(p, y),
            "threshold": threshold}


def majority_baseline(y_train: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Always predict the training majority class, with the training base rate as its probability."""
    rate = float(y_train.mean())
    p = np.full(len(y), rate)
    return {"accuracy": float(((p >= 0.5) == y).mean()), "f1_ambiguous": 0.0 if rate < 0.5 else
            float(2 * y.mean() / (1 + y.mean())), "auroc": 0.5, "ece": expected_calibration_error(p, y),
            "threshold": 0.5}


def reliability_diagram(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, bins: int = 10) -> Path:
    """Accuracy vs confidence per bin for each model (``{name: (p, y)}``), saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect")
    edges = np.linspace(0, 1, bins + 1)
    for name, (p, y) in curves.items():
        idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        xs = [p[idx == b].mean() for b in range(bins) if (idx == b).any()]
        ys = [y[idx == b].mean() for b in range(bins) if (idx == b).any()]
        ax.plot(xs, ys, "o-", label=f"{name} (ECE {expected_calibration_error(p, y):.3f})")
    ax.set_xlabel("predicted P(ambiguous)")
    ax.set_ylabel("fraction ambiguous")
    ax.legend(fontsize=7)
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    return Path(path)


def out_of_fold(records: Sequence[dict], embeddings: np.ndarray | None, spec: FeatureSpec,
                hits: Sequence | None = None, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """P(ambiguous) of every record from a model trained (as :func:`train`) on the other folds, so
    that a model stacked on it (the action policy) sees probabilities as unseen questions get them."""
    if folds < 2 or len(records) < folds:
        raise ValueError(f"need folds >= 2 and at least that many records, got {folds} folds, {len(records)}")
    order = np.random.default_rng(seed).permutation(len(records))
    out = np.zeros(len(records))
    for f in range(folds):
        test = np.sort(order[f::folds])
        rest = np.setdiff1d(np.arange(len(records)), test)
        model, _ = train([records[i] for i in rest], _rows(embeddings, rest), spec, _rows(hits, rest), seed=seed)
        x = build_features(spec, _rows(embeddings, test), [records[i]["question"] for i in test], _rows(hits, test))
        out[test] = model.predict_proba(x)
    return out


def _rows(a, idx: np.ndarray):
    if a is None:
        return None
    return a[idx] if isinstance(a, np.ndarray) else [a[i] for i in idx]

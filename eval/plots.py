"""Small matplotlib helpers that save PNGs: category distributions and per-system bars."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from eval.ambigdocs import CATEGORIES
from indexes.paths import write_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_categories(systems: Mapping[str, Mapping[str, int]], path: str | Path) -> Path:
    """Stacked bars of AmbigDocs categories (``{system: {category: count}}``), as fractions."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.5 * len(systems)))
    names = list(systems)
    left = [0.0] * len(names)
    for cat in CATEGORIES:
        vals = [systems[n].get(cat, 0) / max(1, sum(systems[n].values())) for n in names]
        ax.barh(names, vals, left=left, label=cat.replace("_", "-"))
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of questions")
    ax.legend(ncol=5, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    return Path(path)


def plot_systems(metrics: Mapping[str, Mapping[str, float]], path: str | Path) -> Path:
    """Grouped bars: one group per metric, one bar per system (``{system: {metric: value}}``)."""
    plt = _plt()
    systems = list(metrics)
    names = [m for m in next(iter(metrics.values())) if all(m in metrics[s] for s in systems)]
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 3))
    width = 0.8 / max(1, len(systems))
    for i, s in enumerate(systems):
        ax.bar([j + i * width for j in range(len(names))], [metrics[s][m] or 0 for m in names], width, label=s)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names, rotation=20, fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    return Path(path)

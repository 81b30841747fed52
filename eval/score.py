"""Score a prediction file with the official metrics of its dataset (``ambigrag eval score``)."""

from __future__ import annotations

from pathlib import Path


def score_file(dataset: str, gold: str | Path | None, pred: str | Path) -> dict:
    """Score a prediction file; return ``{"dataset", "summary", "rows"}``."""
    from eval import ambigdocs, ambigqa, data, ramdocs

    if dataset == "ambigqa":
        ref = data.load_ambigqa(gold)
        preds = ambigqa.validate_predictions(data.read_json_or_jsonl(pred), [r["id"] for r in ref], str(pred))
        result = ambigqa.evaluate(ref, preds)
    elif dataset == "ramdocs":
        recs = data.load_ramdocs(gold)
        result = ramdocs.evaluate(recs, data.load_generations(pred, [r["id"] for r in recs]))
    else:
        exs = data.load_ambigdocs(gold)
        result = ambigdocs.evaluate(exs, data.load_generations(pred, [e["id"] for e in exs]))
    return {"dataset": dataset, **result}

"""Score a prediction file with the official metrics of its dataset (``ambigrag eval score``)."""

from __future__ import annotations

from pathlib import Path


def score_file(dataset: str, gold: str | Path | None, pred: str | Path, only_predicted: bool = False) -> dict:
    """Score a prediction file; return ``{"dataset", "summary", "rows"}``. ``only_predicted``:
    score only the gold questions the file predicts (an ``{id: ...}`` object), e.g. the subset
    ``eval run`` answered (``--limit``, the covered questions); an id the gold file lacks is
    still an error."""
    from eval import ambigdocs, ambigqa, data, ramdocs

    if dataset == "ambigqa":
        ref, raw = data.load_ambigqa(gold), data.read_json_or_jsonl(pred)
        if only_predicted and isinstance(raw, dict):
            ref = _predicted(ref, raw, pred)
        preds = ambigqa.validate_predictions(raw, [r["id"] for r in ref], str(pred))
        result = ambigqa.evaluate(ref, preds)
    else:
        recs = data.load_ramdocs(gold) if dataset == "ramdocs" else data.load_ambigdocs(gold)
        if only_predicted:
            recs = _predicted(recs, data.read_json_or_jsonl(pred), pred)
        gens = data.load_generations(pred, [r["id"] for r in recs])
        result = (ramdocs if dataset == "ramdocs" else ambigdocs).evaluate(recs, gens)
    return {"dataset": dataset, **result}


def _predicted(recs: list[dict], raw, pred) -> list[dict]:
    """The records an ``{id: response}`` file predicts (``--only-predicted``)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{pred}: --only-predicted needs an {{id: response}} object, not a list aligned with "
                         "the dataset")
    ids = {str(r["id"]) for r in recs}
    unknown = sorted(set(raw) - ids)
    if unknown:
        raise ValueError(f"{pred}: {len(unknown)} id(s) not in the gold file, e.g. {unknown[:3]}")
    return [r for r in recs if str(r["id"]) in raw]

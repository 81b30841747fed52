"""Score a prediction file with the official metrics of its dataset (``ambigrag eval score``)."""

from __future__ import annotations

from pathlib import Path


def score_file(dataset: str, gold: str | Path | None, pred: str | Path, only_predicted: bool = False) -> dict:
    """Score a prediction file; return ``{"dataset", "summary", "rows"}``. ``only_predicted``
    (AmbigQA): score only the gold questions the file predicts, e.g. the subset ``eval run``
    answered (``--limit``, the covered questions); an id the gold file lacks is still an error."""
    from eval import ambigdocs, ambigqa, data, ramdocs

    if only_predicted and dataset != "ambigqa":
        raise ValueError(f"--only-predicted scores AmbigQA predictions ({{id: answers}}); {dataset} files are "
                         f"scored whole")
    if dataset == "ambigqa":
        ref, raw = data.load_ambigqa(gold), data.read_json_or_jsonl(pred)
        if only_predicted and isinstance(raw, dict):
            unknown = sorted(set(raw) - {r["id"] for r in ref})
            if unknown:
                raise ValueError(f"{pred}: {len(unknown)} id(s) not in the gold file, e.g. {unknown[:3]}")
            ref = [r for r in ref if r["id"] in raw]
        preds = ambigqa.validate_predictions(raw, [r["id"] for r in ref], str(pred))
        result = ambigqa.evaluate(ref, preds)
    elif dataset == "ramdocs":
        recs = data.load_ramdocs(gold)
        result = ramdocs.evaluate(recs, data.load_generations(pred, [r["id"] for r in recs]))
    else:
        exs = data.load_ambigdocs(gold)
        result = ambigdocs.evaluate(exs, data.load_generations(pred, [e["id"] for e in exs]))
    return {"dataset": dataset, **result}

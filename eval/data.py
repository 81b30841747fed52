"""Load the evaluation datasets (from ../shared/data by default, or any file of the same format)."""

from __future__ import annotations

from pathlib import Path

from indexes.datafiles import read_ambigqa, read_json_or_jsonl

__all__ = ["DATASETS", "default_path", "load_ambigdocs", "load_ambigqa", "load_generations",
           "load_ramdocs", "read_json_or_jsonl", "require_ids"]

DATASETS = ("ambigqa", "ambigdocs", "ramdocs")


def default_path(dataset: str) -> Path:
    from indexes.paths import shared_data_dir

    rel = {"ambigqa": "ambigqa/dev_light.json", "ramdocs": "ramdocs/RAMDocs_dev.jsonl",
           "ambigdocs": "ambigdocs/ambigdocs_validation_qa.jsonl"}[dataset]
    return shared_data_dir() / rel


def load_ambigqa(path: str | Path | None = None) -> list[dict]:
    return read_ambigqa(Path(path) if path else default_path("ambigqa"))


def load_ramdocs(path: str | Path | None = None) -> list[dict]:
    """RAMDocs records with ``id`` = 0-based line number (the file has no ids) unless present."""
    path = Path(path) if path else default_path("ramdocs")
    rows = read_json_or_jsonl(path)
    need = ("question", "documents", "disambig_entity", "gold_answers", "wrong_answers")
    for i, r in enumerate(rows):
        missing = [k for k in need if k not in r]
        if missing:
            raise ValueError(f"{path}: record {i} lacks {missing}")
    return [{"id": str(r.get("id", i)), **r} for i, r in enumerate(rows)]


def load_ambigdocs(path: str | Path | None = None) -> list[dict]:
    """AmbigDocs HF records ``{question, ambiguous_entity, documents:[{title, text, pid, answer}]}``.

    The offline QA-only copy (``gold.multi_answers``, no documents) is accepted too: its documents
    carry answers but no titles, so only answer recall can be scored on it.
    """
    path = Path(path) if path else default_path("ambigdocs")
    out = []
    for i, r in enumerate(read_json_or_jsonl(path)):
        if "documents" in r:
            out.append({"id": str(r.get("id", r.get("qid", i))), "question": r["question"],
                        "ambiguous_entity": r["ambiguous_entity"], "documents": r["documents"]})
        elif "gold" in r:
            out.append({"id": str(r.get("example_id", i)), "question": r["question"],
                        "ambiguous_entity": r["metadata"]["extra"]["ambiguous_entity"],
                        "documents": [{"title": None, "answer": a} for a in r["gold"]["multi_answers"]]})
        else:
            raise ValueError(f"{path}: record {i} has neither 'documents' nor 'gold'")
    return out


def require_ids(predictions: dict, ids: list[str], source: str) -> None:
    """Every reference id must have a prediction; the error names how many are missing."""
    missing = [i for i in ids if i not in predictions]
    if missing:
        raise ValueError(f"{source}: {len(missing)} id(s) missing from the predictions, e.g. {missing[:3]}")


def load_generations(path: str | Path, ids: list[str]) -> dict[str, str]:
    """``{id: text}`` (or a list aligned with the dataset) of generated responses."""
    data = read_json_or_jsonl(path)
    if isinstance(data, list):
        if len(data) != len(ids):
            raise ValueError(f"{path}: {len(data)} responses for {len(ids)} questions")
        data = dict(zip(ids, data))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected {{id: response}} or a list of responses")
    require_ids(data, ids, str(path))
    out = {}
    for i in ids:
        v = data[i]
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            v = "; ".join(v)
        if not isinstance(v, str):
            raise ValueError(f"{path}: response for id {i!r} must be a string, got {type(v).__name__}")
        out[i] = v
    return out

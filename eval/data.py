"""Load the evaluation datasets (from ../shared/data by default, or any file of the same format).

Every loader raises FileNotFoundError for a missing file and ValueError for anything else it
cannot use, naming the file and the record (0-based) and field; never a KeyError or TypeError.
"""

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


def refuse_dev_questions(train: list[dict], train_flag: str, dev_path: str | Path | None = None) -> None:
    """``ValueError`` when training records hold AmbigQA dev questions (by ``id``; AmbigQA dev,
    ASQA dev and CondAmbigQA are evaluation only), whatever the file is called: a copy of
    ``dev_light.json`` passed as ``--train`` was not refused. ``dev_path``: the dev file
    (default ``dev_light.json``); nothing is checked when it does not exist."""
    path = Path(dev_path) if dev_path else default_path("ambigqa")
    if not path.is_file():
        return
    dev = {r.get("id") for r in load_ambigqa(path)} - {None}
    shared = [r["id"] for r in train if r.get("id") in dev]
    if shared:
        raise ValueError(f"{train_flag}: {len(shared)} of its {len(train)} questions are in {path} (e.g. id "
                         f"{shared[0]!r}): it would be scored on questions it trained on (AmbigQA dev is evaluation "
                         "only, never training data)")


def load_ramdocs(path: str | Path | None = None) -> list[dict]:
    """RAMDocs records with ``id`` = 0-based line number (the file has no ids) unless present."""
    path = Path(path) if path else default_path("ramdocs")
    rows = _records(read_json_or_jsonl(path), path)
    need = ("question", "documents", "disambig_entity", "gold_answers", "wrong_answers")
    for i, r in enumerate(rows):
        missing = [k for k in need if k not in r]
        if missing:
            raise ValueError(f"{path}: record {i} lacks {missing}")
        _check(path, i, "question", isinstance(r["question"], str), "a string")
        _check(path, i, "documents", isinstance(r["documents"], list), "a list")
        for k in need[2:4]:  # scoring pairs each entity with its gold answer: none is no document
            _check(path, i, k, _strings(r[k]) and r[k], "a non-empty list of strings")
        _check(path, i, "wrong_answers", _strings(r["wrong_answers"]), "a list of strings")
    return [{**r, "id": str(r.get("id", i))} for i, r in enumerate(rows)]


def _records(rows, path: Path) -> list[dict]:
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: expected a non-empty list of records (JSONL or a JSON list)")
    for i, r in enumerate(rows):
        _check(path, i, None, isinstance(r, dict), "a JSON object")
    return rows


def _strings(x) -> bool:
    return isinstance(x, list) and all(isinstance(a, str) for a in x)


def _check(path: Path, i: int, field: str | None, ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"{path}: record {i}" + (f" field {field!r}" if field else "")
                         + f" must be {what}")


def _ambigdocs_record(path: Path, i: int, r: dict) -> dict:
    _check(path, i, "question", isinstance(r.get("question"), str), "a string")
    if "documents" in r:
        docs = r["documents"]
        _check(path, i, "documents", isinstance(docs, list) and docs and all(
            isinstance(d, dict) and isinstance(d.get("answer"), str)
            and isinstance(d.get("title"), (str, type(None))) for d in docs),
            "a non-empty list of {title, answer} objects")
        _check(path, i, "ambiguous_entity", isinstance(r.get("ambiguous_entity"), str), "a string")
        return {"id": str(r.get("id", r.get("qid", i))), "question": r["question"],
                "ambiguous_entity": r["ambiguous_entity"], "documents": docs}
    extra = r.get("metadata", {}).get("extra", {}) if isinstance(r.get("metadata"), dict) else {}
    entity = extra.get("ambiguous_entity") if isinstance(extra, dict) else None
    _check(path, i, "metadata.extra.ambiguous_entity", isinstance(entity, str), "a string")
    answers = r["gold"].get("multi_answers") if isinstance(r["gold"], dict) else None
    _check(path, i, "gold.multi_answers", _strings(answers) and answers, "a non-empty list of strings")
    return {"id": str(r.get("example_id", i)), "question": r["question"], "ambiguous_entity": entity,
            "documents": [{"title": None, "answer": a} for a in answers]}


def load_ambigdocs(path: str | Path | None = None) -> list[dict]:
    """AmbigDocs HF records ``{question, ambiguous_entity, documents:[{title, text, pid, answer}]}``.

    The offline QA-only copy (``gold.multi_answers``, no documents) is accepted too: its documents
    carry answers but no titles, so only answer recall can be scored on it.
    """
    path = Path(path) if path else default_path("ambigdocs")
    out = []
    for i, r in enumerate(_records(read_json_or_jsonl(path), path)):
        if "documents" not in r and "gold" not in r:
            raise ValueError(f"{path}: record {i} has neither 'documents' nor 'gold'")
        out.append(_ambigdocs_record(path, i, r))
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

"""Read JSON / JSONL data files and the AmbigQA light format, with errors that name the file.

On the bottom floor so that every package can read AmbigQA (the query-expansion example bank
is built from AmbigQA train); :mod:`eval.data` loads the evaluation datasets on top of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_or_jsonl(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"{path}: file is empty")
    if path.suffix == ".jsonl":
        out = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}, line {n}: invalid JSON: {e.msg}") from None
        return out
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None


def validate_reference(reference: Any, source: str = "reference") -> list[dict]:
    """Check the AmbigQA light format (list of ``{id, question, annotations}``)."""
    if not isinstance(reference, list) or not reference:
        raise ValueError(f"{source}: expected a non-empty JSON list of questions")
    for i, ref in enumerate(reference):
        ok = (isinstance(ref, dict) and isinstance(ref.get("id"), str) and isinstance(ref.get("question"), str)
              and isinstance(ref.get("annotations"), list) and ref["annotations"]
              and all(isinstance(a, dict) and a.get("type") in ("singleAnswer", "multipleQAs")
                      for a in ref["annotations"]))
        if not ok:
            raise ValueError(f"{source}: record {i} is not an AmbigQA question "
                             "({id, question, annotations:[{type: singleAnswer|multipleQAs, ...}]})")
    return reference


def read_ambigqa(path: str | Path) -> list[dict]:
    """The AmbigQA light-format questions of ``path`` (validated)."""
    return validate_reference(read_json_or_jsonl(path), str(path))

"""Read JSON / JSONL data files and the AmbigQA light format, with errors that name the file.

On the bottom floor so that every package can read AmbigQA (the query-expansion example bank
is built from AmbigQA train); :mod:`eval.data` loads the evaluation datasets on top of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: invalid JSON at line {e.lineno}: {e.msg}") from None
    except RecursionError:
        raise ValueError(f"{where}: invalid JSON: nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal over Python's 4300-digit limit
        raise ValueError(f"{where}: invalid JSON: {e}") from None


def read_json_or_jsonl(path: str | Path) -> Any:
    """The JSON value of a ``.json`` file, or the list of values of a ``.jsonl`` file.

    Raises FileNotFoundError for a missing file and ValueError (naming the file, and the line
    of a JSONL file) for anything else: a directory, non-UTF-8 bytes, invalid JSON, an empty file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 (byte 0x{e.object[e.start]:02x} at offset {e.start})") from None
    if not text.strip():
        raise ValueError(f"{path}: file is empty")
    if path.suffix == ".jsonl":
        return [_loads(line, f"{path}, line {n}") for n, line in enumerate(text.split("\n"), start=1)
                if line.strip()]
    return _loads(text, str(path))


def jsonl_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSONL file; a ValueError names the
    file and line of invalid JSON or of a line that is not a JSON object.

    ``for n, rec in jsonl_objects("feedback.jsonl"): ...`` (used by every JSONL reader of
    records whose own check then names the same ``path:n``).
    """
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{n}: not UTF-8 (byte 0x{raw[e.start]:02x})") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError) as e:
                raise ValueError(f"{path}:{n}: invalid JSON ({e})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
            yield n, obj


def _is_aliases(x: Any) -> bool:
    return isinstance(x, list) and all(isinstance(a, str) for a in x)


def _is_annotation(a: Any) -> bool:
    if not isinstance(a, dict):
        return False
    if a.get("type") == "singleAnswer":
        return _is_aliases(a.get("answer"))
    return a.get("type") == "multipleQAs" and isinstance(a.get("qaPairs"), list) and all(
        isinstance(q, dict) and isinstance(q.get("question"), str) and _is_aliases(q.get("answer"))
        for q in a["qaPairs"])


def validate_reference(reference: Any, source: str = "reference") -> list[dict]:
    """Check the AmbigQA light format (list of ``{id, question, annotations}``); a ValueError
    names the source and the record."""
    if not isinstance(reference, list) or not reference:
        raise ValueError(f"{source}: expected a non-empty JSON list of questions")
    for i, ref in enumerate(reference):
        ok = (isinstance(ref, dict) and isinstance(ref.get("id"), str) and isinstance(ref.get("question"), str)
              and isinstance(ref.get("annotations"), list) and ref["annotations"]
              and all(_is_annotation(a) for a in ref["annotations"]))
        if not ok:
            raise ValueError(f"{source}: record {i} is not an AmbigQA question "
                             "({id, question, annotations:[{type: singleAnswer, answer: [str]} | "
                             "{type: multipleQAs, qaPairs: [{question, answer: [str]}]}]})")
    return reference


def read_ambigqa(path: str | Path) -> list[dict]:
    """The AmbigQA light-format questions of ``path`` (validated)."""
    return validate_reference(read_json_or_jsonl(path), str(path))

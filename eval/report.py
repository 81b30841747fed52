"""Reports: a JSON file (summary, per-example rows, category counts) and a markdown table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from indexes.paths import write_atomic


def fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub markdown table of ``rows`` (dicts) over ``columns`` (default: the first row's keys)."""
    if not rows:
        return "(no rows)\n"
    cols = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def summary_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per system (``{name: summary}``), scalar metrics as columns; nested dicts skipped."""
    keys: list[str] = []
    for s in summaries.values():
        keys += [k for k, v in s.items() if not isinstance(v, (dict, list)) and k not in keys]
    return markdown_table([{"system": name, **s} for name, s in summaries.items()], ["system", *keys])


def categories_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [{"system": n, **s["categories"]} for n, s in summaries.items() if s.get("categories")]
    return markdown_table(rows) if rows else ""


def write_report(report: dict[str, Any], json_out: str | Path | None = None,
                 md_out: str | Path | None = None, title: str = "Evaluation") -> str:
    """Write ``report`` as JSON and markdown; return the markdown."""
    summaries = report.get("systems") or {"system": report["summary"]}
    md = f"# {title}\n\n" + summary_table(summaries)
    cats = categories_table(summaries)
    if cats:
        md += "\n## Categories\n\n" + cats
    if json_out:
        write_atomic(json_out, json.dumps(report, indent=2, ensure_ascii=False, default=str))
    if md_out:
        write_atomic(md_out, md)
    return md

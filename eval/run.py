"""End-to-end evaluation: run readers on a dataset and score them with the official metrics.

* **ramdocs**: each question's own documents are its hits (the gold-documents setting, no
  index). The scored response is the structured answer: the readings' answers joined by "; "
  (empty for an abstention), so reading labels and conflict notes cannot add or hide answers.
* **ambigqa**: hits from a retriever (the default index, corpus-covered dev subset by default).
  Predictions are written in the official format: ``{id: [{"question", "answer"}]}`` per reading
  (the question is the reading's disambiguated question), ``[]`` for an abstention.
  With ``clarify=True`` the multi-answer questions are also run interactively against a
  simulated user (:mod:`eval.clarification`): recovery F1 and clarify rate.
* **ambigdocs**: records that carry document texts are read like RAMDocs (gold documents);
  the offline QA-only copy has none, so its questions are answered from the retriever.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from indexes.types import Hit, Passage
from readers.types import Answer


def record_hits(record: dict) -> list[Hit]:
    """A RAMDocs/AmbigDocs record's documents as hits, in file order (their labels are not shown)."""
    hits = []
    for j, d in enumerate(record["documents"]):
        p = Passage(f"{record['id']}-{j}", d.get("title") or "", d["text"])
        hits.append(Hit(p, 1.0, j + 1, "gold-docs"))
    return hits


def response_text(ans: Answer) -> str:
    """The answers a response commits to: the readings' answers (none for abstain/clarify)."""
    if ans.kind in ("abstain", "clarify"):
        return ""
    return "; ".join(r.answer for r in ans.readings)


def disambiguated_question(question: str, label: str) -> str:
    """The reading as a question: the label's words that the question lacks, appended.

    >>> disambiguated_question("What sport is Bobby Carpenter associated with?",
    ...                        "Bobby Carpenter (ice hockey)")
    'What sport is Bobby Carpenter associated with, ice hockey?'
    """
    from eval.normalize import normalize_answer

    asked = set(normalize_answer(question).split())
    extra = [w for w in label.replace("(", " ").replace(")", " ").split()
             if normalize_answer(w) and normalize_answer(w) not in asked]
    q = question.rstrip().rstrip("?")
    return f"{q}, {' '.join(extra)}?" if extra else f"{q}?"


def ambigqa_prediction(ans: Answer) -> list[dict]:
    if ans.kind in ("abstain", "clarify"):
        return []
    multi = len(ans.readings) > 1
    return [{"question": disambiguated_question(ans.question, r.label) if multi else ans.question,
             "answer": r.answer} for r in ans.readings]


def _timed(reader, questions, hits, desc: str, progress: bool) -> tuple[list[Answer], float]:
    t = time.perf_counter()
    out = read_all(reader, questions, hits, desc, progress)
    return out, round(time.perf_counter() - t, 1)


def read_all(reader, questions: Sequence[str], hits: Sequence[Sequence[Hit]], desc: str,
             progress: bool = True) -> list[Answer]:
    """Run ``reader`` on every question (``read_many`` when the reader has it), with a bar."""
    from tqdm.auto import tqdm

    from indexes.progress import hidden

    if hasattr(reader, "read_many"):
        out: list[Answer] = []
        bar = tqdm(total=len(questions), desc=desc, unit="q", disable=hidden(progress))
        for i in range(0, len(questions), 16):
            out += reader.read_many(questions[i:i + 16], hits[i:i + 16])
            bar.update(len(questions[i:i + 16]))
        bar.close()
        return out
    return [reader.read(q, h) for q, h in tqdm(list(zip(questions, hits)), desc=desc, unit="q",
                                               disable=hidden(progress))]


def run_gold_docs(dataset: str, records: Sequence[dict], readers: Mapping[str, Any],
                  progress: bool = True, hits: Sequence[Sequence[Hit]] | None = None) -> dict[str, Any]:
    """RAMDocs (or AmbigDocs with documents): every reader on each record's own documents, or
    on the given ``hits`` (AmbigDocs records without document texts)."""
    from eval import ambigdocs, ramdocs

    questions = [r["question"] for r in records]
    hits = hits if hits is not None else [record_hits(r) for r in records]
    systems, rows, predictions = {}, {}, {}
    for name, reader in readers.items():
        answers, secs = _timed(reader, questions, hits, f"{dataset} {name}", progress)
        responses = {r["id"]: response_text(a) for r, a in zip(records, answers)}
        predictions[name] = responses   # `ambigrag eval score --dataset DATASET --pred` scores them again
        scored = ramdocs.evaluate(records, responses) if dataset == "ramdocs" else \
            ambigdocs.evaluate(records, responses)
        systems[name] = {**scored["summary"], **_kinds(answers), "seconds": secs}
        rows[name] = [{**row, "kind": a.kind, "text": a.text, "reason": a.reason}
                      for row, a in zip(scored["rows"], answers)]
    return {"dataset": dataset, "n": len(records), "systems": systems, "rows": rows, "predictions": predictions}


def _kinds(answers: Sequence[Answer]) -> dict[str, float]:
    n = max(1, len(answers))
    return {f"rate_{k}": sum(a.kind == k for a in answers) / n for k in ("single", "multi", "abstain")}


def run_ambigqa(records: Sequence[dict], retriever, readers: Mapping[str, Any], *, k: int = 10,
                clarify_reader=None, encoder=None, progress: bool = True) -> dict[str, Any]:
    """AmbigQA: retrieve once, run every reader, score F1_ans (and EDIT-F1 for the pairs)."""
    from eval import ambigqa
    from retrievers.base import retrieve_batched

    questions = [r["question"] for r in records]
    hits = retrieve_batched(retriever, questions, k, batch_size=64, desc="retrieving")
    systems, rows, predictions = {}, {}, {}
    for name, reader in readers.items():
        answers, secs = _timed(reader, questions, hits, f"ambigqa {name}", progress)
        preds = {r["id"]: ambigqa_prediction(a) for r, a in zip(records, answers)}
        scored = ambigqa.evaluate(records, preds)
        systems[name] = {**scored["summary"], **_kinds(answers), "seconds": secs}
        rows[name] = [{**row, "kind": a.kind, "text": a.text, "p_ambiguous": a.p_ambiguous}
                      for row, a in zip(scored["rows"], answers)]
        predictions[name] = preds
    report = {"dataset": "ambigqa", "n": len(records), "systems": systems, "rows": rows,
              "predictions": predictions}
    if clarify_reader is not None:
        report["clarification"] = run_clarification(records, hits, clarify_reader, encoder, progress)
    return report


def run_clarification(records: Sequence[dict], hits: Sequence[Sequence[Hit]], reader, encoder,
                      progress: bool = True) -> dict[str, Any]:
    """Interactive runs on the multi-answer questions with a simulated user per gold reading,
    with the calibrated ambiguity classifier (``classifier``) and without it (``always``:
    clarify whenever several readings are found)."""
    from tqdm.auto import tqdm

    from eval.ambigqa import is_multi
    from eval.clarification import summarize
    from indexes.progress import hidden
    from readers.reader import AmbigReader

    picked = [(r, h) for r, h in zip(records, hits) if is_multi(r)]
    always = AmbigReader(reader.extractor, reader.policy, ambiguity=None, max_passages=reader.max_passages)
    out = {}
    for variant, r in (("classifier", reader), ("always", always)):
        rows = [_converse(rec, h, r, encoder)
                for rec, h in tqdm(picked, desc=f"clarifying ({variant})", unit="q", disable=hidden(progress))]
        out[variant] = summarize(rows) if rows else {"n": 0}
    return out


def _converse(record: dict, hits: Sequence[Hit], reader, encoder) -> dict[str, Any]:
    """One question: ask interactively; if it clarifies, a simulated user per gold reading replies.
    Scored against each ``multipleQAs`` annotation (its readings are the users), keeping the best,
    as the official F1_ans takes the best annotation (the policy simulation's targets and
    clarification F1, :mod:`eval.policy_sim`)."""
    from eval.clarification import direct_f1
    from eval.policy_sim import ambigqa_targets, clarification_f1

    ans = reader.read(record["question"], hits, interactive=True)
    targets = ambigqa_targets(record)
    if ans.kind != "clarify":
        given = [r.answer for r in ans.readings] if ans.kind != "abstain" else []
        return {"clarified": False, "turns": 0, "f1": max(direct_f1(t.gold, given) for t in targets)}
    return {"clarified": True, "turns": 1,
            "f1": max(clarification_f1(record["question"], t.interpretations, ans, encoder) for t in targets)}

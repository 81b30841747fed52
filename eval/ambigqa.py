"""AmbigQA metrics, following ``ambigqa_evaluate_script.py`` of shmsw25/AmbigQA exactly.

Definitions (Min et al., EMNLP 2020, Sec. 5; the official script):

* A **gold item** is the alias list of one reading: one per ``qaPair`` of a ``multipleQAs``
  annotation, or the whole ``answer`` list of a ``singleAnswer`` annotation (a single item).
* **F1_ans** (:func:`answer_f1`): predictions are matched greedily, gold items in the outer loop
  and predictions in the inner loop; the first unmatched prediction that equals (after SQuAD
  normalisation) any alias of an unmatched gold item is matched. Duplicated predictions are
  therefore unmatched. P = matched predictions / predictions, R = matched gold / gold,
  F1 = 2PR/(P+R). The max over annotations is taken, then the mean over questions.
* **multi** questions are those where *no* annotation is ``singleAnswer`` (1,002 of the 2,002
  dev questions).
* **F1_EDIT-F1** (:func:`edit_f1`, :func:`question_edit_f1`): for every (gold qaPair, predicted
  pair) whose answers match exactly, the edit-F1 of the predicted question against the gold
  one; pairs are then taken greedily by score (a stable sort, descending) one-to-one, and the
  question's score is 2·Σscore / (#gold pairs + #predicted pairs); max over annotations; it is
  reported over multi questions only. Edits are the tokens deleted from and added to the prompt
  question after iteratively removing common tokens; the edit-F1 is the greedy F1 between the
  predicted and the gold edit lists, and **0 when either list is empty** (as the official
  ``get_qg_metrics`` does, also when both are empty). Questions are tokenised with
  :func:`eval.normalize.ptb_normalized` (a Python PTB tokenizer; see its docstring).

**Abstentions** (an empty prediction list, on which the official script crashes) score F1 0 in
the official-compatible numbers; :func:`evaluate` also reports coverage and selective F1 (F1
over answered questions only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eval.normalize import normalize_answer, ptb_normalized
from indexes.datafiles import validate_reference  # noqa: F401  (re-exported: defined on the bottom floor)


def exact_match(aliases: Sequence[str] | str, prediction: str) -> bool:
    """True when ``prediction`` equals any alias after SQuAD normalisation."""
    if isinstance(aliases, str):
        aliases = [aliases]
    p = normalize_answer(prediction)
    return any(normalize_answer(a) == p for a in aliases)


def greedy_f1(gold: Sequence[Any], predictions: Sequence[Any], is_equal: Callable[[Any, Any], bool]) -> float:
    """The official ``get_f1``: greedy one-to-one matching, gold outer loop, predictions inner.

    Returns 0 when ``gold`` or ``predictions`` is empty (the official script asserts instead).
    """
    if not gold or not predictions:
        return 0.0
    used_g = [False] * len(gold)
    used_p = [False] * len(predictions)
    for i, g in enumerate(gold):
        for j, p in enumerate(predictions):
            if used_g[i] or used_p[j]:
                continue
            if is_equal(g, p):
                used_g[i] = used_p[j] = True
    r = sum(used_g) / len(gold)
    prec = sum(used_p) / len(predictions)
    return 0.0 if r + prec == 0 else 2 * r * prec / (r + prec)


def answer_f1(gold_items: Sequence[Sequence[str]], predictions: Sequence[str]) -> float:
    """F1_ans of one annotation: ``gold_items`` is a list of alias lists.

    >>> answer_f1([["Paris"], ["Lyon", "Lyons"]], ["the lyons", "Paris", "Paris"])
    0.8
    """
    return greedy_f1(gold_items, predictions, exact_match)


def gold_items(annotation: dict) -> list[list[str]]:
    if annotation["type"] == "singleAnswer":
        return [annotation["answer"]]
    if annotation["type"] == "multipleQAs":
        return [qa["answer"] for qa in annotation["qaPairs"]]
    raise ValueError(f"unknown annotation type {annotation['type']!r}")


def is_multi(record: dict) -> bool:
    """Official "multi only": no annotation of the question is ``singleAnswer``."""
    return not any(a["type"] == "singleAnswer" for a in record["annotations"])


def _edit_list(prompt: list[str], other: list[str]) -> list[str]:
    """Deleted then added tokens after iteratively removing common tokens (official ``_get_diff``)."""
    t1, t2 = list(prompt), list(other)
    while True:
        commons = set(t1) & set(t2)
        if not commons:
            break
        for c in commons:
            t1.remove(c)  # removes the first occurrence, as list.index + slicing does
            t2.remove(c)
    return ["[DELETED]" + t for t in t1] + ["[ADDED]" + t for t in t2]


def edit_f1(prompt: str, gold_question: str, predicted_question: str, *, tokenized: bool = False) -> float:
    """Edit-F1 of one predicted disambiguated question against one gold question.

    Strings are PTB-tokenised and SQuAD-normalised unless ``tokenized=True`` (then they must be
    normalised, space-separated already). A gold question with ``|`` alternatives uses the first.

    >>> edit_f1("who won the cup", "who won the cup in 2010", "who won the cup in 2010")
    1.0
    >>> edit_f1("who won the cup", "who won the cup", "who won the cup")  # no edits: official 0
    0.0
    """
    if not tokenized:
        prompt = ptb_normalized(prompt)
        gold_question = ptb_normalized(first_alternative(gold_question))
        predicted_question = ptb_normalized(predicted_question)
    gold = _edit_list(prompt.split(" "), gold_question.split(" "))
    pred = _edit_list(prompt.split(" "), predicted_question.split(" "))
    if not gold or not pred:
        return 0.0
    return greedy_f1(pred, gold, lambda a, b: a == b)


def first_alternative(question: str) -> str:
    """The official script tokenises each ``|``-separated alternative and scores the first."""
    alts = [s.strip() for s in question.split("|") if s.strip()]
    return alts[0] if alts else ""


def question_edit_f1(prompt: str, annotation: dict, pairs: Sequence[dict]) -> float:
    """EDIT-F1 of one multipleQAs annotation for predicted ``{question, answer}`` pairs."""
    qa = annotation["qaPairs"]
    if not pairs:
        return 0.0
    p_norm = ptb_normalized(prompt)
    gold_q = [ptb_normalized(first_alternative(x["question"])) for x in qa]
    pred_q = [ptb_normalized(x["question"]) for x in pairs]
    matching = []
    for i, g in enumerate(qa):
        for j, p in enumerate(pairs):
            if exact_match(g["answer"], p["answer"]):
                matching.append((i, j, edit_f1(p_norm, gold_q[i], pred_q[j], tokenized=True)))
    matching.sort(key=lambda x: x[2], reverse=True)
    used_g, used_p, total = set(), set(), 0.0
    for i, j, score in matching:
        if i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
        total += score
    return 2 * total / (len(qa) + len(pairs))


def score_question(record: dict, prediction: list) -> dict[str, float | None]:
    """Per-question scores: ``f1_ans`` (max over annotations) and, for pair predictions,
    ``f1_edit`` (max over multipleQAs annotations; a singleAnswer annotation contributes its
    answer F1 as in the official script, which only matters for non-multi questions)."""
    pairs = prediction if prediction and isinstance(prediction[0], dict) else None
    answers = [p["answer"] for p in pairs] if pairs else list(prediction)
    f1 = edit = 0.0
    for ann in record["annotations"]:
        a = answer_f1(gold_items(ann), answers)
        f1 = max(f1, a)
        if pairs is not None:
            e = a if ann["type"] == "singleAnswer" else question_edit_f1(record["question"], ann, pairs)
            edit = max(edit, e)
    return {"f1_ans": f1, "f1_edit": edit if pairs is not None else None}


def evaluate(reference: Sequence[dict], predictions: dict[str, list]) -> dict[str, Any]:
    """Score predictions for every reference question; see the module docstring.

    Returns the summary (``f1_ans_all``, ``f1_ans_multi``, ``f1_edit_multi`` when pairs were
    given, ``coverage``, ``selective_f1_ans``; fractions in [0, 1], plus counts) and per-question
    ``rows``.
    """
    rows = []
    for rec in reference:
        pred = predictions[rec["id"]]
        s = score_question(rec, pred)
        rows.append({"id": rec["id"], "question": rec["question"], "multi": is_multi(rec),
                     "answered": bool(pred), "prediction": pred, **s})
    return {"summary": summarize(rows), "rows": rows}


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def summarize(rows: list[dict]) -> dict[str, Any]:
    multi = [r for r in rows if r["multi"]]
    answered = [r for r in rows if r["answered"]]
    out: dict[str, Any] = {
        "n": len(rows), "n_multi": len(multi),
        "f1_ans_all": _mean([r["f1_ans"] for r in rows]),
        "f1_ans_multi": _mean([r["f1_ans"] for r in multi]),
        "coverage": len(answered) / len(rows) if rows else None,
        "selective_f1_ans": _mean([r["f1_ans"] for r in answered]),
    }
    if any(r["f1_edit"] is not None for r in rows):
        out["f1_edit_multi"] = _mean([r["f1_edit"] or 0.0 for r in multi])
    return out


def validate_predictions(predictions: Any, ids: Sequence[str], source: str = "predictions") -> dict[str, list]:
    """Accept the official formats ``{id: [answers]}`` / ``{id: [{question, answer}]}`` (a bare
    string is one answer). ``[]`` is an abstention. Every reference id must be present."""
    if not isinstance(predictions, dict) or not predictions:
        raise ValueError(f"{source}: expected a non-empty JSON object {{id: [answers]}}")
    from eval.data import require_ids

    require_ids(predictions, list(ids), source)
    out = {}
    for qid in ids:
        pred = predictions[qid]
        pred = [pred] if isinstance(pred, str) else pred
        ok = isinstance(pred, list) and (all(isinstance(p, str) for p in pred) or all(
            isinstance(p, dict) and isinstance(p.get("question"), str) and isinstance(p.get("answer"), str)
            for p in pred))
        if not ok:
            raise ValueError(f"{source}: prediction for id {qid!r} must be a list of strings or of "
                             f"{{question, answer}} objects, got {str(pred)[:80]}")
        out[qid] = pred
    _one_format(out, source)
    return out


def _one_format(predictions: dict[str, list], source: str) -> None:
    """A file gives answer lists or {question, answer} pairs, not both (the official script scores
    one format a file; a mixed file was accepted and scored each entry its own way)."""
    first: dict[bool, str] = {}
    for qid, pred in predictions.items():
        if pred:
            first.setdefault(isinstance(pred[0], dict), qid)
    if len(first) == 2:
        raise ValueError(f"{source}: mixes answer lists (first at id {first[False]!r}) and {{question, answer}} "
                         f"pairs (first at id {first[True]!r}); use one format for the whole file")

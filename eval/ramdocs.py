"""RAMDocs (Wang et al. 2025, "Retrieval-Augmented Generation with Conflicting Evidence").

**Exact match** (:func:`ramdocs_em`): the response contains every gold answer and none of the
wrong answers. Matching is substring containment after SQuAD normalisation of both sides
(lowercase, no punctuation, no articles, single spaces), the rule the task's evaluation uses.
Substring containment means "1998" also matches inside "1998–99"; pass ``word_boundary=True`` to
require whole-token matches instead (not the default, for comparability).

The AmbigDocs categories also apply (:func:`ramdocs_documents`): each ``disambig_entity`` name is
paired with the gold answer at the same position as a document ``{title, answer}``, and the
ambiguous name is the longest run of title tokens (parenthetical removed) found in the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from eval import ambigdocs
from eval.normalize import normalize_answer


def contains(response_norm: str, answer: str, word_boundary: bool = False) -> bool:
    a = normalize_answer(answer)
    if not a:
        return False
    if word_boundary:
        return f" {a} " in f" {response_norm} "
    return a in response_norm


def ramdocs_em(response: str, gold_answers: Sequence[str], wrong_answers: Sequence[str] = (),
               *, word_boundary: bool = False) -> bool:
    """Every gold answer present and no wrong answer present (see module docstring).

    >>> ramdocs_em("American football and ice hockey", ["American football", "ice hockey"], ["soccer"])
    True
    >>> ramdocs_em("Raj Kapoor directed it", ["Mahesh Bhatt"], ["Raj Kapoor"])
    False
    """
    r = normalize_answer(response)
    return all(contains(r, g, word_boundary) for g in gold_answers) and not any(
        contains(r, w, word_boundary) for w in wrong_answers)


_PAREN = re.compile(r"\s*\([^)]*\)")


def ambiguous_name(question: str, entities: Sequence[str]) -> str:
    """Longest contiguous run of an entity's words (parenthetical dropped) found in the question.

    >>> ambiguous_name("What is the population of Broken Bow?", ["Broken Bow, Nebraska"])
    'Broken Bow'
    """
    q = f" {normalize_answer(question)} "
    best = ""
    for ent in entities:
        words = _PAREN.sub("", ent).replace(",", " ").split()
        for i in range(len(words)):
            for j in range(len(words), i, -1):
                cand = " ".join(words[i:j])
                if len(cand) > len(best) and f" {normalize_answer(cand)} " in q:
                    best = cand
    return best or _PAREN.sub("", entities[0]) if entities else best


def ramdocs_documents(record: dict) -> list[dict]:
    """AmbigDocs-style documents ``{title, answer}`` from ``disambig_entity`` x ``gold_answers``."""
    return [{"title": e, "answer": a} for e, a in zip(record["disambig_entity"], record["gold_answers"])]


def score_example(record: dict, response: str) -> dict[str, Any]:
    cats = ambigdocs.score_example(response, ramdocs_documents(record),
                                   ambiguous_name(record["question"], record["disambig_entity"]))
    return {"em": ramdocs_em(response, record["gold_answers"], record["wrong_answers"]), **cats}


def evaluate(records: Sequence[dict], responses: dict[str, str]) -> dict[str, Any]:
    """Score ``responses[id]`` for each record (``id`` is the 0-based line number as a string)."""
    rows = [{"id": r["id"], "question": r["question"], "response": responses[r["id"]],
             "gold_answers": r["gold_answers"], "wrong_answers": r["wrong_answers"],
             **score_example(r, responses[r["id"]])} for r in records]
    summary = {"ramdocs_em": sum(r["em"] for r in rows) / len(rows), **ambigdocs.summarize(rows)}
    return {"summary": summary, "rows": rows}

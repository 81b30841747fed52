"""AmbigDocs metrics (Lee, Ye & Choi, COLM 2024), following ``src/eval/eval.py`` of lilys012/AmbigDocs.

For a generated answer and the question's documents (only the first 5 are used):

* tokens are SQuAD-normalised with NLTK's English stopwords removed (the list ships with
  ambigrag: ``indexes/stopwords_en.txt``, 179 words);
* **answer recall** of a document = token recall of its ``answer`` in the generation (if the
  answer has no tokens left: 1 if the generation has none either, else 0);
* **entity recall** = token recall of the document's title with "(" and ")" removed, after also
  removing every token of the ambiguous name (its "(disambiguation)" suffix stripped); when no
  token remains, case-insensitive containment of the parenthesis-free title in the generation;
* **EAR** (the script's "EWR") = mean over documents of answer recall × entity recall.

Per document, with a = answer recall, e = entity recall, ``t_a`` = 1/#answer tokens (1 when
none) and ``t_e`` = 1/#title tokens left (1 when none):
``a >= t_a and e >= t_e`` is a *complete hit*; otherwise, if ``e < t_e``, an *answer-only hit*
when (#answer tokens <= 2 and a >= 0.5) or a > t_a (strictly). The question is then, in the
script's branch order: **No-answer** if no hit of either kind; **Complete** if complete hits >=
min(5, #documents); **Ambiguous** if no complete hit and exactly one answer-only hit;
**Partial** if no answer-only hit and some complete hit; otherwise **Merged**.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from eval.normalize import squad_tokens

CATEGORIES = ("complete", "partial", "ambiguous", "merged", "no_answer")
N_DOCS = 5


def _stop() -> frozenset[str]:
    from indexes.tokenize import english_stopwords

    return english_stopwords()


def content_tokens(s: str) -> list[str]:
    """SQuAD tokens without NLTK English stopwords (the script's ``get_stopwords_tokens``)."""
    stop = _stop()
    return [t for t in squad_tokens(s) if t not in stop]


def ambiguous_name(entity: str) -> str:
    """Lowercased, stripped, without a trailing "(disambiguation)" (as the script prepares it)."""
    e = entity.strip().lower()
    if e.endswith("(disambiguation)"):
        e = e[: -len("(disambiguation)")].strip()
    return e


def title_tokens(title: str, ambiguous: str) -> list[str]:
    """Content tokens of the title (parentheses removed) minus every token of the ambiguous name."""
    drop = set(content_tokens(ambiguous))
    return [t for t in content_tokens(title.replace("(", "").replace(")", "")) if t not in drop]


def token_recall(gold: list[str], generation: str) -> float:
    pred = content_tokens(generation)
    if not gold or not pred:
        return float(gold == pred)
    common = sum((Counter(gold) & Counter(pred)).values())
    return common / len(gold)


def answer_recall(answer: str, generation: str) -> float:
    return token_recall(content_tokens(answer), generation)


def entity_recall(title: str, generation: str, ambiguous: str) -> float:
    gold = title_tokens(title, ambiguous)
    if not gold:
        return float(title.replace("(", "").replace(")", "").lower() in generation.lower())
    return token_recall(gold, generation)


def _clean(generation: str) -> str:
    return " ".join(generation.replace("\n", " ").split())


def score_example(generation: str, documents: Sequence[dict], ambiguous_entity: str) -> dict[str, Any]:
    """Answer recall, entity recall, EAR and the category for one generated answer."""
    gen = _clean(generation)
    amb = ambiguous_name(ambiguous_entity)
    docs = list(documents)[:N_DOCS]
    if not docs:
        raise ValueError("an AmbigDocs example needs at least one document")
    if any(d.get("title") is None for d in docs):
        ans = [answer_recall(d["answer"], gen) for d in docs]
        return {"answer_recall": sum(ans) / len(docs), "entity_recall": None, "ear": None,
                "category": None, "complete_hits": None, "answer_only_hits": None}
    ans, ent, complete, answer_only = [], [], 0, 0
    for d in docs:
        a = answer_recall(d["answer"], gen)
        title = d["title"].replace("(", "").replace(")", "")
        e = entity_recall(d["title"], gen, amb)
        n_ans = len(content_tokens(d["answer"]))
        t_a = 1 / n_ans if n_ans else 1.0
        n_ent = len(title_tokens(title, amb))
        t_e = 1 / n_ent if n_ent else 1.0
        if a >= t_a and e >= t_e:
            complete += 1
        elif e < t_e and ((n_ans <= 2 and a >= 0.5) or a > t_a):
            answer_only += 1
        ans.append(a)
        ent.append(e)
    return {"answer_recall": sum(ans) / len(docs), "entity_recall": sum(ent) / len(docs),
            "ear": sum(a * e for a, e in zip(ans, ent)) / len(docs),
            "category": categorize(complete, answer_only, len(docs)),
            "complete_hits": complete, "answer_only_hits": answer_only}


def categorize(complete: int, answer_only: int, n_docs: int) -> str:
    """The script's branch order (see module docstring)."""
    if complete == 0 and answer_only == 0:
        return "no_answer"
    if complete >= min(N_DOCS, n_docs):
        return "complete"
    if complete == 0 and answer_only == 1:
        return "ambiguous"
    if answer_only == 0 and complete > 0:
        return "partial"
    return "merged"


def evaluate(examples: Sequence[dict], generations: dict[str, str]) -> dict[str, Any]:
    """Score ``generations[id]`` for each example ``{id, question, ambiguous_entity, documents}``."""
    rows = []
    for ex in examples:
        s = score_example(generations[ex["id"]], ex["documents"], ex["ambiguous_entity"])
        rows.append({"id": ex["id"], "question": ex["question"], "generation": generations[ex["id"]], **s})
    return {"summary": summarize(rows), "rows": rows}


def summarize(rows: Sequence[dict]) -> dict[str, Any]:
    """Means of the recalls and the category counts; entity metrics are None without titles."""
    n = len(rows)
    out: dict[str, Any] = {"n": n}
    for k in ("answer_recall", "entity_recall", "ear"):
        vals = [r[k] for r in rows if r[k] is not None]
        out[k] = sum(vals) / len(vals) if vals else None
    counts = Counter(r["category"] for r in rows if r["category"] is not None)
    if counts:
        out["categories"] = {c: counts.get(c, 0) for c in CATEGORIES}
        out["category_rates"] = {c: counts.get(c, 0) / n for c in CATEGORIES}
    return out

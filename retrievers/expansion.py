"""LLM interpretations, decomposition into sub-queries, and in-context query expansion.

All three are ``QueryRewriter``s (``rewrite(question) -> list[str]``, the question first), cached
per question, and compose with :class:`retrievers.multi.MultiQueryRetriever`:

* :class:`LLMInterpretations`: the LLM rewrites an ambiguous question into its disambiguated
  readings, few-shot, with the nearest AmbigQA train_light examples from the example bank.
* :class:`Decomposer`: literal sub-questions (the question split at coordinations: "X and Y")
  and implied ones (the question's named entities on their own, which retrieve each same-name
  entity's page), after Chen et al. (EMNLP 2022) "Generating Literal and Implied Subquestions to
  Fact-check Complex Claims"; optionally LLM-written sub-questions.
* :class:`ICLExpansion`: RARe-style (Tejaswi, Lee, Sanghavi, Choi): the nearest bank examples,
  (question, disambiguated questions, answers), are prepended to the query as in-context
  examples; optionally the LLM writes a query2doc-style pseudo-passage from them.

The **example bank** (:func:`build_example_bank`) is an index directory like any other (BM25
over AmbigQA train_light multipleQAs examples, manifest, no pickle). It never holds an evaluated
question: every question of the ``exclude`` files (AmbigQA dev by default) is left out, and a
rewriter also skips any example whose question equals the query.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from indexes.text import normalize_answer
from retrievers.followup import QUESTION_WORDS
from retrievers.llm import generate_one
from retrievers.rewriters import LRUCache

INTERPRET_HEAD = ("Each question below is ambiguous. List the specific questions it could mean, one per line.\n\n")
_LEADING = QUESTION_WORDS | {"in", "on", "at"}   # words before a question's first name ("In which ...")
_CAPS = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of|the|de|and)?\s*[A-Z0-9][\w'’.-]*)*")
_SPLIT = re.compile(r"\s*(?:,\s*)?\b(?:and|or)\b\s*|\s*;\s*")


def _norm(q: str) -> str:
    return " ".join(normalize_answer(q).split())


def bank_examples(train: Iterable[dict], exclude: set[str]) -> list[dict]:
    """One bank record per AmbigQA question with a multipleQAs annotation, unless its normalised
    question is in ``exclude``: ``{id, title: question, text: readings, pairs}``."""
    out = []
    for rec in train:
        if _norm(rec["question"]) in exclude:
            continue
        ann = next((a for a in rec.get("annotations", []) if a.get("type") == "multipleQAs"), None)
        if not ann:
            continue
        pairs = [{"question": p["question"], "answer": p["answer"][0]} for p in ann["qaPairs"] if p.get("answer")]
        if len(pairs) >= 2:
            out.append({"id": str(rec["id"]), "title": rec["question"],
                        "text": " ".join(p["question"] for p in pairs), "pairs": pairs})
    return out


def build_example_bank(out: str | Path, train: str | Path | None = None,
                       exclude: Sequence[str | Path] | None = None, progress: bool = True) -> Path:
    """Build the example bank index at ``out`` from AmbigQA ``train`` (default train_light),
    leaving out every question of the ``exclude`` files (default: AmbigQA dev_light)."""
    from indexes.datafiles import read_ambigqa
    from indexes.index import build
    from indexes.paths import shared_data_dir

    train = Path(train) if train else shared_data_dir() / "ambigqa" / "train_light.json"
    excl = [Path(p) for p in (exclude if exclude is not None else [shared_data_dir() / "ambigqa" / "dev_light.json"])]
    banned = {_norm(r["question"]) for p in excl for r in read_ambigqa(p)}
    records = bank_examples(read_ambigqa(train), banned)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "bank.jsonl"
        corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        path = build(corpus, out, dense=False, progress=progress)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["example_bank"] = {"source": train.name, "excluded_files": [p.name for p in excl],
                                "n_excluded_questions": len(banned), "n_examples": len(records)}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return path


def default_bank(progress: bool = True) -> Path:
    """The example bank in the user cache, built on first use (a few seconds)."""
    from indexes.paths import cache_dir

    path = cache_dir() / "example_bank"
    if not (path / "manifest.json").exists():
        build_example_bank(path, progress=progress)
    return path


class ExampleBank:
    """Nearest bank examples (BM25 over their questions), never the query itself."""

    def __init__(self, path: str | Path | None = None):
        import indexes
        from retrievers.sparse import BM25Retriever

        self.path = Path(path) if path else default_bank()
        self.retriever = BM25Retriever.from_index(indexes.load(self.path))

    def nearest(self, question: str, k: int) -> list[dict]:
        hits = self.retriever.retrieve([question], k + 1)[0]
        q = _norm(question)
        return [{"question": h.passage.title, "pairs": h.passage.meta.get("pairs", [])}
                for h in hits if _norm(h.passage.title) != q][:k]


# a list marker: "-", "*", "•", "1.", "2)", "(3)"; a year opening the line is the question's own
_MARKER = re.compile(r"^(?:(?:[-*•]+|\*\*)\s*|\(?\d{1,2}[.)](?!\d)\**\s*|\d{1,2}\s+-\s+)+")


def _keep(lines: Iterable[str], question: str, limit: int) -> list[str]:
    """Generated lines that look like questions about the same thing, deduplicated."""
    qwords = set(normalize_answer(question).split())
    out, seen = [], {_norm(question)}
    for line in lines:
        text = _MARKER.sub("", line.strip()).strip()
        words = set(normalize_answer(text).split())
        if len(words) < 3 or not (words & qwords) or _norm(text) in seen:
            continue
        seen.add(_norm(text))
        out.append(text)
        if len(out) == limit:
            break
    return out


class LLMInterpretations:
    """Disambiguated readings written by the LLM, few-shot from the bank's nearest examples."""

    def __init__(self, llm, bank: ExampleBank | None = None, shots: int = 3, max_readings: int = 4,
                 max_tokens: int = 80):
        if llm is None:
            raise ValueError("LLMInterpretations needs an LLM")
        if min(shots, max_readings, max_tokens) < 1:
            raise ValueError("shots, max_readings and max_tokens must be >= 1")
        self.llm, self.bank = llm, bank or ExampleBank()
        self.shots, self.max_readings, self.max_tokens = shots, max_readings, max_tokens
        self._cache = LRUCache()

    def prompt(self, question: str) -> str:
        parts = [INTERPRET_HEAD]
        for ex in self.bank.nearest(question, self.shots):
            parts.append(f"Question: {ex['question']}\n" + "".join(f"- {p['question']}\n" for p in ex["pairs"][:4]) + "\n")
        parts.append(f"Question: {question}\n-")
        return "".join(parts)

    def rewrite(self, question: str) -> list[str]:
        def make() -> list[str]:
            reply = generate_one(self.llm, self.prompt(question), max_tokens=self.max_tokens, stop=["\n\n", "Question:"])
            return [question, *_keep(str(reply or "").splitlines(), question, self.max_readings)]

        return self._cache.get(question, make)


class Decomposer:
    """Literal and implied sub-questions (see module docstring); ``llm`` adds written ones."""

    def __init__(self, llm=None, max_subqueries: int = 4):
        if max_subqueries < 1:
            raise ValueError(f"max_subqueries must be >= 1, got {max_subqueries}")
        self.llm, self.max_subqueries = llm, max_subqueries
        self._cache = LRUCache()

    @staticmethod
    def literal(question: str) -> list[str]:
        """"Who wrote the score and the libretto?" -> ["Who wrote the score", "the libretto"]: a
        question split at "and" / "or" when each side has at least two words."""
        parts = [p.strip(" ?") for p in _SPLIT.split(question) if p and p.strip(" ?")]
        return parts if len(parts) > 1 and all(len(p.split()) >= 2 for p in parts) else []

    @staticmethod
    def implied(question: str) -> list[str]:
        """The named entities of the question on their own ("Bobby Carpenter"). At the start, a
        question word is left out ("Which Bobby Carpenter ...") and so is a lone capitalised
        word ("The ...", "Voice of ..."); a name of several words is kept whole (its first letter
        used to be cut: "Bobby Carpenter played ..." gave "Carpenter")."""
        spans = []
        for m in _CAPS.finditer(question):
            span = m.group(0)
            words = span.split()
            if m.start() == 0:   # "Which Bobby Carpenter"; a sentence's "The 2010"/"Voice" is no name
                if words[0].lower().split("'")[0] in _LEADING:
                    words = words[1:]
                elif len(words) < 2 or not words[1][0].isupper():
                    words = []
                span = " ".join(words) if words and words[0][0].isupper() else ""
            if len(span) > 2:
                spans.append(span)
        return [s for s in spans if len(s.split()) <= 6]

    def rewrite(self, question: str) -> list[str]:
        def make() -> list[str]:
            subs = self.literal(question) + self.implied(question)
            if self.llm is not None:
                reply = generate_one(self.llm, f"Break the question into simpler sub-questions, one per line.\n"
                                                f"Question: {question}\n-", max_tokens=60, stop=["\n\n"])
                subs += _keep(str(reply or "").splitlines(), question, self.max_subqueries)
            return [question, *list(dict.fromkeys(subs))[: self.max_subqueries]]

        return self._cache.get(question, make)


class ICLExpansion:
    """The query with its nearest bank examples prepended (and, with ``llm``, a pseudo-passage)."""

    def __init__(self, bank: ExampleBank | None = None, shots: int = 3, llm=None, max_tokens: int = 60):
        if shots < 1:
            raise ValueError(f"shots must be >= 1, got {shots}")
        self.bank, self.shots, self.llm, self.max_tokens = bank or ExampleBank(), shots, llm, max_tokens
        self._cache = LRUCache()

    def expand(self, question: str) -> str:
        shots = self.bank.nearest(question, self.shots)
        demo = " ".join(f"{ex['question']} " + " ".join(f"{p['question']} {p['answer']}." for p in ex["pairs"][:3])
                        for ex in shots)
        return f"{demo} {question}".strip()

    def rewrite(self, question: str) -> list[str]:
        def make() -> list[str]:
            out = [question, self.expand(question)]
            if self.llm is not None:
                doc = generate_one(self.llm, f"{self.expand(question)}\nWrite a short encyclopedia passage that answers: "
                                              f"{question}", max_tokens=self.max_tokens, stop=["\n\n"])
                if isinstance(doc, str) and doc.strip():
                    out.append(f"{question} {doc.strip()}")
            return out

        return self._cache.get(question, make)


class Composed:
    """Several rewriters as one: the question, then each rewriter's rewrites in order."""

    def __init__(self, rewriters: Sequence):
        if not rewriters:
            raise ValueError("Composed needs at least one rewriter")
        self.rewriters = list(rewriters)

    def rewrite(self, question: str) -> list[str]:
        out = [question]
        for r in self.rewriters:
            out += [q for q in r.rewrite(question) if q not in out]
        return out


REWRITES = ("interpretations", "evidence", "decompose", "icl")


def rewriter_for(names: str | Sequence[str], *, retriever=None, llm=None, bank: ExampleBank | None = None):
    """Build the rewriter for ``names`` ("interpretations,decompose,icl"; "evidence" = titles of a
    first retrieval round). ``interpretations`` uses the LLM when one is given, else the evidence."""
    from retrievers.rewriters import EvidenceInterpretations

    spec = names
    names = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    bad = [n for n in names if n not in REWRITES]
    if bad or not names:
        raise ValueError(f"rewrites are a comma-separated subset of {REWRITES}, got {spec!r}")
    parts = []
    for n in names:
        if n == "interpretations" and llm is not None:
            bank = bank or ExampleBank()
            parts.append(LLMInterpretations(llm, bank))
        elif n in ("interpretations", "evidence"):
            if retriever is None:
                raise ValueError(f"the {n!r} rewrite needs a retriever for its first round")
            parts.append(EvidenceInterpretations(retriever))
        elif n == "decompose":
            parts.append(Decomposer())
        else:
            bank = bank or ExampleBank()
            parts.append(ICLExpansion(bank))
    return parts[0] if len(parts) == 1 else Composed(parts)

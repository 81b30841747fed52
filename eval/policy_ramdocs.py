"""The learned answer / complete / clarify / abstain policy on RAMDocs, out-of-fold (issue 15
part 3).

The span reader's cross-validation (``ambigrag train reader``, :mod:`eval.reader_cv`) leaves, for
every RAMDocs question, what a reader that never saw the question's documents read in each of
them: its top spans and P(no answer) (``OUT/cv/oof-fold{f}.jsonl``). Here those predictions are
replayed through the real evidence, grouping and decision code (:class:`StoredSpans` stands in
for the model), with each fold's aggregation settings chosen on its training folds, as in the
reader's own out-of-fold report, and every action is scored with simulated turns
(:mod:`eval.policy_sim`).

The simulated users of a RAMDocs question are its ``disambig_entity`` x ``gold_answers`` pairs:
the user who means an entity asks the question with the entity's full name in place of the
ambiguous one (:func:`specific_question`) and wants that entity's answer. A question is
ambiguous (a clarification or a complete answer is the right response) when it has more than
one gold answer.

The policy deciding fold ``f`` is fitted only on outcomes of the other folds (plus any other
training outcomes, e.g. AmbigQA train_light), with its ridge strength chosen on those
(:func:`out_of_fold_choices`): no question trains the reader that read it, the aggregation
settings it is read with, or the policy that decides it. As with any stacked model, the other
folds' features come from readers that did see fold ``f``'s documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval.policy_sim import Outcome, Targets
from readers.span_model import PassageSpans, ScoredSpan


def read_oof_rows(cv_dir: str | Path, n_questions: int) -> list[dict]:
    """Every ``oof-fold*.jsonl`` of a cross-validation directory, sorted by question; refuses a
    directory that misses questions or was made for another data file's size."""
    files = sorted(Path(cv_dir).glob("oof-fold*.jsonl"))
    if not files:
        raise ValueError(f"{cv_dir}: no oof-fold*.jsonl (run `ambigrag train reader --data RAMDOCS --out DIR`; "
                         f"its out-of-fold predictions are in DIR/cv)")
    from eval.reader_cv import read_fold_file

    rows = []
    for f in files:
        head, fold_rows = read_fold_file(f)
        if head.get("n_questions") != n_questions:
            raise ValueError(f"{f}: made for {head.get('n_questions')} questions, the data has {n_questions}")
        rows += fold_rows
    qids = sorted(r["qid"] for r in rows)
    if qids != list(range(n_questions)):
        raise ValueError(f"{cv_dir}: out-of-fold rows cover {len(set(qids))} of {n_questions} questions")
    return sorted(rows, key=lambda r: r["qid"])


class StoredSpans:
    """The span reader's ``read`` replayed from stored predictions: ``rows[i]`` holds, for the
    documents of ``records[i]`` in order, the spans a model read. Asking for a passage that was
    not stored is an error, never a silent "no answer"."""

    def __init__(self, records: Sequence[dict], rows: Sequence[dict], version: str = "stored-spans"):
        self.version, self.manifest = version, {}
        self._table: dict[tuple[str, str], PassageSpans] = {}
        for r in rows:
            rec = records[r["qid"]]
            if len(rec["documents"]) != len(r["docs"]):
                raise ValueError(f"question {r['qid']}: {len(r['docs'])} stored documents, the data has "
                                 f"{len(rec['documents'])}")
            for doc, d in zip(rec["documents"], r["docs"]):
                spans = tuple(ScoredSpan(t, int(s), int(e), float(p)) for t, s, e, p in d["spans"])
                self._table[(rec["question"], doc.get("text") or "")] = PassageSpans(spans, float(d["no_answer"]))

    def read(self, question: str, passages: Sequence[str]) -> list[PassageSpans]:
        try:
            return [self._table[(question, p)] for p in passages]
        except KeyError:
            raise KeyError(f"no stored prediction for a passage of {question!r}") from None


def specific_question(question: str, name: str, entity: str) -> str:
    """``question`` asked about ``entity``: its ambiguous ``name`` replaced by the entity's full
    name (or the entity appended in parentheses when the name is not found).

    >>> specific_question("What is the population of Broken Bow?", "Broken Bow", "Broken Bow, Nebraska")
    'What is the population of Broken Bow, Nebraska?'
    """
    new, n = re.subn(re.escape(name), lambda _: entity, question, count=1, flags=re.I) if name else (question, 0)
    return new if n else f"{question.rstrip('?')} ({entity})?"


def ramdocs_targets(record: dict) -> Targets:
    """A RAMDocs record's targets (see module docstring)."""
    from eval.normalize import normalize_answer
    from eval.ramdocs import ambiguous_name

    q, ents, golds = record["question"], record["disambig_entity"], record["gold_answers"]
    name = ambiguous_name(q, ents)
    return Targets(tuple((a,) for a in golds), tuple((specific_question(q, name, e), (a,)) for e, a in zip(ents, golds)),
                   int(len({normalize_answer(a) for a in golds}) > 1))


def fold_readers(records: Sequence[dict], rows: Sequence[dict]) -> dict[int, tuple[object, dict]]:
    """Per fold: the replaying reader with the aggregation settings chosen on the other folds
    (:func:`eval.reader_cv.nested_question_em`), and those settings."""
    from eval.reader_cv import add_labels, nested_question_em
    from readers.reader import AmbigReader
    from readers.span_reader import SpanEvidence, aggregation_policy

    chosen = {p["fold"]: p["settings"] for p in nested_question_em(add_labels(rows, records))["per_fold"]}
    width = max(len(r["documents"]) for r in records)
    out = {}
    for f, agg in chosen.items():
        margin, policy = aggregation_policy(agg)
        spans = StoredSpans(records, [r for r in rows if r["fold"] == f], version=f"oof-fold{f}")
        out[f] = (AmbigReader(SpanEvidence(spans, min_margin=margin), policy=policy, max_passages=width), agg)
    return out


def out_of_fold_choices(outcomes: Sequence[Outcome], folds: Sequence[int], extra: Sequence[Outcome] = ()
                        ) -> tuple[list[str], np.ndarray, dict[int, float]]:
    """Each outcome's action and ambiguity score from a policy fitted on the other folds'
    outcomes plus ``extra`` (ridge strength chosen on those by :func:`eval.policy_sim.choose_lam`);
    returns (actions, scores, the strength chosen per fold)."""
    from eval.policy_sim import arrays, choose_lam
    from readers.action_policy import ActionPolicy

    if len(folds) != len(outcomes):
        raise ValueError(f"{len(outcomes)} outcomes but {len(folds)} fold numbers")
    chosen: list[str] = [""] * len(outcomes)
    scores, lams = np.zeros(len(outcomes)), {}
    for f in sorted(set(folds)):
        held = [i for i, g in enumerate(folds) if g == f]
        train = [o for o, g in zip(outcomes, folds) if g != f] + list(extra)
        lams[f], _ = choose_lam(train)
        pol = ActionPolicy.fit(*arrays(train), lam=lams[f])
        x = arrays([outcomes[i] for i in held])[0]
        for i, a, s in zip(held, pol.choose(x, [outcomes[i].allowed for i in held]), pol.ambiguity_score(x)):
            chosen[i], scores[i] = a, s
    return chosen, scores, lams

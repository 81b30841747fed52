"""Implicit feedback: what a user's next message says about the answer they were shown.

Following the seed material on learning from implicit feedback in conversations
(Don-Yehiya et al. 2024, "Learning from naturally occurring feedback"; Gao et al. 2023,
"Continually improving extractive QA via human feedback"), a follow-up gets one of four labels:

* ``rephrase``: a rephrasing or correction of the question ("no, I meant the hockey player");
  the answer missed the intended reading.
* ``negative``: the answer is judged wrong ("that's wrong").
* ``positive``: thanks or agreement ("perfect, thanks").
* ``new_topic``: an unrelated next question; says nothing about the answer.

The classifier is documented rules first, in this order (the first that fires wins):

1. rephrase: "I meant/I mean", "rephrase", "clarify", "instead", "rather", "the other (one)",
   "option N", "the first/second/... one", "I was asking/talking/thinking/referring",
   "not X, the Y", "specifically".
2. negative: "wrong", "incorrect", "not right/true/correct", "false", "nonsense", "made that up",
   "doesn't/don't say/support/look right", "contradicts", "mixing up", "confused", "useless",
   "not helpful", "not exactly/quite/good/great/perfect", "outdated", a bare "no"/"nope"/"bad".
3. positive: thanks words ("thanks", "thank you", "thx", "appreciated", 👍; "ty" and "cheers"
   only outside a question, for "Ty Cobb" and "Cheers") or agreement ("correct", "right",
   "exactly", "perfect", "great", "yes", ...) with no negation anywhere in the message.
4. new_topic: a question (ends with "?" or starts with a question word).

Messages no rule covers go to a multinomial naive Bayes over word uni- and bigrams trained on the
shipped labelled follow-ups (``data/followups.jsonl``, 162 written by the ambigrag authors).
:func:`cross_validate` reports per-label accuracy of the rules, the naive Bayes alone and both;
the rules were written looking at that set, so :func:`held_out` also scores 41 follow-ups
written after the rules were frozen (``ambigrag feedback crossval`` prints both).

>>> classify("no, I meant the hockey player").label
'rephrase'
>>> classify("thanks, that's right").label
'positive'
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LABELS = ("rephrase", "negative", "positive", "new_topic")
DATA = Path(__file__).with_name("data") / "followups.jsonl"
CLASSIFIER_VERSION = "implicit-rules+nb-2"

_NEG = r"(\bnot\b|n't\b|\bnever\b|\bno longer\b)"
_QUESTION_START = r"\s*(who|what|when|where|which|why|how|is|are|was|were|can|does|did|do)\b"
RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple((label, name, re.compile(rx, re.I)) for label, name, rx in (
    ("rephrase", "meant", r"\b(i meant|i mean|meant|rephrase|to clarify|clearer|instead|rather)\b"),
    ("rephrase", "other", r"\b(the other( one| meaning)?|option \d+|the (first|second|third|last|other) one)\b"),
    ("rephrase", "asking-about", r"\bi was (asking|talking|thinking|referring)\b|\bspecifically\b"),
    ("rephrase", "not-x-the-y", r"^(no,? )?not (him|her|that( one)?|the \w+( \w+)?)[,;]? (the|but the) "),
    ("negative", "wrong", r"\b(wrong|incorrect|false|inaccurate|nonsense|made that up|outdated|useless)\b"),
    ("negative", "not-right", rf"{_NEG} (\w+ )?(right|true|correct|helpful|what happened|the answer|exactly|quite"
                              r"|good|great|perfect)\b"),
    ("negative", "unsupported", r"\b(doesn't|don't|does not|do not) (say|support|look right|make sense)\b"
                                r"|\bmakes no sense\b|\bcontradict|\bsays something else\b"),
    ("negative", "confused", r"\b(mixing up|mixed up|confused|confusing) "),
    ("negative", "bare-no", r"^(no+|nope|nah|bad|no\. just no)[.!]*$"),
    ("positive", "thanks", r"\b(thanks?|thank you|thx|appreciated?)\b|👍"),
    # "ty" and "cheers" only outside a question: "Who is Ty Cobb?", "what was the theme song of Cheers"
    ("positive", "thanks-short", rf"^(?!{_QUESTION_START})(?!.*\?\s*$).*\b(ty|cheers)\b"),
    ("positive", "agree", rf"^(?!.*{_NEG})(\w+[,!]? )?(yes|yep|yeah|correct|right|exactly|perfect|great|awesome|cool|nice|"
                          r"excellent|brilliant|fantastic|wonderful|spot on|good|ok|that's it|that's right)\b"),
    ("new_topic", "question", r"\?\s*$|^(who|what|when|where|which|why|how|is|are|can|does|did|do)\b"),
))


@dataclass(frozen=True)
class FollowupLabel:
    """A follow-up's label, the confidence (1.0 for a rule, the posterior for naive Bayes) and
    what decided it (``rule:<name>`` or ``nb``)."""

    label: str
    confidence: float
    source: str


def judgement(followups: Sequence[dict]) -> str | None:
    """The implicit label that judges an interaction's answer, from its exported follow-ups
    (oldest first): the last one that says something about the answer (not ``new_topic``), else
    ``new_topic``; None without follow-ups. A remark ("thanks") stays on the interaction it
    judges, so "thanks" and then "no, that's wrong" end as ``negative``.

    >>> judgement([{"label": "positive"}, {"label": "new_topic"}]), judgement([])
    ('positive', None)
    """
    labels = [f["label"] for f in followups]
    said = [x for x in labels if x != "new_topic"]
    return said[-1] if said else (labels[-1] if labels else None)


def rule_label(text: str) -> tuple[str, str] | None:
    """``(label, rule name)`` of the first rule that fires, or None."""
    t = " ".join(text.strip().split())
    for label, name, rx in RULES:
        if rx.search(t):
            return label, name
    return None


def _features(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9']+|[?!👍]", text.lower())
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:])] + [f"len{min(len(words), 6)}"]


class NaiveBayes:
    """Multinomial naive Bayes with add-one smoothing (pure Python; a few hundred examples)."""

    def __init__(self, examples: Iterable[tuple[str, str]]):
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        docs: Counter[str] = Counter()
        for text, label in examples:
            self.counts[label].update(_features(text))
            docs[label] += 1
        if not docs:
            raise ValueError("naive Bayes needs at least one labelled example")
        self.vocab = set().union(*self.counts.values())
        n = sum(docs.values())
        self.prior = {lab: math.log(docs[lab] / n) for lab in docs}
        self.total = {lab: sum(self.counts[lab].values()) for lab in docs}

    def posterior(self, text: str) -> dict[str, float]:
        feats = [f for f in _features(text) if f in self.vocab]
        logp = {lab: self.prior[lab] + sum(math.log((self.counts[lab][f] + 1) / (self.total[lab] + len(self.vocab)))
                                         for f in feats) for lab in self.prior}
        top = max(logp.values())
        z = sum(math.exp(v - top) for v in logp.values())
        return {lab: math.exp(v - top) / z for lab, v in logp.items()}

    def predict(self, text: str) -> tuple[str, float]:
        post = self.posterior(text)
        lab = max(post, key=lambda k: (post[k], k))
        return lab, post[lab]


def load_examples(path: str | Path = DATA) -> list[tuple[str, str]]:
    """The labelled follow-ups ``[(text, label)]``; raises ValueError naming a bad line."""
    from indexes.datafiles import jsonl_objects

    out = []
    for n, d in jsonl_objects(path):
        if d.get("label") not in LABELS or not isinstance(d.get("text"), str) or not d["text"].strip():
            raise ValueError(f"{path}:{n}: need a non-empty text and a label in {LABELS}, got {d!r}")
        out.append((d["text"], d["label"]))
    if not out:
        raise ValueError(f"{path}: no labelled follow-ups")
    return out


@lru_cache(maxsize=1)
def _default_nb() -> NaiveBayes:
    return NaiveBayes(load_examples())


def classify(text: str, nb: NaiveBayes | None = None) -> FollowupLabel:
    """Label one follow-up message (rules, then naive Bayes trained on the shipped data)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"follow-up must be a non-empty string, got {text!r}")
    hit = rule_label(text)
    if hit:
        return FollowupLabel(hit[0], 1.0, f"rule:{hit[1]}")
    label, p = (nb or _default_nb()).predict(text)
    return FollowupLabel(label, round(p, 4), "nb")


def _folds(examples: Sequence[tuple[str, str]], k: int, seed: int) -> list[int]:
    """Stratified fold number per example."""
    fold = [0] * len(examples)
    rng = random.Random(seed)
    for lab in LABELS:
        idx = [i for i, (_, y) in enumerate(examples) if y == lab]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            fold[i] = j % k
    return fold


def cross_validate(examples: Sequence[tuple[str, str]] | None = None, *, k: int = 5,
                   seed: int = 0) -> dict[str, dict[str, float]]:
    """Per-label accuracy (recall) and overall accuracy of ``rules`` (no training; those that
    fire no rule count as misses), ``nb`` (k-fold) and ``rules+nb`` (k-fold, the shipped
    classifier), plus ``rule_coverage``: the share of each label some rule fires on."""
    examples = list(examples if examples is not None else load_examples())
    fold = _folds(examples, k, seed)
    preds: dict[str, list[str]] = {"rules": [], "nb": [], "rules+nb": []}
    covered = []
    for i, (text, _) in enumerate(examples):
        nb = NaiveBayes(e for j, e in enumerate(examples) if fold[j] != fold[i])
        hit = rule_label(text)
        covered.append(hit is not None)
        preds["rules"].append(hit[0] if hit else "none")
        preds["nb"].append(nb.predict(text)[0])
        preds["rules+nb"].append(classify(text, nb).label)
    gold = [y for _, y in examples]
    out = {name: _accuracy(gold, p) for name, p in preds.items()}
    out["rule_coverage"] = _accuracy(gold, [y if c else "none" for y, c in zip(gold, covered)])
    return out


def held_out() -> dict[str, float]:
    """Per-label accuracy of the shipped classifier on ``data/followups_heldout.jsonl``: 41
    follow-ups written after the rules were frozen, never used for training or tuning."""
    held = load_examples(DATA.with_name("followups_heldout.jsonl"))
    return _accuracy([y for _, y in held], [classify(t).label for t, _ in held])


def _accuracy(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    # a label without examples has no accuracy (NaN, printed "-"), not 0
    res = {lab: sum(g == p == lab for g, p in zip(gold, pred)) / gold.count(lab) if lab in gold else math.nan
           for lab in LABELS}
    res["all"] = sum(g == p for g, p in zip(gold, pred)) / max(1, len(gold))
    res["n"] = len(gold)
    return res

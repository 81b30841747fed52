"""Clarification scoring (after Zhang, Knox & Choi, ICLR 2025, "Modeling Future Conversation
Turns to Teach LLMs to Ask Clarifying Questions"; ``mikejqzhang/clarifying_questions``).

Protocol, per question with readings (AmbigQA ``qaPairs``): the system answers directly or asks
one clarifying question. For each reading a simulated user (:class:`SimulatedUser`) answers the
clarifying question as someone who meant that reading; the system then answers.

* A reading is **recovered** when the final answer matches its gold aliases (SQuAD exact match)
  and the gold answer was not leaked in *both* the clarifying question and the user's reply
  (the user just copying the answer from the options does not count).
* Per question: R = recovered readings / readings; P = final answers that match their own
  user's reading (not leaked) / final answers given; recovery F1 = 2PR / (P + R). A direct
  answer is scored with F1_ans against all readings. Reported macro over questions, with the
  mean number of turns and the clarify rate.
* A question with several ``multipleQAs`` annotations is scored against each (its readings are
  the simulated users) and keeps the best, as the official F1_ans does (``eval run``, and each
  action of the policy simulation, :mod:`eval.policy_sim`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.ambigqa import answer_f1, exact_match
from eval.normalize import normalize_answer


def leaked(answer_aliases: Sequence[str], text: str) -> bool:
    t = f" {normalize_answer(text)} "
    return any(normalize_answer(a) and f" {normalize_answer(a)} " in t for a in answer_aliases)


@dataclass(frozen=True)
class Conversation:
    """One simulated user's turn: the reading they meant and what happened."""

    gold_aliases: tuple[str, ...]
    clarifying_question: str
    user_reply: str
    final_answers: tuple[str, ...]


def conversation_recovered(c: Conversation) -> bool:
    hit = any(exact_match(c.gold_aliases, a) for a in c.final_answers)
    leak = leaked(c.gold_aliases, c.clarifying_question) and leaked(c.gold_aliases, c.user_reply)
    return hit and not leak


def clarify_f1(conversations: Sequence[Conversation]) -> float:
    """Recovery F1 of one clarified question (see module docstring)."""
    if not conversations:
        return 0.0
    good = [conversation_recovered(c) for c in conversations]
    n_answers = sum(len(c.final_answers) for c in conversations)
    good_answers = sum(
        sum(exact_match(c.gold_aliases, a) for a in c.final_answers) if ok else 0
        for c, ok in zip(conversations, good))
    r = sum(good) / len(conversations)
    p = good_answers / n_answers if n_answers else 0.0
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def direct_f1(readings: Sequence[Sequence[str]], answers: Sequence[str]) -> float:
    return answer_f1(readings, answers)


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``rows``: per question ``{"clarified": bool, "f1": float, "turns": int}``."""
    if not rows:
        raise ValueError("no questions to summarise")
    return {"n": len(rows), "recovery_f1": float(np.mean([r["f1"] for r in rows])),
            "clarify_rate": float(np.mean([r["clarified"] for r in rows])),
            "mean_turns": float(np.mean([r["turns"] for r in rows]))}


class SimulatedUser:
    """Answers a clarifying question as a user who meant ``disambiguated_question``.

    With options, it picks the one closest to the disambiguated question by embedding cosine
    (the encoder is any object with ``encode(texts) -> normalised vectors``) and replies with it.
    Without options, it replies with the disambiguated question's distinguishing words: those
    not in the original question.
    """

    def __init__(self, encoder):
        self.encoder = encoder

    def reply(self, question: str, disambiguated_question: str, options: Sequence[str] = ()) -> str:
        if options:
            vecs = self.encoder.encode([disambiguated_question, *options])
            return options[int(np.argmax(vecs[1:] @ vecs[0]))]
        asked = set(normalize_answer(question).split())
        words = [w for w in normalize_answer(disambiguated_question).split() if w not in asked]
        return " ".join(words) or disambiguated_question

"""Rewards of every action from simulated future turns, and the evaluation of the learned policy
(issue 15 part 3; after Zhang, Knox & Choi, ICLR 2025).

For a question with gold readings (AmbigQA ``qaPairs``, or its single answer) and the reader's
interactive answer (its readings), each action is scored as its outcome would be:

* ``single``: F1_ans of the top reading's answer against the gold readings;
* ``multi``: F1_ans of every reading's answer;
* ``clarify``: one simulated user per gold reading replies to the clarifying question
  (:class:`eval.clarification.SimulatedUser`), the reader answers the reading the reply picks,
  and the conversations are scored with recovery F1 (:func:`eval.clarification.clarify_f1`),
  minus :data:`TURN_COST` for the extra turn;
* ``abstain``: 0.

An answer that earns F1 0 gets :data:`WRONG` instead, the "wrong" reward of the feedback bandit
(``readers.bandit.REWARDS``, from lil-lab/qa-from-hf), so a wrong answer is worse than none.
:data:`TURN_COST` (0.1) is our choice, fixed before any run: a clarification must recover at
least a tenth of an answer more than the best direct response to be worth a turn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexes.types import Hit
from readers.action_policy import ACTIONS, available, policy_features
from readers.bandit import REWARDS
from readers.types import Answer

WRONG = REWARDS["wrong"]
TURN_COST = 0.1


@dataclass(frozen=True)
class Outcome:
    """One question's features, the reward of every action (NaN: not available) and labels."""

    id: str
    features: tuple[float, ...]
    rewards: tuple[float, ...]
    allowed: tuple[str, ...]
    ambiguous: int
    f1: tuple[float, ...]


def gold_annotations(record: dict) -> list[dict]:
    """The record's ``multipleQAs`` annotations, else its first annotation."""
    anns = record["annotations"]
    return [a for a in anns if a["type"] == "multipleQAs"] or anns[:1]


@dataclass(frozen=True)
class Targets:
    """What a question's users may mean: ``gold`` (alias lists) scores a direct answer,
    ``interpretations`` holds one (disambiguated question, answers) per reading for the
    simulated users of the clarify turn, ``ambiguous`` is the when-to-clarify label."""

    gold: tuple[tuple[str, ...], ...]
    interpretations: tuple[tuple[str, tuple[str, ...]], ...]
    ambiguous: int


def ambigqa_targets(record: dict) -> tuple[Targets, ...]:
    """An AmbigQA record's targets, one per ``multipleQAs`` annotation (its question-answer pairs;
    else the single answer); ambiguous when any annotation is ``multipleQAs``. An action is scored
    against each and keeps the best, as the official F1_ans takes the best annotation."""
    from eval.ambigqa import gold_items
    from readers.ambiguity import label

    out = []
    for ann in gold_annotations(record):
        pairs = ann.get("qaPairs") or [{"question": record["question"], "answer": ann.get("answer", [])}]
        out.append(Targets(tuple(tuple(g) for g in gold_items(ann)),
                           tuple((p["question"], tuple(p["answer"])) for p in pairs), label(record)))
    return tuple(out)


def _as_tuple(targets: Targets | Sequence[Targets]) -> tuple[Targets, ...]:
    """One question's targets as a tuple (AmbigQA gives one per annotation, RAMDocs one)."""
    return (targets,) if isinstance(targets, Targets) else tuple(targets)


def _reward(f1: float) -> float:
    return f1 if f1 > 0 else WRONG


def clarification_f1(question: str, interpretations: Sequence[tuple[str, Sequence[str]]], ans: Answer,
                     encoder) -> float:
    """Recovery F1 of ``ans`` (a clarify answer) with one simulated user per interpretation."""
    from eval.clarification import Conversation, SimulatedUser, clarify_f1
    from readers.clarify import clarifying_question, follow_up, option_text

    asked = ans.clarifying_question or clarifying_question(ans.readings)
    user, options, convs = SimulatedUser(encoder), [option_text(r) for r in ans.readings], []
    for meant, gold in interpretations:
        said = user.reply(question, meant, options)
        final, _ = follow_up(asked, ans.readings, said, encoder=encoder)
        answers = tuple(r.answer for r in final.readings) if final.kind == "single" else ()
        convs.append(Conversation(tuple(gold), asked, said, answers))
    return clarify_f1(convs)


def action_scores(record: dict, ans: Answer, encoder, targets: Targets | Sequence[Targets] | None = None
                  ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(rewards, F1s), each in the order of ``ACTIONS``, NaN where the action is not available
    (see the module docstring; abstaining earns reward 0 and F1 0). ``targets``: one
    :class:`Targets` or several (each action keeps its best F1); default :func:`ambigqa_targets`."""
    from eval.ambigqa import answer_f1

    ts = _as_tuple(targets or ambigqa_targets(record))
    ok, rs = available(ans), ans.readings
    f1 = {"abstain": 0.0}
    if "single" in ok:
        f1["single"] = max(answer_f1(t.gold, [rs[0].answer]) for t in ts)
    if "multi" in ok:
        f1["multi"] = max(answer_f1(t.gold, [r.answer for r in rs]) for t in ts)
        f1["clarify"] = max(clarification_f1(record["question"], t.interpretations, ans, encoder) for t in ts)
    reward = {a: 0.0 if a == "abstain" else _reward(v) - (TURN_COST if a == "clarify" else 0.0)
              for a, v in f1.items()}
    return tuple(reward.get(a, math.nan) for a in ACTIONS), tuple(f1.get(a, math.nan) for a in ACTIONS)


def simulate(records: Sequence[dict], hits: Sequence[Sequence[Hit]], reader, encoder,
             p_ambiguous: Sequence[float] | None = None, progress: bool = True, sink=None,
             targets_of=ambigqa_targets) -> list[Outcome]:
    """Read every question interactively (with no ambiguity classifier, so that several readings
    always give a clarify answer) and score every action. ``p_ambiguous``: the classifier's
    probability per question (a policy feature); ``sink(outcome)`` is called as each is done;
    ``targets_of(record)``: the record's :class:`Targets` (AmbigQA's by default)."""
    from tqdm.auto import tqdm

    from indexes.progress import hidden

    ps = list(p_ambiguous) if p_ambiguous is not None else [None] * len(records)
    out = []
    for rec, h, p in tqdm(list(zip(records, hits, ps)), desc="simulating turns", unit="q", disable=hidden(progress)):
        ans = reader.read(rec["question"], h, interactive=True)
        ts = _as_tuple(targets_of(rec))
        rewards, f1 = action_scores(rec, ans, encoder, ts)
        o = Outcome(rec["id"], tuple(float(v) for v in policy_features(rec["question"], h, ans, p)),
                    rewards, available(ans), ts[0].ambiguous, f1)
        out.append(o)
        if sink is not None:
            sink(o)
    return out


def arrays(outcomes: Sequence[Outcome]) -> tuple[np.ndarray, np.ndarray]:
    """(features, rewards) of outcomes as arrays for :meth:`ActionPolicy.fit`."""
    return (np.array([o.features for o in outcomes], dtype=np.float64),
            np.array([o.rewards for o in outcomes], dtype=np.float64))


FALLBACK = {"single": ("single", "abstain"), "multi": ("multi", "single", "abstain"),
            "clarify": ("clarify", "single", "abstain"), "abstain": ("abstain",)}


def fixed_choice(action: str, allowed: Sequence[str]) -> str:
    """A fixed policy's action where ``action`` is not allowed: complete answer and clarification
    fall back to the one reading, then to abstaining.

    >>> fixed_choice("clarify", ("single", "abstain"))
    'single'
    """
    return next(a for a in FALLBACK[action] if a in allowed)


def classifier_choice(p: float, threshold: float, allowed: Sequence[str]) -> str:
    """The shipped rule (:func:`readers.policy.decide`, interactive): with several readings,
    clarify when P(ambiguous) >= threshold, else the complete answer."""
    return fixed_choice("clarify" if p >= threshold else "multi", allowed)


def _score(outcomes: Sequence[Outcome], chosen: Sequence[str]) -> dict[str, float]:
    idx = [ACTIONS.index(a) for a in chosen]
    return {"mean_reward": float(np.mean([o.rewards[i] for o, i in zip(outcomes, idx)])),
            "f1": float(np.mean([o.f1[i] for o, i in zip(outcomes, idx)])),
            "clarify_rate": float(np.mean([a == "clarify" for a in chosen]))}


def evaluate_policy(policy, outcomes: Sequence[Outcome], classifier_p: Sequence[float] | None = None,
                    threshold: float = 0.5) -> dict[str, Any]:
    """When-to-clarify accuracy/AUROC against the ambiguity labels, reward and F1 of the chosen
    actions against fixed policies (and the classifier rule), and on the ambiguous questions with
    several readings, recovery F1 of clarifying vs F1 of the direct answers.

    The policy "says ambiguous" when it picks clarify or the complete answer; its AUROC score is
    :meth:`ActionPolicy.ambiguity_score`. ``classifier_p``: the current classifier's
    P(ambiguous) on the same questions, scored the same way (ambiguous when p >= threshold)."""
    x, _ = arrays(outcomes)
    chosen = policy.choose(x, [o.allowed for o in outcomes])
    return evaluate_choices(outcomes, chosen, policy.ambiguity_score(x), classifier_p, threshold)


def evaluate_choices(outcomes: Sequence[Outcome], chosen: Sequence[str], ambiguity_score: Sequence[float],
                     classifier_p: Sequence[float] | None = None, threshold: float = 0.5) -> dict[str, Any]:
    """:func:`evaluate_policy` of actions already chosen (``chosen``, ``ambiguity_score``: one per
    outcome), as when each cross-validation fold is chosen by its own policy."""
    from readers.metrics import auroc

    if not len(chosen) == len(ambiguity_score) == len(outcomes):
        raise ValueError(f"{len(outcomes)} outcomes, {len(chosen)} choices, {len(ambiguity_score)} scores")
    y = np.array([o.ambiguous for o in outcomes])
    says = np.array([a in ("clarify", "multi") for a in chosen])
    row: dict[str, Any] = {"n": len(outcomes), "ambiguous_rate": float(y.mean()), "policy": {
        "accuracy": float((says == y).mean()), "auroc": auroc([float(v) for v in ambiguity_score], list(y)),
        **_score(outcomes, chosen), "action_rates": {a: float(np.mean([c == a for c in chosen])) for a in ACTIONS}}}
    if classifier_p is not None:
        p = [float(v) for v in classifier_p]
        row["classifier"] = {"accuracy": float(((np.array(p) >= threshold) == y).mean()), "auroc": auroc(p, list(y)),
                             **_score(outcomes, [classifier_choice(v, threshold, o.allowed)
                                                 for v, o in zip(p, outcomes)])}
    row["fixed"] = {a: _score(outcomes, [fixed_choice(a, o.allowed) for o in outcomes]) for a in ACTIONS}
    row["oracle_reward"] = float(np.mean([np.nanmax(o.rewards) for o in outcomes]))
    amb = [o for o in outcomes if o.ambiguous and "clarify" in o.allowed]
    if amb:
        col = {a: float(np.mean([o.f1[ACTIONS.index(a)] for o in amb])) for a in ("single", "multi", "clarify")}
        row["clarification"] = {"n": len(amb), "recovery_f1": col["clarify"], "direct_f1_single": col["single"],
                                "direct_f1_complete": col["multi"]}
    return row


def answer_in_hits(record: dict, hits: Sequence[Hit]) -> bool:
    """Some gold answer of any annotation occurs (SQuAD-normalised, whole words) in the hits: the
    training questions "whose features exist" (the corpus covers AmbigQA dev, not train)."""
    from eval.ambigqa import gold_items
    from eval.normalize import normalize_answer
    from eval.retrieval import alias_found

    text = " " + " ".join(normalize_answer(f"{h.passage.title} {h.passage.text}") for h in hits) + " "
    return alias_found([a for ann in record["annotations"] for item in gold_items(ann) for a in item], [text])


LAM_FOLDS = 5   # cross-validation folds that choose the ridge strength


def choose_lam(outcomes: Sequence[Outcome], grid: Sequence[float] = (0.1, 1.0, 10.0, 100.0), folds: int = LAM_FOLDS,
               seed: int = 0) -> tuple[float, dict[float, float]]:
    """The ridge strength whose policy earns the most reward on held-out folds of ``outcomes``
    (the training questions only)."""
    from readers.action_policy import ActionPolicy

    if len(outcomes) < folds:   # every fold needs questions to score (it was a numpy broadcast error)
        raise ValueError(f"only {len(outcomes)} training questions to choose the ridge strength by {folds}-fold "
                         f"cross-validation; at least {folds} are needed (usable training questions are those "
                         f"whose retrieved passages hold a gold answer)")
    order = np.random.default_rng(seed).permutation(len(outcomes))
    scores = {}
    for lam in grid:
        got = []
        for f in range(folds):
            test = set(order[f::folds].tolist())
            tr = [o for i, o in enumerate(outcomes) if i not in test]
            te = [o for i, o in enumerate(outcomes) if i in test]
            pol = ActionPolicy.fit(*arrays(tr), lam=lam)
            got.append(_score(te, pol.choose(arrays(te)[0], [o.allowed for o in te]))["mean_reward"])
        scores[lam] = float(np.mean(got))
    return max(grid, key=lambda v: scores[v]), scores


def outcome_line(o: Outcome) -> str:
    import json
    from dataclasses import asdict

    return json.dumps(asdict(o), allow_nan=True) + "\n"


def save_outcomes(path, outcomes: Sequence[Outcome]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(outcome_line(o) for o in outcomes)


def load_outcomes(path) -> list[Outcome]:
    import json

    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            try:
                d = json.loads(line)
                out.append(Outcome(d["id"], tuple(d["features"]), tuple(d["rewards"]), tuple(d["allowed"]),
                                   int(d["ambiguous"]), tuple(d["f1"])))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{i}: not an outcome row: {e}") from None
    return out


def markdown(report: dict[str, Any]) -> str:
    """The report of ``ambigrag eval policy`` as markdown tables."""
    s = report["settings"]
    ram = f" and {s['n_train_ramdocs']} RAMDocs" if s.get("n_train_ramdocs") else ""
    lines = [f"Policy trained on {s['n_train']} AmbigQA {_file_name(s)}{ram} questions (ridge lambda {s['lam']:g}, chosen "
             f"by 5-fold reward on them); reader {s['reader']}, {s['max_passages']} of {s['k']} hybrid passages; "
             f"turn cost {s['turn_cost']}, wrong answer {s['wrong']}.", ""]
    titles = {"dev_all": "AmbigQA dev, all", "dev_covered": "AmbigQA dev, corpus-covered",
              "ramdocs_oof": "RAMDocs, out-of-fold (each fold: spans of its out-of-fold reader, decided by a policy "
                             "fitted on train_light and the other folds)"}
    for name in (n for n in titles if n in report):
        d = report[name]
        if not d["n"]:
            lines += [f"### {titles[name]} (0 questions)", "", "No question to score.", ""]
            continue
        lines += [f"### {titles[name]} ({d['n']} questions, {d['ambiguous_rate']:.1%} ambiguous)", "",
                  "| decision | when-to-clarify accuracy | AUROC | mean reward | F1 | clarify rate |",
                  "|---|---|---|---|---|---|"]
        rows = [("learned policy", d["policy"]), ("classifier rule", d.get("classifier", {})),
                *((f"always {a}", v) for a, v in d["fixed"].items())]
        for label, v in rows:
            acc = f"{v['accuracy']:.3f}" if "accuracy" in v else "-"
            au = f"{v['auroc']:.3f}" if v.get("auroc") is not None else "-"
            lines.append(f"| {label} | {acc} | {au} | {v.get('mean_reward', 0):.4f} | {v.get('f1', 0):.4f} | "
                         f"{v.get('clarify_rate', 0):.3f} |")
        lines += ["", f"Oracle (best action per question) mean reward {d['oracle_reward']:.4f}. Learned policy "
                  "actions: " + ", ".join(f"{a} {r:.1%}" for a, r in d["policy"]["action_rates"].items()) + "."]
        c = d.get("clarification")
        if c:
            lines += [f"Ambiguous questions with several readings ({c['n']}): recovery F1 {c['recovery_f1']:.4f}, "
                      f"direct one answer {c['direct_f1_single']:.4f}, direct complete answer "
                      f"{c['direct_f1_complete']:.4f}."]
        lines.append("")
    return "\n".join(lines)


def _file_name(settings: dict[str, Any]) -> str:
    """The training file's name without .json (reports before it was recorded: train_light)."""
    return settings.get("train_file", "train_light.json").removesuffix(".json")

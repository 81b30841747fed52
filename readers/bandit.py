"""Learning the span reader from ratings: an offline contextual bandit.

After Gao, Chen, Artzi and Choi, "Continually Improving Extractive QA via Human Feedback"
(EMNLP 2023; code lil-lab/qa-from-hf, ``train_bandit.py`` and ``src/data.py``). Facts taken from
that code; the code here is our own.

**Rewards** (:data:`REWARDS`, the defaults of the paper's ``--reward_correct_span``,
``--partial_reward`` and ``--negative_reward``): correct 1.0, partial 0.5 (half of correct),
wrong -0.1. An implicit follow-up maps to a reward too (:data:`IMPLICIT_REWARDS`, our mapping):
``rephrase`` (the user asked again or corrected the answer) and ``negative`` are as wrong (-0.1);
``positive`` (the user builds on the answer) is as partial (0.5), weaker evidence than an
explicit "correct"; ``new_topic`` says nothing about the answer (0.0: no gradient). An explicit
rating wins over an implicit label.

**Update**: an interaction logged the question, the passage, the shown span ``y`` and the
probability ``p0(y)`` the deployed reader gave it. With the current reader's ``p(y)`` the loss is

    -(min(p(y) / p0(y), 1) * r) * log p(y) / 2

averaged over a batch, the importance weight clipped to [0, 1] and held constant (no gradient
through it), as in the paper. ``log p(y) = log p_start(i) + log p_end(j)`` over the window that
holds the span (the most central one when windows overlap). A supervised example (a gold span) is
the same loss with reward 1 and weight 1, which is the cross-entropy of the span reader's
training; :func:`update` can mix them (and earlier rounds' feedback, the paper's rehearsal) into
every batch.

>>> reward_of("partial"), reward_of(None, "rephrase"), reward_of("correct", "negative")
(0.5, -0.1, 1.0)
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REWARDS = {"correct": 1.0, "partial": 0.5, "wrong": -0.1}
IMPLICIT_REWARDS = {"rephrase": -0.1, "negative": -0.1, "positive": 0.5, "new_topic": 0.0}
FEEDBACK_FIELDS = ("question", "passage_text", "span_start", "span_end", "span_text", "probability",
                   "model_version", "rating", "implicit")


def reward_of(rating: str | None, implicit: str | None = None) -> float | None:
    """The reward of a rating (``correct``/``partial``/``wrong``), else of an implicit label;
    None when there is neither. Unknown labels raise ValueError."""
    if rating is not None:
        if rating not in REWARDS:
            raise ValueError(f"rating must be one of {sorted(REWARDS)} or null, got {rating!r}")
        return REWARDS[rating]
    if implicit is not None:
        if implicit not in IMPLICIT_REWARDS:
            raise ValueError(f"implicit must be one of {sorted(IMPLICIT_REWARDS)} or null, got {implicit!r}")
        return IMPLICIT_REWARDS[implicit]
    return None


@dataclass(frozen=True)
class Feedback:
    """One learner record (one JSON object a line; ``ambigrag learn`` makes these from the feedback
    store or its export, one per shown span of a rated interaction): the span
    ``passage_text[span_start:span_end] == span_text`` was shown with ``probability`` by reader
    ``model_version`` and rated (``rating``) and/or followed up (``implicit``)."""

    question: str
    passage_text: str
    span_start: int
    span_end: int
    span_text: str
    probability: float
    model_version: str
    rating: str | None = None
    implicit: str | None = None

    @property
    def reward(self) -> float | None:
        return reward_of(self.rating, self.implicit)

    @property
    def label(self) -> str:
        """What gave the reward: the rating (an explicit one wins), else ``implicit <label>``."""
        return self.rating or f"implicit {self.implicit}"

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "feedback") -> Feedback:
        """Checked record: the span is a slice of the passage, the probability in (0, 1], the
        labels known. Errors name ``where`` and the field."""
        missing = [k for k in FEEDBACK_FIELDS[:7] if k not in d]
        if missing:
            raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
        fb = cls(**{k: d.get(k) for k in FEEDBACK_FIELDS})
        text, a, b = fb.passage_text, fb.span_start, fb.span_end
        if not (isinstance(a, int) and isinstance(b, int) and 0 <= a < b <= len(text)) or text[a:b] != fb.span_text:
            raise ValueError(f"{where}: span_text is not passage_text[span_start:span_end] ({a}, {b})")
        if not isinstance(fb.probability, (int, float)) or not 0 < fb.probability <= 1:
            raise ValueError(f"{where}: probability must be in (0, 1], got {fb.probability!r}")
        try:
            reward_of(fb.rating, fb.implicit)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        return fb


def read_feedback(path: str | Path) -> list[Feedback]:
    """Feedback records of a JSONL export (a ValueError names the file and line)."""
    from indexes.datafiles import jsonl_objects

    return [Feedback.from_dict(rec, f"{path}:{n}") for n, rec in jsonl_objects(path)]


# --- the loss: pure functions over log-probabilities ------------------------------------------

def clipped_weights(logp, logged_logp, clip: float = 1.0):
    """``min(exp(logp - logged_logp), clip)``, without gradient; 1 where ``logged_logp`` is NaN
    (a supervised example). Tensors of one shape."""
    import torch

    w = torch.exp(logp.detach() - torch.nan_to_num(logged_logp, nan=0.0)).clamp(0.0, clip)
    return torch.where(torch.isnan(logged_logp), torch.ones_like(w), w)


def bandit_loss(logp, logged_logp, rewards, clip: float = 1.0):
    """Mean of ``-(w * r) * logp / 2`` with ``w`` the clipped importance weight (see module doc)."""
    w = clipped_weights(logp, logged_logp, clip)
    return (-(w * rewards) * logp / 2).mean()


def span_logprob(ls, le, starts, ends):
    """``log p_start(i) + log p_end(j)`` per row of log-softmaxed (batch, tokens) scores."""
    import torch

    rows = torch.arange(ls.shape[0], device=ls.device)
    return ls[rows, starts] + le[rows, ends]


# --- windows and targets -----------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """The tokens of one (question, passage) window, unpadded."""

    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Target:
    """A span of one window to learn: token positions (0, 0 = [CLS] = no answer), the reward,
    and the log-probability the logging reader gave it (NaN for a supervised example)."""

    window: Window
    start: int
    end: int
    reward: float
    logged_logp: float = math.nan


def _window(enc, w: int) -> Window:
    types = enc["token_type_ids"][w] if "token_type_ids" in enc else None
    return Window(tuple(enc["input_ids"][w]), tuple(types) if types is not None else None)


def locate_tokens(offsets, seq_ids, a: int, b: int) -> tuple[int, int] | None:
    """Token positions (first, last) of the characters [a, b) in a window's passage tokens, or
    None when the window does not hold all of them."""
    ctx = [k for k, s in enumerate(seq_ids) if s == 1]
    if not ctx or offsets[ctx[0]][0] > a or offsets[ctx[-1]][1] < b:
        return None
    s = next(k for k in ctx if offsets[k][1] > a)
    t = next(k for k in reversed(ctx) if offsets[k][0] < b)
    return (s, t) if s <= t else None


def target_in_windows(windows: Sequence[tuple[Window, Any, Any]], a: int, b: int, reward: float,
                      logged_logp: float = math.nan) -> Target | None:
    """The target of the characters [a, b) in the most central of the (window, offsets,
    sequence ids) that hold them; None when none does."""
    best = None
    for win, offsets, seq_ids in windows:
        pos = locate_tokens(offsets, seq_ids, a, b)
        if pos is None:
            continue
        ctx = [k for k, s in enumerate(seq_ids) if s == 1]
        margin = min(pos[0] - ctx[0], ctx[-1] - pos[1])
        if best is None or margin > best[0]:
            best = (margin, win, pos)
    if best is None:
        return None
    _, win, (s, t) = best
    return Target(win, s, t, reward, logged_logp)


def passage_windows(tokenizer, question: str, passages: Sequence[str], max_length: int = 256,
                    stride: int = 96) -> list[list[tuple[Window, Any, Any]]]:
    """Per passage, its (window, character offsets, sequence ids), tokenised as the reader does."""
    from readers.span_model import windows

    enc = windows(tokenizer, question, passages, max_length, stride)
    out: list[list] = [[] for _ in passages]
    for w, i in enumerate(enc["overflow_to_sample_mapping"]):
        out[i].append((_window(enc, w), enc["offset_mapping"][w], enc.sequence_ids(w)))
    return out


def targets_from_feedback(tokenizer, feedback: Sequence[Feedback], max_length: int = 256,
                          stride: int = 96) -> tuple[list[Target], list[str], dict[str, int]]:
    """(targets, labels, counts): one target per rewarded interaction, in the most central window
    holding the shown span, with the :attr:`Feedback.label` that gave its reward (several labels
    share a reward). Counts ``used``, ``no_reward`` (neither rating nor implicit label, or reward
    0: no gradient) and ``not_in_window`` (a span longer than a window)."""
    targets: list[Target] = []
    labels: list[str] = []
    counts = {"used": 0, "no_reward": 0, "not_in_window": 0}
    for fb in feedback:
        r = fb.reward
        if not r:
            counts["no_reward"] += 1
            continue
        wins = passage_windows(tokenizer, fb.question, [fb.passage_text], max_length, stride)[0]
        t = target_in_windows(wins, fb.span_start, fb.span_end, r, math.log(fb.probability))
        if t is None:
            counts["not_in_window"] += 1
            continue
        targets.append(t)
        labels.append(fb.label)
        counts["used"] += 1
    return targets, labels, counts


def targets_from_examples(tokenizer, examples, max_length: int = 256, stride: int = 96) -> list[Target]:
    """Supervised targets (reward 1, weight 1) from :class:`readers.span_train.SpanExample`: every
    window, labelled with the gold span or [CLS] (as the span reader's training)."""
    from readers.span_train import features

    out = []
    for f in features(tokenizer, examples, max_length, stride):
        types = f.get("token_type_ids")
        win = Window(tuple(f["input_ids"]), tuple(types) if types is not None else None)
        out.append(Target(win, f["start_positions"], f["end_positions"], 1.0))
    return out


# --- scoring windows ---------------------------------------------------------------------------

Scorer = Callable[[Sequence[Window]], tuple[Any, Any]]
"""windows -> (log-softmaxed start scores, end scores), (batch, longest window) tensors, padding
masked out; with gradient when the model's parameters require it."""


def _targets_logprob(scorer: Scorer, targets: Sequence[Target]):
    """``log p(span)`` of each target's span under ``scorer`` (:func:`span_logprob`), a tensor."""
    import torch

    ls, le = scorer([t.window for t in targets])
    return span_logprob(ls, le, torch.tensor([t.start for t in targets]), torch.tensor([t.end for t in targets]))


def pad_windows(windows: Sequence[Window]):
    """input_ids, attention_mask and token_type_ids (or None) tensors of a batch, right-padded."""
    import torch

    width = max(len(w.input_ids) for w in windows)
    ids = torch.zeros((len(windows), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids) if windows[0].token_type_ids is not None else None
    for i, w in enumerate(windows):
        n = len(w.input_ids)
        ids[i, :n] = torch.tensor(w.input_ids)
        mask[i, :n] = 1
        if types is not None:
            types[i, :n] = torch.tensor(w.token_type_ids)
    return ids, mask, types


def masked_log_softmax(start_logits, end_logits, mask):
    import torch

    pad = mask == 0
    return (torch.log_softmax(start_logits.float().masked_fill(pad, -1e4), -1),
            torch.log_softmax(end_logits.float().masked_fill(pad, -1e4), -1))


class ModelScorer:
    """The plain scorer: a full forward pass of an extractive-QA model."""

    def __init__(self, model):
        self.model = model

    def __call__(self, windows: Sequence[Window]):
        ids, mask, types = pad_windows(windows)
        kw = {"token_type_ids": types} if types is not None else {}
        out = self.model(input_ids=ids, attention_mask=mask, **kw)
        return masked_log_softmax(out.start_logits, out.end_logits, mask)


# --- the update --------------------------------------------------------------------------------

@dataclass(frozen=True)
class BanditSettings:
    """One update: ``epochs`` over the new targets in batches of ``batch_size``, each batch with
    ``rehearsal`` earlier targets and ``supervised`` gold targets drawn at random (0: none);
    AdamW at a constant ``lr`` on the top ``train_layers`` layers and the head, dropout off."""

    lr: float = 5e-5
    epochs: int = 1
    batch_size: int = 16
    train_layers: int = 1
    clip: float = 1.0
    rehearsal: int = 0
    supervised: int = 0
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        from readers.span_model import require_in_range

        # comparisons are false for a NaN too; an infinite lr trained a NaN candidate;
        # train_layers' upper bound is the model's (readers.span_train.trainable_names).
        require_in_range("bandit settings", self, {
            "lr": 0 < self.lr < math.inf, "epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1,
            "train_layers": self.train_layers >= 0, "clip": 0 < self.clip < math.inf, "rehearsal": self.rehearsal >= 0,
            "supervised": self.supervised >= 0, "weight_decay": 0 <= self.weight_decay < math.inf},
            "0 < lr, clip < inf; epochs, batch_size >= 1; train_layers, rehearsal, supervised, weight_decay >= 0")


SUB_BATCH = 8
"""Windows per forward/backward pass inside one batch (see :func:`_batch_backward`)."""


def _batch_backward(scorer: Scorer, batch: Sequence[Target], clip: float, sub_batch: int = SUB_BATCH):
    """Backpropagate the batch's :func:`bandit_loss`; returns (loss, clipped weights in batch order).

    The loss is a mean over windows, so it is the sum over sub-batches of their summed terms / n:
    the windows run sorted by length in sub-batches of ``sub_batch``, each padded only to its own
    longest window (a random batch pads to its longest, about 1.6x the median RAMDocs window), and
    the gradients accumulate. Same gradient as one pass, up to float rounding (tested)."""
    import torch

    order = sorted(range(len(batch)), key=lambda i: len(batch[i].window.input_ids))
    weights = [0.0] * len(batch)
    total = 0.0
    for c in range(0, len(order), sub_batch):
        part = [batch[i] for i in order[c:c + sub_batch]]
        logp = _targets_logprob(scorer, part)
        logged = torch.tensor([t.logged_logp for t in part], dtype=logp.dtype)
        rewards = torch.tensor([t.reward for t in part], dtype=logp.dtype)
        loss = bandit_loss(logp, logged, rewards, clip) * (len(part) / len(batch))
        loss.backward()
        total += loss.item()
        for i, w in zip(order[c:c + sub_batch], clipped_weights(logp, logged, clip).tolist()):
            weights[i] = w
    return total, weights


def update(model, new: Sequence[Target], *, scorer: Scorer | None = None, old: Sequence[Target] = (),
           supervised: Sequence[Target] = (), settings: BanditSettings = BanditSettings(),
           progress: bool = False) -> dict[str, float]:
    """Train ``model`` in place on ``new`` (see :class:`BanditSettings`); returns statistics
    (steps, mean loss, mean clipped weight of the feedback targets, seconds). The trained
    parameters are rounded to float16 at the end, as a saved reader holds them."""
    import torch
    from tqdm import tqdm

    from indexes.progress import hidden
    from readers.span_train import round_trained_to_half, train_only

    if not new:
        raise ValueError("no feedback targets to learn from")
    scorer = scorer or ModelScorer(model)
    names, params = train_only(model, settings.train_layers)
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    rng = random.Random(settings.seed)
    torch.manual_seed(settings.seed)
    model.eval()  # dropout off: the logged and the current probabilities are comparable
    order = [i for _ in range(settings.epochs) for i in rng.sample(range(len(new)), len(new))]
    steps = range(0, len(order), settings.batch_size)
    losses, weights, t0 = [], [], time.perf_counter()
    for b in tqdm(steps, desc="bandit update", unit="step", disable=hidden(progress)):
        batch = [new[i] for i in order[b:b + settings.batch_size]]
        n_fb = len(batch)
        if old and settings.rehearsal:
            batch += rng.sample(list(old), min(settings.rehearsal, len(old)))
        if supervised and settings.supervised:
            batch += rng.sample(list(supervised), min(settings.supervised, len(supervised)))
        loss, w = _batch_backward(scorer, batch, settings.clip)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss)
        weights += w[:n_fb]
    round_trained_to_half(model, names)
    for p in model.parameters():
        p.requires_grad_(False)
    return {"steps": len(losses), "loss": sum(losses) / len(losses), "mean_weight": sum(weights) / len(weights),
            "seconds": time.perf_counter() - t0}


def shown_logprobs(scorer: Scorer, targets: Sequence[Target], batch_size: int = 64) -> list[float]:
    """The current log-probability of each target's span (no gradient)."""
    import torch

    out: list[float] = []
    with torch.no_grad():
        for b in range(0, len(targets), batch_size):
            out += _targets_logprob(scorer, targets[b:b + batch_size]).tolist()
    return out

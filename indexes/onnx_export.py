"""Export a sentence-transformers BERT encoder (the shipped MiniLM) to ONNX and quantise it to int8.

The export traces a plain re-statement of the BERT forward pass over the model's own weights
(:func:`_plain_bert`), not ``transformers``' module: transformers 5 builds its attention mask
with Python-level branches that the ONNX tracer freezes at the example's shape, and the traced
graph then ignores padding (measured: 1.7-2.4 max abs error on padded batches). The plain
module has no such branches; the export is checked against transformers' output on a padded
probe batch and refused if they differ by more than :data:`EXPORT_TOLERANCE`.

Quantisation is ONNX Runtime's dynamic quantisation (weights int8 ahead of time, activations
quantised per batch at run time): ``quantize_dynamic(weight_type=QInt8)``, after SmoothQuant
(:func:`smooth_model`) on the inputs of the query/key/value and FFN-input projections, which
LayerNorm outlier channels otherwise dominate. On 2,242 corpus passages and 500 AmbigQA train
questions it raised the mean cosine to fp32 from 0.9970 to 0.9992 and the share of fp32's top 20
kept from 92.5% to 96.3% at the same speed (smoothing the attention-output and FFN-output inputs
too gained nothing; int8 FFN outputs lost 4-8 points of top-20 overlap).

The exported model is a directory::

    manifest.json     source model id and digest, opset, quantisation settings, sha256 of files
    model.onnx        the int8 graph (input_ids, attention_mask, token_type_ids -> token vectors)
    tokenizer.json    the source model's tokenizer (the ``tokenizers`` library reads it)

torch, transformers, onnx and onnxruntime are imported only inside functions.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger("ambigrag")

ONNX_FORMAT = "ambigrag-onnx-encoder"
ONNX_FORMAT_VERSION = 1
OPSET = 17
EXPORT_TOLERANCE = 1e-4  # max abs difference of token vectors, fp32 ONNX vs transformers
QUANTIZATION = {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8",
                "per_channel": True, "reduce_range": False, "op_types": ["MatMul"], "keep_fp32": "ffn_output",
                "smooth": {"alpha": 0.5, "groups": ["qkv", "ffn_in"]}}
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"


class OnnxExportError(ValueError):
    """The export or its check failed, or an exported directory is not what its manifest says
    (a ``ValueError``: the command line prints it in one line, with its path, not a trace)."""


def _plain_bert(hf_model, inverse_scales: list[dict] | None = None):
    """A torch module computing ``hf_model``'s last hidden state with an explicit additive mask.

    Same arithmetic as transformers' ``BertModel`` in eval mode (absolute positions, erf GELU,
    post-LayerNorm), written so that tracing keeps every shape symbolic. ``inverse_scales``: per
    layer, the SmoothQuant divisors of the inputs of its smoothed linear groups
    (:func:`smooth_model`), applied as an explicit ``Mul`` before them."""
    import torch

    emb, layers = hf_model.embeddings, hf_model.encoder.layer
    heads = hf_model.config.num_attention_heads
    inv = inverse_scales or [{} for _ in layers]

    class PlainBert(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.layers, self.inv = emb, layers, inv

        def forward(self, input_ids, attention_mask, token_type_ids):
            positions = torch.cumsum(torch.ones_like(input_ids), dim=1) - 1
            x = self.emb.word_embeddings(input_ids) + self.emb.position_embeddings(positions) \
                + self.emb.token_type_embeddings(token_type_ids)
            x = self.emb.LayerNorm(x)
            bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
            for layer, inv in zip(self.layers, self.inv):
                x = _layer(layer, x, bias, heads, inv)
            return x

    return PlainBert().eval()


def _layer(layer, x, bias, heads: int, inv: dict):
    import torch

    att = layer.attention.self
    b, s, h = x.shape
    d = h // heads

    def split(t):
        return t.reshape(b, s, heads, d).transpose(1, 2)

    def smoothed(group, t):
        return t * inv[group] if group in inv else t

    xs = smoothed("qkv", x)
    q, k, v = split(att.query(xs)), split(att.key(xs)), split(att.value(xs))
    scores = torch.matmul(q, k.transpose(-1, -2)) / (d ** 0.5) + bias
    ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, s, h)
    x = layer.attention.output.LayerNorm(layer.attention.output.dense(smoothed("attn_out", ctx)) + x)
    inter = torch.nn.functional.gelu(layer.intermediate.dense(smoothed("ffn_in", x)))
    return layer.output.LayerNorm(layer.output.dense(smoothed("ffn_out", inter)) + x)


GROUPS = {"qkv": ("attention.self.query", "attention.self.key", "attention.self.value"),
          "attn_out": ("attention.output.dense",), "ffn_in": ("intermediate.dense",), "ffn_out": ("output.dense",)}


def activation_maxima(hf_model, model_path: str, texts, groups) -> list[dict]:
    """Per layer and group, the largest |input| of each channel of the group's linear layers over
    ``texts`` (read one at a time, so no padding token counts; truncated as the encoder does)."""
    import torch
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_path) / TOKENIZER_FILE))
    tok.enable_truncation(pooling_settings(model_path)["max_seq_length"])
    layers = hf_model.encoder.layer
    maxima: list[dict] = [{} for _ in layers]
    hooks = []
    for i, layer in enumerate(layers):
        for g in groups:
            def grab(_mod, args, i=i, g=g):
                m = args[0].detach().abs().amax(dim=(0, 1))
                maxima[i][g] = torch.maximum(maxima[i][g], m) if g in maxima[i] else m
            hooks.append(layer.get_submodule(GROUPS[g][0]).register_forward_pre_hook(grab))
    try:
        with torch.no_grad():
            for t in texts:
                e = tok.encode(t)
                ids = torch.tensor([e.ids])
                hf_model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids))
    finally:
        for h in hooks:
            h.remove()
    return maxima


def smooth_model(hf_model, maxima: list[dict], alpha: float) -> list[dict]:
    """SmoothQuant (Xiao et al., ICML 2023, eq. 4): per input channel j of a group of linear layers
    sharing one input, s_j = max|X_j|^alpha / max|W_j|^(1 - alpha); the weights' column j is
    multiplied by s_j in place and the input divided by it (the returned ``1/s`` per layer and
    group, for :func:`_plain_bert`), which leaves the fp32 function unchanged but moves activation
    outliers into the weights, where int8 quantisation is per channel."""
    import torch

    inverse = []
    with torch.no_grad():
        for layer, mx in zip(hf_model.encoder.layer, maxima):
            inv = {}
            for g, act in mx.items():
                lins = [layer.get_submodule(n) for n in GROUPS[g]]
                w = torch.stack([lin.weight.abs().amax(dim=0) for lin in lins]).amax(dim=0)
                sc = (act.clamp(min=1e-5) ** alpha / w.clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)
                for lin in lins:
                    lin.weight.mul_(sc[None, :])
                inv[g] = (1.0 / sc).to(torch.float32)
            inverse.append(inv)
    return inverse


def _probe(model_path: str):
    """A padded batch of real-looking text: rows of different lengths, so padding matters."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_path) / TOKENIZER_FILE))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    texts = ["Who won the 2010 FIFA World Cup?", "Paris. Paris is the capital and most populous "
             "city of France, with an estimated population of 2,102,650 residents.", "yes"]
    enc = tok.encode_batch(texts)
    return {"input_ids": [e.ids for e in enc], "attention_mask": [e.attention_mask for e in enc],
            "token_type_ids": [e.type_ids for e in enc]}


def export_fp32(model_path: str, out_file: Path, opset: int = OPSET, smooth: dict | None = None) -> float:
    """Trace the model at ``model_path`` to an fp32 ONNX file; return the max abs difference
    to transformers on the probe batch (refused above :data:`EXPORT_TOLERANCE`). ``smooth``:
    ``{"alpha", "groups"}`` of SmoothQuant (:func:`smooth_model`), calibrated on
    :data:`indexes.onnx_calibration.CALIBRATION_TEXTS`; the check then also proves the
    smoothed graph computes the same function."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import AutoModel

    hf = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()
    probe = {k: torch.tensor(v, dtype=torch.long) for k, v in _probe(model_path).items()}
    with torch.no_grad():
        ref = hf(**probe).last_hidden_state.numpy()
    inverse = None
    if smooth:
        from indexes.onnx_calibration import CALIBRATION_TEXTS

        maxima = activation_maxima(hf, model_path, CALIBRATION_TEXTS, smooth["groups"])
        inverse = smooth_model(hf, maxima, smooth["alpha"])
    plain = _plain_bert(hf, inverse)
    dummy = tuple(t[:2, :7].clone() for t in (probe[n] for n in INPUTS))  # other shape than the probe
    axes = {n: {0: "batch", 1: "sequence"} for n in (*INPUTS, "token_vectors")}
    with torch.no_grad():
        torch.onnx.export(plain, dummy, str(out_file), input_names=list(INPUTS), output_names=["token_vectors"],
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False)
    sess = ort.InferenceSession(str(out_file), providers=["CPUExecutionProvider"])
    out = sess.run(None, {k: v.numpy() for k, v in probe.items()})[0]
    mask = probe["attention_mask"].numpy()[..., None]
    diff = float(np.abs((out - ref) * mask).max())
    if not diff <= EXPORT_TOLERANCE:
        raise OnnxExportError(f"ONNX export of {model_path} differs from transformers by {diff:.3g} "
                              f"(tolerance {EXPORT_TOLERANCE})")
    return diff


def ffn_output_nodes(model) -> list[str]:
    """Names of the MatMul nodes whose weight maps the FFN's intermediate width back to the
    hidden width (BERT's ``output.dense``): their input is GELU output, whose outliers make
    per-tensor uint8 activation quantisation coarse (on 300 corpus passages, keeping them fp32
    raised the mean cosine to fp32 from 0.994 to 0.997)."""
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    out = []
    for node in model.graph.node:
        if node.op_type == "MatMul":
            dims = next((shapes[i] for i in node.input if i in shapes), ())
            if len(dims) == 2 and dims[0] > dims[1]:
                out.append(node.name)
    return out


def quantize_int8(fp32_file: Path, out_file: Path, settings: dict[str, Any] | None = None) -> None:
    """Dynamic int8 quantisation of ``fp32_file`` with ONNX Runtime, as ``settings`` say
    (default :data:`QUANTIZATION`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    s = settings or QUANTIZATION
    exclude = ffn_output_nodes(onnx.load(str(fp32_file))) if s.get("keep_fp32") == "ffn_output" else []
    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)  # quantize_dynamic advises "pre-processing" on the root logger
    try:
        quantize_dynamic(str(fp32_file), str(out_file), weight_type=getattr(QuantType, s["weight_type"]),
                         per_channel=s["per_channel"], reduce_range=s["reduce_range"],
                         op_types_to_quantize=list(s["op_types"]), nodes_to_exclude=exclude)
    finally:
        root.setLevel(level)


def export_model_dir(model_id: str, model_path: str, out: Path, source_digest: str,
                     settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Export ``model_path`` (the files of encoder ``model_id``) into directory ``out`` as an
    int8 ONNX model with its manifest, atomically (a hidden temporary directory renamed into
    place); return the manifest."""
    from indexes.cache import sha256_file

    settings = settings or QUANTIZATION
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        t0 = time.time()
        diff = export_fp32(model_path, tmp / "fp32.onnx", smooth=settings.get("smooth"))
        quantize_int8(tmp / "fp32.onnx", tmp / MODEL_FILE, settings)
        (tmp / "fp32.onnx").unlink()
        shutil.copyfile(Path(model_path) / TOKENIZER_FILE, tmp / TOKENIZER_FILE)
        manifest = {
            "format": ONNX_FORMAT, "format_version": ONNX_FORMAT_VERSION,
            "source": {"model": model_id, "digest": source_digest},
            "opset": OPSET, "quantization": dict(settings), "export_max_abs_diff": diff,
            **pooling_settings(model_path),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "export_seconds": round(time.time() - t0, 1),
            "files": {n: sha256_file(tmp / n) for n in (MODEL_FILE, TOKENIZER_FILE)},
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        try:
            os.rename(tmp, out)
        except OSError:  # another process published it first: keep theirs
            if not (out / MANIFEST_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return read_model_dir(out)


def pooling_settings(model_path: str) -> dict[str, Any]:
    """What sentence-transformers does after the transformer, read from the model's own files:
    mean pooling, then L2 normalisation (refused otherwise), and the maximum sequence length."""
    p = Path(model_path)
    pool = json.loads((p / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((p / "modules.json").read_text(encoding="utf-8"))]
    mode = [k for k, v in pool.items() if k.startswith("pooling_mode") and v]
    if mode != ["pooling_mode_mean_tokens"] or modules != ["Transformer", "Pooling", "Normalize"]:
        raise OnnxExportError(f"{model_path}: only mean pooling + Normalize is supported, got {mode} {modules}")
    bert = json.loads((p / "sentence_bert_config.json").read_text(encoding="utf-8"))
    if bert.get("do_lower_case"):
        raise OnnxExportError(f"{model_path}: do_lower_case is not supported")
    return {"pooling": "mean", "normalize": True, "max_seq_length": int(bert["max_seq_length"]),
            "dim": int(pool["word_embedding_dimension"])}


def read_model_dir(directory: Path, verify: bool = True) -> dict[str, Any]:
    """The manifest of an exported model directory, checking its format and (``verify``) the
    sha256 of every file it lists."""
    from indexes.cache import sha256_file

    path = Path(directory) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise OnnxExportError(f"{path}: cannot read the ONNX encoder manifest: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != ONNX_FORMAT \
            or manifest.get("format_version") != ONNX_FORMAT_VERSION:
        raise OnnxExportError(f"{path}: not an ONNX encoder directory of format "
                              f"{ONNX_FORMAT} v{ONNX_FORMAT_VERSION}")
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != {MODEL_FILE, TOKENIZER_FILE}:
        raise OnnxExportError(f"{path}: files must list {MODEL_FILE} and {TOKENIZER_FILE}, got {files!r}")
    for name, sha in files.items() if verify else ():
        got = sha256_file(Path(directory) / name) if (Path(directory) / name).is_file() else "missing"
        if got != sha:
            raise OnnxExportError(f"{Path(directory) / name}: sha256 {got[:12]} differs from the manifest's {str(sha)[:12]}")
    return manifest

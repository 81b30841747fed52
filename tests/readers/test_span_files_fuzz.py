"""Property tests of the span reader's file readers: the training-data reader
(``span_train.read_jsonl``: ValueError naming the file and line) and the reader-model manifest
(``span_model.read_manifest``: ReaderModelError naming the file)."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from readers import span_model
from readers.span_train import examples_from_records, read_jsonl

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
junk = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=6)
doc = st.fixed_dictionaries({}, optional={"text": st.text(max_size=20) | junk, "answer": st.text(max_size=5) | junk,
                                          "type": st.sampled_from(["correct", "misinfo", "noise"]) | junk})
rec = st.fixed_dictionaries({}, optional={"question": st.text(max_size=10) | junk,
                                          "documents": st.lists(doc | junk, max_size=3) | junk})
lines = st.builds(lambda r: json.dumps(r).encode(), rec | junk) | st.binary(max_size=40)


@given(lines=st.lists(lines, max_size=5))
@example(lines=[b"\xff\xfe"])       # UnicodeDecodeError escaped from the text-mode read
@example(lines=[b"[" * 100000])     # RecursionError escaped
@example(lines=[b'{"question": "q", "documents": [{"text": 5, "answer": "a", "type": "correct"}]}'])  # TypeError later
def test_read_jsonl_reads_or_raises_value_error_naming_file_and_line(lines, guarded):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "train.jsonl"
        path.write_bytes(b"\n".join(lines))
        with guarded(Path(d)) as opened:
            try:
                records = read_jsonl(path)
            except ValueError as err:
                assert str(err).startswith(f"{path}:"), err
                records = None
        assert set(opened) <= {str(path)}
    if records is not None:
        examples, skipped = examples_from_records(records)  # what training does next: no crash
        assert skipped >= 0 and all(e.question == records[e.qid]["question"] for e in examples)


manifests = st.fixed_dictionaries({}, optional={
    "format": st.just(span_model.FORMAT) | junk,
    "format_version": st.integers(-1, span_model.FORMAT_VERSION + 1) | junk,
    "files": st.fixed_dictionaries({span_model.WEIGHTS: st.just("GOOD") | junk}) | junk,
    "base_model": st.text(max_size=10) | junk,
})


@given(manifest=manifests | junk, raw=st.none() | st.binary(max_size=40), weights=st.booleans())
@example(manifest=None, raw=b"[" * 100000, weights=True)  # RecursionError escaped
def test_read_manifest_reads_or_raises_reader_model_error(manifest, raw, weights, guarded):
    with tempfile.TemporaryDirectory() as d:
        model = Path(d)
        payload = b"\x00weights"
        if weights:
            (model / span_model.WEIGHTS).write_bytes(payload)
        if isinstance(manifest, dict) and manifest.get("files", {}) == {span_model.WEIGHTS: "GOOD"}:
            manifest["files"] = {span_model.WEIGHTS: hashlib.sha256(payload).hexdigest()}
        text = raw if raw is not None else json.dumps(manifest).encode()
        (model / span_model.MANIFEST).write_bytes(text)
        with guarded(model) as opened:
            try:
                got = span_model.read_manifest(model)
            except span_model.ReaderModelError as err:
                assert str(model) in str(err)
                got = None
        assert set(opened) <= {str(model / span_model.MANIFEST), str(model / span_model.WEIGHTS)}
    if got is not None:
        assert got["format"] == span_model.FORMAT and weights

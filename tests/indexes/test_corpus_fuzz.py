"""Property tests of the corpus readers (JSONL, TSV, HF): any bytes either parse or raise a
CorpusError naming the file; nothing else escapes, nothing hangs, only the given file is read;
valid corpora round-trip through build/save/load with the same passages and search results.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from indexes.corpus import CorpusError, IngestStats, read_corpus

LIMIT = 300  # a small record limit so that oversized records are generated often

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=8)
fields = st.fixed_dictionaries({}, optional={"id": json_values | st.text(min_size=1, max_size=8),
                                             "text": json_values | st.text(max_size=60),
                                             "title": json_values | st.text(max_size=10)})
records = st.tuples(fields, st.dictionaries(st.text(max_size=6), json_values, max_size=2)).map(
    lambda t: {**t[1], **t[0]})


def _line(rec: dict, ascii_only: bool) -> bytes:
    return json.dumps(rec, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


lines = (st.builds(_line, records, st.booleans())
         | st.binary(max_size=80)
         | st.lists(st.text(max_size=30), min_size=1, max_size=4).map(lambda c: "\t".join(c).encode("utf-8", "surrogatepass"))
         | st.sampled_from([b'"', b"[" * 200, b"\x00" * 50, b"1" * 5000, b'{"id": "\\ud800", "text": "x"}',
                            b"\xef\xbb\xbf{}", b"a" * (LIMIT + 1), b"\r"]))
corpora = st.tuples(st.lists(lines, max_size=8), st.sampled_from([b"\n", b"\r\n"])).map(
    lambda t: t[1].join(t[0]))


def _check_outcome(path: Path, fmt: str, data: bytes, skip_bad: bool, guarded) -> list:
    path.write_bytes(data)
    (path.parent / "secret.jsonl").write_text('{"id": 1, "text": "do not read me"}\n')
    stats = IngestStats()
    with guarded(path.parent) as opened:
        try:
            got = list(read_corpus(path, fmt, skip_bad=skip_bad, stats=stats, max_record_bytes=LIMIT))
        except CorpusError as err:
            assert str(path) in str(err)
            assert err.line is not None or err.field is not None or err.problem
            got = None
    assert set(opened) <= {str(path)}, opened
    if got is not None:
        assert len({p.id for p in got}) == len(got) == stats.read > 0
        assert all(isinstance(p.text, str) and p.text.strip() for p in got)
        assert all(len(p.text.encode("utf-8")) <= LIMIT for p in got)
    return got


@given(data=corpora, skip_bad=st.booleans())
@example(data=b"[" * 200000, skip_bad=False)        # RecursionError inside json (was escaping)
@example(data=b'{"id": ' + b"1" * 5000 + b', "text": "x"}', skip_bad=False)  # int over 4300 digits
@example(data=b'{"id": "a", "text": "\\ud800"}', skip_bad=False)  # lone surrogate: store could not write it
@example(data=b"\x00" * 10000, skip_bad=True)       # a file of NUL bytes
@example(data=b"x" * 100000, skip_bad=True)         # one oversized line, no newline
def test_jsonl_any_bytes_parse_or_raise_corpus_error(data, skip_bad, guarded):
    with tempfile.TemporaryDirectory() as d:
        _check_outcome(Path(d) / "c.jsonl", "jsonl", data, skip_bad, guarded)


@given(data=corpora, skip_bad=st.booleans())
@example(data=b'1\t"' + b"x" * 200000 + b'"\tT', skip_bad=False)  # csv field limit (128 KiB) was escaping
@example(data=b'1\t"unclosed\tT\n2\tb\tc', skip_bad=False)
def test_tsv_any_bytes_parse_or_raise_corpus_error(data, skip_bad, guarded):
    with tempfile.TemporaryDirectory() as d:
        _check_outcome(Path(d) / "c.tsv", "tsv", data, skip_bad, guarded)


def test_tsv_large_field_within_limit_reads(tmp_path):
    text = "word " * 40_000  # 200 KB: over csv's default field limit, under the 1 MiB record limit
    (tmp_path / "c.tsv").write_text(f'1\t"{text}"\tT\n')
    (p,) = read_corpus(tmp_path / "c.tsv")
    assert p.text == text


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "sub", "is a directory"),
    (lambda d: d / "zeros.jsonl", "binary file (NUL byte at offset 0)"),
    (lambda d: d / "gz.jsonl", "binary file"),
])
def test_not_a_text_corpus_is_a_clear_error(tmp_path, make, words):
    import gzip

    (tmp_path / "sub").mkdir()
    (tmp_path / "zeros.jsonl").write_bytes(b"\x00" * 4096)
    (tmp_path / "gz.jsonl").write_bytes(gzip.compress(b'{"id": 1, "text": "x"}\n' * 50))
    path = make(tmp_path)
    with pytest.raises(CorpusError) as ei:
        list(read_corpus(path, "jsonl", skip_bad=True))
    assert words in str(ei.value) and str(path) in str(ei.value)


def test_directory_that_is_no_dataset_is_a_corpus_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CorpusError) as ei:  # datasets reads notes.txt as a text dataset: no id
        list(read_corpus(tmp_path))
    assert str(tmp_path) in str(ei.value) and "datasets" not in type(ei.value).__module__


def test_oversized_record_names_the_line_or_is_skipped(tmp_path):
    f = tmp_path / "c.jsonl"
    big = json.dumps({"id": "big", "text": "x " * 600_000})  # 1.2 MB > the 1 MiB default
    f.write_text('{"id": "a", "text": "alpha"}\n' + big + '\n{"id": "b", "text": "beta"}\n')
    with pytest.raises(CorpusError, match=r"line 2: record too large: over 1048576 bytes"):
        list(read_corpus(f))
    stats = IngestStats()
    assert [p.id for p in read_corpus(f, skip_bad=True, stats=stats)] == ["a", "b"]
    assert stats.skipped == {"oversized record": 1}
    assert [p.id for p in read_corpus(f, max_record_bytes=2_000_000)] == ["a", "big", "b"]


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_the_record_limit_counts_content_not_the_line_end(tmp_path, eol):
    """A CRLF line whose content was exactly the limit was 'too large'; the same line with LF passed."""
    rec = '{"id": "a", "text": "alpha"}'
    f = tmp_path / "c.jsonl"
    f.write_bytes(('{"id": "b", "text": "b"}' + eol + rec + eol).encode())
    assert [p.id for p in read_corpus(f, max_record_bytes=len(rec))] == ["b", "a"]
    assert [p.id for p in read_corpus(f, max_record_bytes=len(rec) - 1, skip_bad=True)] == ["b"]
    with pytest.raises(CorpusError, match=f"line 2: record too large: over {len(rec) - 1} bytes"):
        list(read_corpus(f, max_record_bytes=len(rec) - 1))


# --- round trip: valid corpora build, save and load to the same passages and search results ---

words = st.sampled_from("alpha beta gamma delta river castle queen moon 1998 paris ångström café".split())
texts = st.lists(words, min_size=1, max_size=12).map(" ".join)
titles = st.lists(words, max_size=3).map(" ".join)
valid = st.lists(st.tuples(texts, titles, st.dictionaries(st.sampled_from(["url", "year"]), scalars, max_size=2)),
                 min_size=1, max_size=25)


def _write(path: Path, fmt: str, rows: list[tuple[str, str, dict]]) -> None:
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"id": f"p{i}", "title": t, "text": x, **m}) + "\n"
                                for i, (x, t, m) in enumerate(rows)), encoding="utf-8")
        return
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["id", "text", "title"])
    w.writerows([f"p{i}", x, t] for i, (x, t, _) in enumerate(rows))
    path.write_text(buf.getvalue(), encoding="utf-8")


def _same_meta(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (isinstance(a[k], float) and math.isclose(a[k], b[k])) or a[k] == b[k] for k in a)


@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(rows=valid, fmt=st.sampled_from(["jsonl", "tsv"]), query=st.lists(words, min_size=1, max_size=3))
def test_bm25_build_save_load_round_trips(rows, fmt, query):
    import indexes
    from indexes.bm25 import build_bm25

    with tempfile.TemporaryDirectory() as d:
        corpus = Path(d) / f"c.{fmt}"
        _write(corpus, fmt, rows)
        read = list(read_corpus(corpus))
        assert [(p.id, p.text, p.title) for p in read] == [(f"p{i}", x, t) for i, (x, t, _) in enumerate(rows)]
        if fmt == "jsonl":
            assert all(_same_meta(p.meta, m) for p, (_, _, m) in zip(read, rows))
        out = indexes.build(corpus, Path(d) / "idx", fmt=fmt, dense=False, progress=False)
        idx = indexes.load(out)
        assert list(idx.store) == read and idx.store.get(range(len(read))) == read
        ref = build_bm25(f"{p.title} {p.text}" for p in read)
        k = min(5, len(read))
        q = " ".join(query)
        np.testing.assert_allclose(idx.bm25.get_scores(q), ref.get_scores(q), rtol=1e-5)
        (got_rows,), (got_scores,) = idx.bm25.search([q], k)
        (ref_rows,), (ref_scores,) = ref.search([q], k)
        np.testing.assert_allclose(got_scores, ref_scores, rtol=1e-5)


@pytest.mark.slow
@settings(max_examples=max(3, settings.default.max_examples // 30))
@given(rows=valid)
def test_dense_build_save_load_round_trips(rows, encoder):
    import indexes
    from indexes.dense import passage_text

    with tempfile.TemporaryDirectory() as d:
        corpus = Path(d) / "c.jsonl"
        _write(corpus, "jsonl", rows)
        idx = indexes.load(indexes.build(corpus, Path(d) / "idx", encoder=encoder, progress=False))
        texts = [passage_text(p) for p in idx.store]
        q = encoder.encode(texts[:3])
        scores, _ = idx.dense.search(q, 1)
        brute = encoder.encode(texts) @ q.T
        np.testing.assert_allclose(np.sort(scores[:, 0]), np.sort(brute.max(axis=0)), rtol=1e-4, atol=1e-5)

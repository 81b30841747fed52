from __future__ import annotations

import json

import pytest

from indexes.corpus import CorpusError, IngestStats, read_corpus


def write(path, lines: list[bytes | str]):
    path.write_bytes(b"".join(x if isinstance(x, bytes) else x.encode() for x in lines))
    return path


def test_jsonl_real_sample_round_trip(sample_corpus, sample_records):
    got = list(read_corpus(sample_corpus))
    assert [p.id for p in got] == [r["id"] for r in sample_records]
    assert got[0].title == sample_records[0]["title"] and got[0].text == sample_records[0]["text"]


def test_extra_jsonl_fields_become_metadata(tmp_path):
    f = write(tmp_path / "c.jsonl", ['{"id": 1, "title": "T", "text": "x y", "url": "u", "year": 2020}\n'])
    (p,) = read_corpus(f)
    assert p.id == "1" and p.meta == {"url": "u", "year": 2020}


def test_tsv_dpr_layout_with_header_and_quotes(tmp_path, sample_records):
    rows = ["id\ttext\ttitle\n"]
    for r in sample_records[:20]:
        text = r["text"].replace('"', '""')
        rows.append(f'{r["id"]}\t"{text}"\t{r["title"]}\n')
    got = list(read_corpus(write(tmp_path / "psgs.tsv", rows)))
    assert [p.text for p in got] == [r["text"] for r in sample_records[:20]]
    assert [p.title for p in got] == [r["title"] for r in sample_records[:20]]


def test_hf_dataset_save_to_disk_and_parquet(tmp_path, sample_records):
    import datasets

    ds = datasets.Dataset.from_list([{**r, "source": "wiki"} for r in sample_records[:30]])
    ds.save_to_disk(str(tmp_path / "ds"))
    got = list(read_corpus(tmp_path / "ds"))
    assert [p.id for p in got] == [r["id"] for r in sample_records[:30]]
    assert got[0].meta == {"source": "wiki"}
    ds.to_parquet(str(tmp_path / "c.parquet"))
    assert [p.id for p in read_corpus(tmp_path / "c.parquet")] == [r["id"] for r in sample_records[:30]]


def test_csv_columns_are_read_as_written(tmp_path):
    """Type guessing read the ids 007 and 7 as one integer (a 'duplicate id'), 0012 as 12, 1.0 as a
    float (refused), and the text NA as missing."""
    f = write(tmp_path / "ids.csv", ["id,title,text,year\n", "007,A,alpha,1999\n", "7,B,NA,2000\n",
                                     "0012,C,gamma,\n", "1.0,D,delta,1e3\n"])
    got = list(read_corpus(f))
    assert [(p.id, p.text) for p in got] == [("007", "alpha"), ("7", "NA"), ("0012", "gamma"), ("1.0", "delta")]
    assert [p.meta for p in got] == [{"year": "1999"}, {"year": "2000"}, {"year": ""}, {"year": "1e3"}]


@pytest.mark.parametrize("name, lines", [
    ("c.jsonl", ['{"id": "1", "title": "A", "text": "alpha"}\n', '{"id": "2", "title": "B", "text": "beta"}\n']),
    ("c.tsv", ["id\ttext\ttitle\n", "1\talpha\tA\n", "2\tbeta\tB\n"]),
    ("c.csv", ["id,title,text\n", "1,A,alpha\n", "2,B,beta\n"]),
])
def test_a_byte_order_mark_is_dropped(tmp_path, name, lines):
    """A TSV header after a BOM was indexed as a passage (id '\\ufeffid'); a JSONL file's first
    record was invalid JSON, so --skip-bad dropped it silently."""
    got = list(read_corpus(write(tmp_path / name, [b"\xef\xbb\xbf", *lines])))
    assert [(p.id, p.title, p.text) for p in got] == [("1", "A", "alpha"), ("2", "B", "beta")]


GOOD = '{"id": "a", "title": "A", "text": "alpha"}\n'


@pytest.mark.parametrize("bad, line, field, words", [
    ('{"id": "b", "title": "B"}\n', 2, "text", "missing"),
    ('{"id": "b", "title": "B", "text": "  "}\n', 2, "text", "empty"),
    ('{"id": "a", "title": "B", "text": "beta"}\n', 2, "id", "duplicate"),
    ('{"id": "b", "text": "beta"\n', 2, None, "invalid JSON"),
    (b'{"id": "b", "text": "caf\xe9"}\n', 2, None, "non-UTF-8 byte 0xe9"),
    ('{"title": "B", "text": "beta"}\n', 2, "id", "missing"),
    ('["b", "beta"]\n', 2, None, "expected a JSON object"),
])
def test_bad_lines_name_file_line_and_field(tmp_path, bad, line, field, words):
    f = write(tmp_path / "c.jsonl", [GOOD, bad, GOOD.replace('"a"', '"c"')])
    with pytest.raises(CorpusError) as ei:
        list(read_corpus(f))
    err = ei.value
    assert (err.line, err.field) == (line, field)
    assert str(f) in str(err) and f"line {line}" in str(err) and words in str(err)


def test_skip_bad_skips_and_counts(tmp_path):
    f = write(tmp_path / "c.jsonl", [GOOD, '{"id": "b"}\n', b'\xff\n', '{bad\n', GOOD,
                                     '{"id": "c", "text": "gamma"}\n'])
    stats = IngestStats()
    got = list(read_corpus(f, skip_bad=True, stats=stats))
    assert [p.id for p in got] == ["a", "c"]
    assert stats.read == 2 and stats.n_skipped == 4
    assert stats.skipped == {"bad text": 1, "non-UTF-8": 1, "invalid JSON": 1, "duplicate id": 1}


@pytest.mark.parametrize("content", ["", "\n\n", '{"id": "x", "text": ""}\n'])
def test_empty_corpus_is_an_error_even_with_skip_bad(tmp_path, content):
    f = write(tmp_path / "c.jsonl", [content])
    with pytest.raises(CorpusError, match="empty corpus"):
        list(read_corpus(f, skip_bad=True))


def test_tsv_wrong_column_count(tmp_path):
    f = write(tmp_path / "c.tsv", ["1\tsome text\tTitle\n", "2\tonly two\n"])
    with pytest.raises(CorpusError, match=r"line 2: expected 3 tab-separated columns"):
        list(read_corpus(f))


def test_reading_streams(tmp_path):
    """The reader is lazy: a bad line far down is only met when reached."""
    f = write(tmp_path / "c.jsonl", [GOOD] + [json.dumps({"id": i, "text": "t"}) + "\n" for i in range(5)]
              + ["{broken\n"])
    it = read_corpus(f)
    assert next(it).id == "a"
    with pytest.raises(CorpusError, match="line 7"):
        list(it)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        list(read_corpus(tmp_path / "nope.jsonl"))
    (tmp_path / "c.xml").write_text("<x/>")
    with pytest.raises(CorpusError, match="unknown corpus format"):
        list(read_corpus(tmp_path / "c.xml"))

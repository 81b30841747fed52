"""The Ray engine builds the index the local engine builds (issue 17, part 1).

On the 300 real passages of the shared sample, ``ambigrag index build --engine ray --workers 2``
on a 2-CPU local Ray cluster must give the same top-10 ids as the local build for BM25, dense
and hybrid search on 20 AmbigQA dev questions, BM25 files byte-identical (exact global df,
N and avgdl), and a manifest recording the shards. Skipped when Ray is not installed.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import indexes
from indexes.bm25 import BM25Index
from indexes.tokenize import Tokenizer
from rag.cli import main
from retrievers.factory import retriever_for

SAME_FILES = ("passages.jsonl", "passages_offsets.npy", *BM25Index.FILES)


@pytest.fixture(scope="module")
def ray_index_dir(sample_corpus, tmp_path_factory):
    pytest.importorskip("ray.data", reason="the ray extra is not installed")
    out = tmp_path_factory.mktemp("ray") / "idx"
    assert main(["-q", "index", "build", str(sample_corpus), "--out", str(out), "--engine", "ray",
                 "--workers", "2", "--device", "cpu"]) == 0
    return out


@pytest.fixture(scope="module")
def ray_index(ray_index_dir):
    return indexes.load(ray_index_dir, verify="full", device="cpu")


def test_manifest_records_the_shards_and_the_bm25_files_are_the_local_ones(ray_index, small_index,
                                                                           sample_records):
    m, local = ray_index.manifest, small_index.manifest
    assert m["n_docs"] == 300 and m["kinds"] == ["bm25", "dense"] and m["dense"]["index_type"] == "flat"
    d = m["distributed"]
    assert (d["engine"], d["cluster"], d["workers"], d["n_shards"]) == ("ray", "local (num_cpus=2)", 2, 2)
    assert d["ray_version"] == __import__("ray").__version__
    # 8 blocks of 38 rows (block_rows(300, 2, 64)), four to a shard
    assert [s["rows"] for s in d["shards"]] == [[0, 152], [152, 300]]
    tok = Tokenizer()
    for shard in d["shards"]:
        lo, hi = shard["rows"]
        tokens = [tok.tokenize(f"{r.get('title') or ''} {r['text']}") for r in sample_records[lo:hi]]
        assert shard["tokens"] == sum(map(len, tokens)) and shard["n_terms"] == len(set().union(*tokens))
    assert d["dense"]["actors"] == 2 and d["dense"]["device"] == "cpu"
    assert "distributed" not in local
    # exact global statistics: the BM25 arrays and vocabulary are the local build's, byte for byte
    assert m["bm25"] == local["bm25"]
    assert {f: m["files"][f] for f in SAME_FILES} == {f: local["files"][f] for f in SAME_FILES}
    assert m["dense"] == local["dense"]


def test_same_top10_for_bm25_dense_and_hybrid(ray_index, small_index, dev_questions, encoder):
    queries = [q["question"] for q in dev_questions[:20]]
    for mode in ("bm25", "dense", "hybrid"):
        want = retriever_for(small_index, mode, encoder=encoder).retrieve(queries, 10)
        got = retriever_for(ray_index, mode, encoder=encoder).retrieve(queries, 10)
        for q, w, g in zip(queries, want, got):
            assert [h.passage.id for h in g] == [h.passage.id for h in w], (mode, q)
            scores_w, scores_g = [h.score for h in w], [h.score for h in g]
            if mode == "bm25":
                assert scores_g == scores_w, q
            else:
                np.testing.assert_allclose(scores_g, scores_w, rtol=0, atol=1e-5, err_msg=f"{mode}: {q}")
        if mode != "bm25":
            assert [len(hits) for hits in got] == [10] * 20
    rows = list(range(300))
    np.testing.assert_allclose(ray_index.dense.vectors(rows), small_index.dense.vectors(rows), rtol=0, atol=1e-5)


def test_the_ray_engine_validates_the_corpus_as_the_local_one(tmp_path, capsys):
    pytest.importorskip("ray.data", reason="the ray extra is not installed")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    assert main(["-q", "index", "build", str(bad), "--out", str(tmp_path / "i"), "--engine", "ray"]) == 2
    assert "bad.jsonl, line 2: field 'id': duplicate id 'a'" in capsys.readouterr().err
    assert not (tmp_path / "i").exists()


def test_without_ray_the_error_names_the_extra(tmp_path, capsys, monkeypatch, sample_corpus):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if not installed
    out = tmp_path / "i"
    assert main(["-q", "index", "build", str(sample_corpus), "--out", str(out), "--engine", "ray"]) == 2
    assert "the ray engine needs Ray Data (ray is missing): pip install -e '.[ray]'" in capsys.readouterr().err
    assert not out.exists()


def test_address_needs_the_ray_engine(tmp_path, capsys, sample_corpus):
    assert main(["-q", "index", "build", str(sample_corpus), "--out", str(tmp_path / "i"),
                 "--address", "ray://head:10001"]) == 2
    assert "--address needs --engine ray" in capsys.readouterr().err



def test_an_unreachable_cluster_is_refused_before_the_corpus_is_read(sample_corpus, tmp_path, capsys):
    """--address 127.0.0.1:1 read the whole corpus, then waited minutes on Ray's retries."""
    pytest.importorskip("ray", reason="the ray extra is not installed")
    import socket

    with socket.socket() as s:   # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["-q", "index", "build", str(sample_corpus), "--out", str(tmp_path / "i"), "--engine", "ray",
                 "--address", f"127.0.0.1:{port}", "--no-dense"]) == 2
    assert f"--address 127.0.0.1:{port}: cannot connect (Connection refused)" in capsys.readouterr().err
    assert not (tmp_path / "i").exists()

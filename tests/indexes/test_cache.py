"""Checksums are verified once per file state: a stamp skips hashing, a changed file is caught."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import indexes.cache
import indexes.checks
from indexes import IndexLoadError, build, load
from indexes.cache import RACY_NS, Stamps
from rag.cli import main
from rag.defaults import corpus_digest


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AMBIGRAG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _counting(monkeypatch, module) -> list[str]:
    hashed: list[str] = []
    real = module.sha256_file
    monkeypatch.setattr(module, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    return hashed


def _settle() -> None:
    time.sleep(RACY_NS / 1e9 + 0.05)  # a stamp taken too soon after a write is not trusted


@pytest.fixture
def flat(small_index, tmp_path) -> Path:
    d = tmp_path / "idx"
    shutil.copytree(small_index.files_dir, d)
    _settle()
    return d


def test_second_load_skips_hashing_and_full_always_hashes(flat, cache, monkeypatch):
    hashed = _counting(monkeypatch, indexes.checks)
    load(flat)
    listed = sorted(json.loads((flat / "manifest.json").read_text())["files"])
    assert sorted(hashed) == listed
    hashed.clear()
    assert load(flat).manifest["n_docs"] == 300 and hashed == []
    assert load(flat, verify="full") and sorted(hashed) == listed
    hashed.clear()
    assert load(flat, verify="none") and hashed == []


def test_edited_byte_with_same_size_and_restored_mtime_is_caught(flat, cache, monkeypatch):
    load(flat)
    hashed = _counting(monkeypatch, indexes.checks)
    path = flat / "passages.jsonl"  # sixth of the seven files, in manifest order
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.seek(300)
        byte = f.read(1)
        f.seek(300)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as stamped; ctime moved on
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns
    with pytest.raises(IndexLoadError, match="passages.jsonl is corrupt: sha256"):
        load(flat)
    assert hashed == ["passages.jsonl"]  # the five files before it were not hashed again


def test_replaced_file_with_same_bytes_and_touched_file_are_hashed_once_more(flat, cache, monkeypatch):
    load(flat)
    hashed = _counting(monkeypatch, indexes.checks)
    vocab = flat / "bm25_vocab.json"
    shutil.copy(vocab, flat / "tmp.json")
    os.replace(flat / "tmp.json", vocab)  # new inode
    os.utime(flat / "passages.jsonl")  # new mtime
    _settle()
    load(flat)
    assert sorted(hashed) == ["bm25_vocab.json", "passages.jsonl"]
    hashed.clear()
    load(flat)
    assert hashed == []


def test_build_stamps_the_files_it_hashed(sample_corpus, tmp_path, cache):
    out = build(sample_corpus, tmp_path / "bm", dense=False, progress=False)
    stamps = json.loads((cache / "verified.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    version = os.path.realpath(out / "current")
    assert {os.path.join(version, n): d for n, d in manifest["files"].items()} == \
        {k: v["sha256"] for k, v in stamps.items() if k.startswith(version)}


def test_corrupt_stamp_file_only_costs_hashing(flat, cache, monkeypatch):
    load(flat)
    (cache / "verified.json").write_text("{not json")
    hashed = _counting(monkeypatch, indexes.checks)
    assert load(flat).manifest["n_docs"] == 300 and len(hashed) == 7


def test_corpus_digest_is_stamped_and_still_detects_a_change(sample_corpus, tmp_path, cache, monkeypatch):
    corpus = tmp_path / "corpus.jsonl"
    shutil.copy(sample_corpus, corpus)
    _settle()
    hashed = _counting(monkeypatch, indexes.cache)
    first = corpus_digest(corpus)
    assert corpus_digest(corpus) == first and hashed == ["corpus.jsonl"]
    assert corpus_digest(corpus, stamps=False) == first and len(hashed) == 2
    data = bytearray(corpus.read_bytes())
    data[5] = ord("Z") if data[5] != ord("Z") else ord("Y")
    st = os.stat(corpus)
    corpus.write_bytes(bytes(data))
    os.utime(corpus, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert corpus_digest(corpus) != first and len(hashed) == 3


def test_racy_stamp_is_not_trusted(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    stamps = Stamps(tmp_path / "stamps.json")
    st = os.stat(f)
    stamps.remember(str(f), st, "x" * 64)
    assert stamps.lookup(str(f), st) is None  # stamped within RACY_NS of the write
    _settle()
    stamps.remember(str(f), st, "x" * 64)
    stamps.save()
    assert Stamps(tmp_path / "stamps.json").lookup(str(f), os.stat(f)) == "x" * 64


def test_index_verify_cli(flat, cache, capsys):
    assert main(["-q", "index", "verify", str(flat)]) == 0
    out = capsys.readouterr().out
    assert "OK    passages.jsonl" in out and "7 of 7 files OK" in out
    with open(flat / "dense.faiss", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x00\x00\x00\x01")
    assert main(["-q", "index", "verify", str(flat)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  dense.faiss:" in out and "dense.faiss is corrupt" in out and "6 of 7 files OK, 1 FAILED" in out
    assert main(["-q", "index", "verify", str(flat.parent / "nothing")]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{flat.parent / 'nothing'} does not exist")
    (flat / "manifest.json").write_text("{broken")     # a damaged index, not a wrong command: exit 1 (was 2)
    assert main(["-q", "index", "verify", str(flat)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  manifest.json: " in out and "is corrupt: JSONDecodeError" in out and "0 of 1 files OK, 1 FAILED" in out


@pytest.mark.parametrize("break_it, message", [
    (lambda m: m.update(n_docs=m["n_docs"] + 1), "passages_offsets.npy: array of shape"),
    (lambda m: m["files"].pop("dense.faiss"), "dense.faiss"),
    (lambda m: m["bm25"].update(n_terms=m["bm25"]["n_terms"] + 1), "bm25_indptr.npy: array of shape"),  # was OK
])
def test_index_verify_checks_what_loading_checks(flat, cache, capsys, break_it, message):
    """A manifest with a wrong n_docs, or one that leaves dense.faiss out, passed verify with
    every hash OK while search refused the index."""
    m = json.loads((flat / "manifest.json").read_text())
    break_it(m)
    (flat / "manifest.json").write_text(json.dumps(m))
    assert main(["-q", "index", "verify", str(flat)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  structure: " in out and message in out.split("FAIL  structure: ")[1]
    assert out.strip().endswith("; structure FAILED")

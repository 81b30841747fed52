"""A hostile index directory is refused quickly, with an IndexLoadError naming the entry.

Each case edits a flat copy of the small real index as an attacker would: the manifest's
checksums are recomputed to match, so only the path and size rules can refuse it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import struct
from pathlib import Path

import numpy as np
import pytest

import indexes.checks
from indexes import IndexLoadError, load
from indexes.index import MANIFEST


@contextlib.contextmanager
def _deadline(seconds: float):
    """Turn a hang into a failure: raise TimeoutError after ``seconds``."""
    def _raise(*_):
        raise TimeoutError(f"still loading after {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def hostile(small_index, tmp_path, monkeypatch):
    """A flat copy of the small index, and a counter of the files hashed while loading it."""
    d = tmp_path / "idx"
    shutil.copytree(small_index.files_dir, d)
    monkeypatch.setenv("AMBIGRAG_CACHE", str(tmp_path / "cache"))
    hashed: list[str] = []
    real = indexes.checks.sha256_file
    monkeypatch.setattr(indexes.checks, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    return d, hashed


def _edit(d: Path, **changes) -> dict:
    m = json.loads((d / MANIFEST).read_text())
    for key, value in changes.items():
        if value is None:
            del m[key]
        else:
            m[key] = value
    (d / MANIFEST).write_text(json.dumps(m))
    return m


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(d: Path, hashed: list[str], match: str) -> None:
    with _deadline(10), pytest.raises(IndexLoadError, match=match):
        load(d)
    assert hashed == []  # refused before any file was hashed or read


def test_parent_path_entry_is_refused(hostile, tmp_path):
    d, hashed = hostile
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    files = json.loads((d / MANIFEST).read_text())["files"]
    _edit(d, files={"../secret.txt": _sha(secret), **files})
    _refused(d, hashed, r"files entry '\.\./secret\.txt' contains '\.\.'")
    _edit(d, files={"../../../etc/hostname": "0" * 64, **files})
    _refused(d, hashed, r"'\.\./\.\./\.\./etc/hostname' contains '\.\.'")


def test_absolute_entry_and_dev_zero_are_refused_without_reading(hostile):
    d, hashed = hostile
    files = json.loads((d / MANIFEST).read_text())["files"]
    _edit(d, files={**files, "/dev/zero": "0" * 64})
    _refused(d, hashed, r"files entry '/dev/zero' is an absolute path")


def test_symlink_leaving_the_directory_is_refused(hostile, tmp_path):
    d, hashed = hostile
    outside = tmp_path / "planted.json"
    shutil.copy(d / "bm25_vocab.json", outside)
    (d / "bm25_vocab.json").unlink()
    (d / "bm25_vocab.json").symlink_to(outside)  # same bytes, so the checksum alone would pass
    _refused(d, hashed, r"'bm25_vocab.json' \(a symlink\) resolves to .*planted.json, outside the index")
    (d / "bm25_vocab.json").unlink()
    shutil.copy(outside, d / "bm25_vocab.json")
    (d / "zero").symlink_to("/dev/zero")
    _edit(d, files={"zero": "0" * 64, **json.loads((d / MANIFEST).read_text())["files"]})
    _refused(d, hashed, r"'zero' \(a symlink\) resolves to /dev/zero, outside the index directory")


def test_symlink_inside_the_directory_is_allowed(hostile):
    d, hashed = hostile
    os.replace(d / "bm25_vocab.json", d / "vocab_copy.json")
    (d / "bm25_vocab.json").symlink_to("vocab_copy.json")
    assert load(d).bm25.terms[:3] == json.loads((d / "vocab_copy.json").read_text())[:3]
    assert "vocab_copy.json" in hashed  # hashed at its real path


def test_fifo_and_directory_entries_are_refused_without_hanging(hostile):
    d, hashed = hostile
    os.mkfifo(d / "pipe")  # opening a FIFO for reading blocks until a writer comes
    files = json.loads((d / MANIFEST).read_text())["files"]
    _edit(d, files={"pipe": "0" * 64, **files})
    _refused(d, hashed, r"files entry 'pipe' is not a regular file")
    (d / "sub").mkdir()
    _edit(d, files={"sub": "0" * 64, **files})
    _refused(d, hashed, r"files entry 'sub' is not a regular file")


def test_manifest_without_files_map_is_refused(hostile):
    d, hashed = hostile
    with open(d / "passages.jsonl", "r+b") as f:  # an edited passage store ...
        f.seek(10)
        f.write(b"X")
    _edit(d, files=None)  # ... and the checksums removed
    _refused(d, hashed, r"manifest has no 'files' map of checksums")
    _edit(d, files={"passages.jsonl": "not-a-digest"})
    _refused(d, hashed, r"files entry 'passages.jsonl' has no sha256 checksum")


def test_a_file_read_but_not_listed_is_refused(hostile):
    d, hashed = hostile
    files = json.loads((d / MANIFEST).read_text())["files"]
    del files["passages_offsets.npy"]
    _edit(d, files=files)
    with pytest.raises(IndexLoadError, match=r"the loader reads passages_offsets.npy but the manifest does not list it"):
        load(d)


def test_manifest_that_is_not_a_regular_file_is_refused(hostile):
    d, hashed = hostile
    (d / MANIFEST).unlink()
    (d / MANIFEST).symlink_to("/dev/zero")
    _refused(d, hashed, r"manifest 'manifest.json' \(a symlink\) resolves to /dev/zero")


def test_sizes_are_checked_against_the_manifest_before_allocating(hostile):
    d, hashed = hostile
    m = _edit(d, n_docs=10**12)
    with _deadline(10), pytest.raises(IndexLoadError, match=r"passages_offsets.npy: array of shape \(301,\).*"
                                                            r"implies 1000000000001 entries"):
        load(d)
    _edit(d, n_docs=300, bm25={**m["bm25"], "nnz": 10**12})
    with _deadline(10), pytest.raises(IndexLoadError, match=r"bm25_data.npy: array of shape .*implies 1000000000000"):
        load(d)


def test_npy_header_claiming_a_huge_array_is_refused(hostile):
    d, hashed = hostile
    path = d / "passages_offsets.npy"
    data = np.load(path).tobytes()
    with open(path, "wb") as f:  # a valid header claiming 10^10 offsets over the 301 real ones
        np.lib.format.write_array_header_1_0(f, {"descr": "<i8", "fortran_order": False, "shape": (10**10,)})
        f.write(data)
    m = json.loads((d / MANIFEST).read_text())
    _edit(d, files={**m["files"], "passages_offsets.npy": _sha(path)}, n_docs=10**10 - 1)
    with _deadline(10), pytest.raises(IndexLoadError, match=r"passages_offsets.npy: not a readable .npy array"):
        load(d)


def test_offsets_that_do_not_match_the_store_are_refused(hostile):
    d, hashed = hostile
    offs = np.load(d / "passages_offsets.npy")
    offs[-1] += 10**9  # would ask pread for a gigabyte
    np.save(d / "passages_offsets.npy", offs)
    m = json.loads((d / MANIFEST).read_text())
    _edit(d, files={**m["files"], "passages_offsets.npy": _sha(d / "passages_offsets.npy")})
    with pytest.raises(IndexLoadError, match=r"offsets must run from 0 to the size of passages.jsonl"):
        load(d)


def test_faiss_header_disagreeing_with_manifest_is_refused(hostile):
    d, hashed = hostile
    path = d / "dense.faiss"
    raw = bytearray(path.read_bytes())
    raw[8:16] = struct.pack("<q", 10**12)  # ntotal in the FAISS header
    path.write_bytes(bytes(raw))
    m = json.loads((d / MANIFEST).read_text())
    _edit(d, files={**m["files"], "dense.faiss": _sha(path)})
    with _deadline(10), pytest.raises(IndexLoadError, match=r"FAISS header says dim 384 and 1000000000000 vectors; "
                                                            r"the manifest says dim 384 and 300 documents"):
        load(d)


def test_unsafe_entries_are_refused_even_without_hashing(hostile):
    d, hashed = hostile
    files = json.loads((d / MANIFEST).read_text())["files"]
    _edit(d, files={**files, "/etc/hostname": "0" * 64})
    with pytest.raises(IndexLoadError, match="is an absolute path"):
        load(d, verify=False)

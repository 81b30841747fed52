from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import indexes
from indexes import IndexLoadError
from indexes.index import FORMAT_VERSION, MANIFEST, build, load

QUERIES = ["who won the world series", "rainbow six siege maps", "capital of australia"]


def test_manifest_records_what_the_issue_asks(small_index):
    m = small_index.manifest
    assert m["format"] == "ambigrag-index" and m["format_version"] == FORMAT_VERSION
    from rag import __version__

    assert m["package_version"] == __version__ and m["kinds"] == ["bm25", "dense"] and m["n_docs"] == 300
    assert m["dense"]["encoder"] == "sentence-transformers/all-MiniLM-L6-v2" and m["dense"]["dim"] == 384
    assert m["dense"]["metric"] == "inner_product" and m["dense"]["normalized"] is True
    assert m["dense"]["index_type"] == "flat"
    assert m["bm25"]["tokenizer"]["stopwords"] == "en" and m["bm25"]["params"]["k1"] == 1.5
    files = set(m["files"])
    assert {"passages.jsonl", "passages_offsets.npy", "dense.faiss", "bm25_vocab.json"} <= files
    assert all(len(d) == 64 for d in m["files"].values())
    assert not any(f.endswith((".pkl", ".pickle")) for f in os.listdir(small_index.path))


def test_save_load_round_trip_gives_identical_results(small_index, sample_records, encoder, tmp_path):
    assert [p.id for p in small_index.store.get([0, 299])] == [sample_records[0]["id"], sample_records[299]["id"]]
    copy = tmp_path / "copy"
    shutil.copytree(small_index.path, copy)
    again = load(copy, encoder=encoder)
    s1, r1 = small_index.bm25.search(QUERIES, 10)
    s2, r2 = again.bm25.search(QUERIES, 10)
    for a, b in zip(r1, r2):
        assert a.tolist() == b.tolist()
    q = encoder.encode(QUERIES)
    d1, dr1 = small_index.dense.search(q, 10)
    d2, dr2 = again.dense.search(q, 10)
    assert dr1.tolist() == dr2.tolist() and np.allclose(d1, d2)
    # the dense index holds the real embeddings of the passages
    p0 = small_index.store.get([0])[0]
    np.testing.assert_allclose(small_index.dense.vectors([0])[0],
                               encoder.encode([f"{p0.title}. {p0.text}"])[0], atol=1e-5)


def _copy(small_index, tmp_path) -> Path:
    """A flat copy of the current version (the layout written before versions; still loads)."""
    dst = tmp_path / "idx"
    shutil.copytree(small_index.files_dir, dst)
    return dst


def test_corrupt_file_is_refused(small_index, tmp_path):
    d = _copy(small_index, tmp_path)
    with open(d / "bm25_data.npy", "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02")
    with pytest.raises(IndexLoadError, match=r"bm25_data.npy is corrupt: sha256"):
        load(d)


def test_missing_file_and_missing_or_bad_manifest(small_index, tmp_path):
    d = _copy(small_index, tmp_path)
    (d / "dense.faiss").unlink()
    with pytest.raises(IndexLoadError, match="dense.faiss listed in the manifest is missing"):
        load(d)
    (d / MANIFEST).write_text("{not json")
    with pytest.raises(IndexLoadError, match="corrupt"):
        load(d)
    (d / MANIFEST).unlink()
    with pytest.raises(IndexLoadError, match="not an ambigrag index"):
        load(d)


def test_newer_format_is_refused(small_index, tmp_path):
    d = _copy(small_index, tmp_path)
    m = json.loads((d / MANIFEST).read_text())
    m["format_version"] = FORMAT_VERSION + 1
    (d / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(IndexLoadError, match=f"format version {FORMAT_VERSION + 1} is newer"):
        load(d)


class _Enc:
    def __init__(self, id, dim):
        self.id, self.dim = id, dim


def test_encoder_and_dimension_mismatch_name_both_values(small_index):
    with pytest.raises(IndexLoadError, match=r"built with 'sentence-transformers/all-MiniLM-L6-v2' "
                                             r"\(dim 384\), got 'intfloat/e5-small'"):
        load(small_index.path, encoder="intfloat/e5-small", verify=False)
    with pytest.raises(IndexLoadError, match=r"index has dim 384, encoder .* gives 768"):
        load(small_index.path, encoder=_Enc("sentence-transformers/all-MiniLM-L6-v2", 768), verify=False)
    # the short name sentence-transformers (and --encoder) accept was refused as a mismatch
    assert load(small_index.path, encoder="all-MiniLM-L6-v2", verify=False).dense is not None


def test_refuses_to_replace_a_directory_that_is_not_an_index(sample_corpus, tmp_path):
    d = tmp_path / "precious"
    d.mkdir()
    (d / "thesis.txt").write_text("do not delete")
    with pytest.raises(FileExistsError, match="not an ambigrag index"):
        build(sample_corpus, d, dense=False, progress=False)
    assert (d / "thesis.txt").read_text() == "do not delete"


@pytest.mark.parametrize("make", ["manifest", "current", "version", "pointer-elsewhere"])
def test_a_folder_that_only_has_an_index_like_name_is_not_replaced(sample_corpus, tmp_path, make):
    """A folder with another program's manifest.json (a web app's), a `current` or `v-2` folder
    counted as an index: the build deleted the files that manifest listed, `current/` and `v-2/`."""
    d = tmp_path / "project"
    d.mkdir()
    (d / "data.csv").write_text("precious")
    if make == "manifest":
        (d / "manifest.json").write_text('{"name": "my app", "files": {"data.csv": "x"}}')
    elif make == "current":
        (d / "current").mkdir()
        (d / "current" / "thesis.tex").write_text("precious")
    elif make == "version":
        (d / "v-2").mkdir()
        (d / "v-2" / "r.bin").write_text("precious")
    else:
        os.symlink("../elsewhere", d / "current")
    before = sorted(str(p.relative_to(d)) for p in d.rglob("*"))
    with pytest.raises(FileExistsError, match="not an ambigrag index"):
        build(sample_corpus, d, dense=False, progress=False)
    assert sorted(str(p.relative_to(d)) for p in d.rglob("*")) == before


def test_a_name_too_long_for_a_path_is_no_index():
    """search tests its query as a path (a missing query); a query over 255 bytes raised "file
    name too long" (exit 1) once is_index looked for a link."""
    from indexes.layout import is_index

    assert is_index(Path("who won the election " * 15 + "?")) is False


def test_rebuild_replaces_atomically_and_bm25_only(sample_corpus, tmp_path):
    out = tmp_path / "bm"
    build(sample_corpus, out, dense=False, progress=False)
    first = load(out)
    assert first.kinds == ["bm25"] and first.dense is None
    build(sample_corpus, out, dense=False, progress=False)
    second = load(out)
    assert second.manifest["n_docs"] == 300 and second.files_dir != first.files_dir
    assert [p.name for p in tmp_path.iterdir()] == ["bm"]  # no temp or old dirs left behind
    assert sorted(p.name for p in out.iterdir()) == [".lock", "current", "manifest.json", second.files_dir.name]


KILLER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from indexes import build

    class DiesMidway:
        id, dim, batch_size, device = "test/dies-midway", 8, 16, "cpu"
        calls = 0
        def encode(self, texts):
            DiesMidway.calls += 1
            if DiesMidway.calls == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)

    build(sys.argv[1], sys.argv[2], encoder=DiesMidway(), progress=False)
""")


def test_killed_build_leaves_previous_index_loadable(sample_corpus, tmp_path):
    out = tmp_path / "idx"
    build(sample_corpus, out, dense=False, progress=False)
    before = (out / MANIFEST).read_text()
    proc = subprocess.run([sys.executable, "-c", KILLER, str(sample_corpus), str(out)],
                          capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (out / MANIFEST).read_text() == before
    assert load(out).kinds == ["bm25"]
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".idx.tmp-")]
    assert len(leftovers) == 1  # the dead build's temp dir ...
    build(sample_corpus, out, dense=False, progress=False)
    assert not any(p.name.startswith(".idx.") for p in tmp_path.iterdir())  # ... is cleaned up next time


def test_interrupted_build_cleans_up(sample_corpus, tmp_path, monkeypatch):
    out = tmp_path / "idx"
    build(sample_corpus, out, dense=False, progress=False)

    class Interrupts:
        id, dim = "test/interrupt", 4

        def encode(self, texts):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(sample_corpus, out, encoder=Interrupts(), progress=False)
    assert load(out).kinds == ["bm25"]
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_torch_exact_search_matches_faiss_flat(small_index, encoder):
    """The GPU fallback (torch matmul + topk) gives the same results as FAISS flat; run on CPU here."""
    import torch

    from indexes.dense import torch_exact_search

    vecs = torch.from_numpy(small_index.dense.vectors(range(300)))
    q = encoder.encode(QUERIES)
    s1, r1 = torch_exact_search(vecs, q, 10)
    s2, r2 = small_index.dense.search(q, 10)
    assert r1.tolist() == r2.tolist() and np.allclose(s1, s2, atol=1e-5)


def test_load_via_package_function(small_index_dir):
    assert indexes.load(small_index_dir, verify=False).manifest["n_docs"] == 300


def test_index_type_override_ivf_and_hnsw_agree_with_flat(small_index, encoder):
    """The ANN types chosen above 100k (IVF) or by --index-type build, save and search."""
    from indexes.dense import DenseIndex, DenseParams, build_faiss, choose_index_type

    assert choose_index_type(100_000) == "flat" and choose_index_type(100_001) == "ivf"
    vecs = small_index.dense.vectors(range(300))
    q = encoder.encode(QUERIES)
    _, exact = small_index.dense.search(q, 5)
    ivf, record = build_faiss(vecs, DenseParams(index_type="ivf", nprobe=64))
    # nlist = min(300 // 39, sqrt 300) = 7 lists; nprobe is capped at nlist, so every list is
    # probed and IVF-Flat is exact: the same rows in the same order as the flat index
    assert record == {"index_type": "ivf", "nlist": 7, "nprobe": 7}
    _, found = DenseIndex(ivf, record, device="cpu").search(q, 5)
    assert found.tolist() == exact.tolist()
    # MMR reads stored vectors: IVF raised 'direct map not initialized'
    np.testing.assert_allclose(DenseIndex(ivf, record, device="cpu").vectors([4, 0, 299]), vecs[[4, 0, 299]], atol=1e-6)
    hnsw, record = build_faiss(vecs, DenseParams(index_type="hnsw"))
    assert record["index_type"] == "hnsw" and record["ef_search"] == 64
    # HNSW is approximate, but with ef_search 64 over 300 vectors the search visits enough of
    # the graph to find the exact top 5
    _, found = DenseIndex(hnsw, record, device="cpu").search(q, 5)
    assert found.tolist() == exact.tolist()

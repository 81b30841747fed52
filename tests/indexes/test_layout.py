"""Versioned layout: a rebuild switches an atomic pointer, so a loader never sees a torn index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from indexes import IndexLoadError, build, load
from indexes.index import MANIFEST
from indexes.layout import POINTER, resolve


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AMBIGRAG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_build_writes_a_version_and_a_relative_pointer(sample_corpus, tmp_path):
    out = build(sample_corpus, tmp_path / "idx", dense=False, progress=False)
    target = os.readlink(out / POINTER)
    assert target.startswith("v-") and "/" not in target and (out / target / MANIFEST).is_file()
    assert os.readlink(out / MANIFEST) == f"{POINTER}/{MANIFEST}"
    index = load(out)
    assert index.path == out and index.files_dir == out / target and len(index.store) == 300


def test_rebuild_migrates_a_flat_index_and_removes_its_files(small_index, sample_corpus, tmp_path):
    out = tmp_path / "idx"
    shutil.copytree(small_index.files_dir, out)  # the flat layout written before versions
    (out / "README.txt").write_text("kept: not listed in the flat manifest")
    assert load(out).kinds == ["bm25", "dense"] and load(out).files_dir == out
    build(sample_corpus, out, dense=False, progress=False)
    index = load(out)
    assert index.kinds == ["bm25"] and index.files_dir.name.startswith("v-")
    assert sorted(p.name for p in out.iterdir()) == [".lock", "README.txt", POINTER, MANIFEST, index.files_dir.name]


def test_copy_with_symlinks_followed_still_loads(sample_corpus, tmp_path):
    out = build(sample_corpus, tmp_path / "idx", dense=False, progress=False)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)  # follows symlinks: 'current' becomes a real directory
    assert not (copy / POINTER).is_symlink() and load(copy).files_dir == copy / POINTER
    # a rebuild into the copy failed ("... .current.tmp-...: is a directory") and left debris
    build(sample_corpus, copy, dense=False, progress=False)
    index = load(copy)
    assert (copy / POINTER).is_symlink() and index.files_dir.name.startswith("v-") and len(index.store) == 300
    assert sorted(p.name for p in copy.iterdir()) == sorted([".lock", POINTER, MANIFEST, index.files_dir.name])


def test_a_file_given_as_an_index_is_named(sample_corpus):
    with pytest.raises(IndexLoadError, match=r"corpus.*is a file, not an index directory \(build one with "
                                             r"`ambigrag index build"):
        load(sample_corpus)


def test_pointer_leaving_the_directory_is_refused(sample_corpus, tmp_path):
    out = build(sample_corpus, tmp_path / "idx", dense=False, progress=False)
    version = os.readlink(out / POINTER)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(out / version, elsewhere)
    for target in ("../elsewhere", str(elsewhere)):
        (out / POINTER).unlink()
        (out / POINTER).symlink_to(target)
        with pytest.raises(IndexLoadError, match=r"current points to .*elsewhere'?, not to a version directory"):
            load(out)
    (out / "v-evil").symlink_to(elsewhere)  # a version name that is itself a symlink out
    (out / POINTER).unlink()
    (out / POINTER).symlink_to("v-evil")
    with pytest.raises(IndexLoadError, match=r"current points to v-evil, which is not a directory"):
        load(out)


def test_loaded_index_keeps_working_after_its_version_is_deleted(sample_corpus, tmp_path):
    out = build(sample_corpus, tmp_path / "idx", dense=False, progress=False)
    old = load(out)
    build(sample_corpus, out, dense=False, progress=False)
    assert not old.files_dir.exists() and resolve(out) != old.files_dir
    assert len(list(old.store)) == 300 and old.store.get([299])[0].id == load(out).store.get([299])[0].id
    assert old.bm25.search(["rainbow six siege maps"], 3)[1][0].tolist() == \
        load(out).bm25.search(["rainbow six siege maps"], 3)[1][0].tolist()


def test_stale_old_and_temp_dirs_from_dead_builds_are_removed(sample_corpus, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    for name in (f".idx.old-{pid}-abcd1234", f".idx.tmp-{pid}-abcd1234"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
    build(sample_corpus, tmp_path / "idx", dense=False, progress=False)
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == ["idx"]


LOADER = textwrap.dedent("""
    import json, os, sys, time
    import indexes

    out, ready, stop = sys.argv[1:4]
    loads, failures, versions = 0, [], set()
    while not os.path.exists(stop):
        try:
            idx = indexes.load(out)
            assert len(idx.store) == idx.manifest["n_docs"] == 300
            assert idx.store.get([0, 299])[1].id == idx.manifest["last_id"]
            loads += 1
            versions.add(idx.files_dir.name)
            if loads == 1:
                open(ready, "w").close()
        except Exception as e:
            failures.append(f"{type(e).__name__}: {e}")
    print(json.dumps({"loads": loads, "failures": failures[:5], "n_failures": len(failures),
                      "versions": sorted(versions)}))
""")


def test_loader_in_a_loop_never_fails_while_the_index_is_rebuilt(sample_corpus, sample_records, tmp_path,
                                                                  monkeypatch):
    """A separate process loads (and reads) the index as fast as it can while it is rebuilt 5 times."""
    import indexes.index

    last_id = sample_records[299]["id"]
    real = indexes.index._build_into

    def build_into(*args, **kwargs):  # every manifest names the last passage: checks manifest/store pairing
        manifest = real(*args, **kwargs)
        return {**manifest, "last_id": last_id}

    monkeypatch.setattr(indexes.index, "_build_into", build_into)
    out = build(sample_corpus, tmp_path / "idx", dense=False, progress=False)
    first = resolve(out).name
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", LOADER, str(out), str(ready), str(stop)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while not ready.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    versions = []
    for _ in range(5):
        build(sample_corpus, out, dense=False, progress=False)
        versions.append(resolve(out).name)
    stop.touch()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["n_failures"] == 0, report["failures"]
    assert report["loads"] >= 10 and len(report["versions"]) >= 2, report
    assert first in report["versions"] and set(report["versions"]) <= {first, *versions}
    assert sorted(p.name for p in out.iterdir()) == [".lock", POINTER, MANIFEST, versions[-1]]
    assert json.loads((out / MANIFEST).read_text())["last_id"] == last_id


def test_build_that_died_inside_install_does_not_block_the_next(sample_corpus, tmp_path):
    out = tmp_path / "idx"
    (out / "v-20260101T000000-dead00").mkdir(parents=True)  # renamed in, pointer never switched
    (out / ".lock").touch()
    build(sample_corpus, out, dense=False, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".lock", POINTER, MANIFEST, resolve(out).name]
    assert load(out).manifest["n_docs"] == 300


def test_building_into_a_version_of_an_index_is_refused(sample_corpus, tmp_path):
    """--out IDX/current resolved to the published version, which was then 'migrated' as a flat
    index: its files were deleted and IDX stopped loading."""
    out = build(sample_corpus, tmp_path / "idx", dense=False, progress=False)
    version = load(out).files_dir
    before = sorted(p.name for p in version.iterdir())
    for target in (out / POINTER, version):
        with pytest.raises(FileExistsError, match=f"{version} is a version of the index {out}, and versions are "
                                                  f"never modified; build into {out} to publish a new version"):
            build(sample_corpus, target, dense=False, progress=False)
    assert sorted(p.name for p in version.iterdir()) == before and len(load(out).store) == 300


def test_a_mount_point_is_staged_inside_itself(sample_corpus, tmp_path, monkeypatch):
    """Into a mount point (a Docker volume, /dev/shm) the rename from the staging directory beside
    it crossed filesystems: 'Invalid cross-device link' after the whole build."""
    import indexes.layout as layout

    mount = tmp_path / "mnt"
    mount.mkdir()
    monkeypatch.setattr(layout.os.path, "ismount", lambda p: Path(p) == mount)
    staged = []
    real = layout.staging_dir
    monkeypatch.setattr("indexes.index.staging_dir", lambda out: staged.append(real(out)) or staged[-1])
    build(sample_corpus, mount, dense=False, progress=False)
    assert staged[0].parent == mount and staged[0].name.startswith(".build.tmp-")
    index = load(mount)
    assert len(index.store) == 300
    assert sorted(p.name for p in mount.iterdir()) == sorted([".lock", POINTER, MANIFEST, index.files_dir.name])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (mount / f".build.tmp-{int(dead.stdout)}-abcd1234").mkdir()   # a build that died there
    build(sample_corpus, mount, dense=False, progress=False)
    assert sorted(p.name for p in mount.iterdir()) == sorted([".lock", POINTER, MANIFEST, load(mount).files_dir.name])


def test_loaders_never_fail_while_a_flat_index_is_converted(sample_corpus, tmp_path):
    """A loader that found the flat layout never retried, so the conversion (which deletes the
    flat files after publishing the version) made it fail with a missing file: 48 failures in 25
    conversions in the review's run."""
    import threading

    src = resolve(build(sample_corpus, tmp_path / "src", dense=False, progress=False))
    failures, loads = [], [0]
    for trial in range(6):
        flat = tmp_path / f"flat{trial}"
        shutil.copytree(src, flat)
        stop = threading.Event()

        def loader(flat=flat, stop=stop):
            while not stop.is_set():
                try:
                    index = load(flat, verify="full")
                    index.store.get([0, 299])
                    loads[0] += 1
                except Exception as e:   # noqa: BLE001 - every failure is reported
                    failures.append(f"{type(e).__name__}: {e}")

        threads = [threading.Thread(target=loader) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        build(sample_corpus, flat, dense=False, progress=False)
        time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join()
        assert resolve(flat) != flat
    assert failures == [] and loads[0] >= 12

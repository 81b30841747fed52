"""Output paths are checked before any work (indexes.paths.check_outputs), at every command that
writes reports: an output naming an input destroyed it (eval score --md GOLD replaced the gold
file with a table), and two outputs with one name lost one report (eval feedback --json r.md)."""

from __future__ import annotations

import json

import pytest

from indexes.paths import check_outputs
from rag.cli import main


def test_check_outputs_rules(tmp_path):
    (tmp_path / "in.json").write_text("{}")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="--md .*in.json is the --gold file: writing it would destroy the input"):
        check_outputs({"--md": tmp_path / "in.json"}, {"--gold": tmp_path / "sub" / ".." / "in.json"})
    with pytest.raises(ValueError, match="--json's markdown .*r.md is also --json: one would overwrite the other"):
        check_outputs({"--json": tmp_path / "r.md", "--json's markdown": tmp_path / "r.md"})
    with pytest.raises(ValueError, match="--json .*: is a directory"):
        check_outputs({"--json": tmp_path})
    with pytest.raises(ValueError, match="afile is a file, not a folder"):
        check_outputs({"--json": tmp_path / "afile" / "r.json"})
    with pytest.raises(ValueError, match="--out .*afile: exists and is not a directory"):
        check_outputs({}, dirs={"--out": tmp_path / "afile"})
    check_outputs({"--json": tmp_path / "new" / "r.json", "--md": None}, {"--gold": tmp_path / "in.json"},
                  dirs={"--out": tmp_path / "new"})   # a folder to be made is fine


def _ambigqa_file(shared_data, path, n=3):
    rows = json.loads((shared_data / "ambigqa" / "dev_light.json").read_text())[:n]
    path.write_text(json.dumps(rows))
    return rows


@pytest.mark.parametrize("argv", [
    ["eval", "score", "--dataset", "ambigqa", "--gold", "GOLD", "--pred", "PRED", "--md", "GOLD"],
    ["eval", "score", "--dataset", "ambigqa", "--gold", "GOLD", "--pred", "PRED", "--json", "PRED"],
    ["eval", "retrieval", "IDX", "--data", "GOLD", "--json", "GOLD"],
    ["eval", "run", "--dataset", "ambigqa", "--data", "GOLD", "--json", "GOLD"],
    ["eval", "ambiguity", "--data", "GOLD", "--json", "GOLD"],
    ["eval", "policy", "--dev", "GOLD", "--out", "OUT", "--json", "GOLD"],
])
def test_no_command_overwrites_its_input(shared_data, small_index_dir, tmp_path, capsys, argv):
    gold, pred = tmp_path / "gold.json", tmp_path / "pred.json"
    rows = _ambigqa_file(shared_data, gold)
    pred.write_text(json.dumps({r["id"]: ["x"] for r in rows}))
    before = gold.read_text(), pred.read_text()
    swap = {"GOLD": str(gold), "PRED": str(pred), "IDX": str(small_index_dir), "OUT": str(tmp_path / "out")}
    assert main(["-q", *[swap.get(a, a) for a in argv]]) == 2
    assert "writing it would destroy the input" in capsys.readouterr().err
    assert (gold.read_text(), pred.read_text()) == before


def test_eval_feedback_refuses_a_json_named_like_its_markdown(tmp_path, capsys):
    assert main(["-q", "eval", "feedback", "--json", str(tmp_path / "r.md"), "--rounds", "1"]) == 2
    assert "is also --json: one would overwrite the other" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_eval_ambiguity_refuses_a_plot_named_like_the_json(shared_data, tmp_path, capsys):
    gold = tmp_path / "gold.json"
    _ambigqa_file(shared_data, gold)
    assert main(["-q", "eval", "ambiguity", "--data", str(gold), "--json", str(tmp_path / "a.png")]) == 2
    assert "a.png is also --json" in capsys.readouterr().err


def test_eval_run_refuses_an_out_that_is_a_file_before_running(shared_data, tmp_path, capsys):
    gold = tmp_path / "gold.json"
    _ambigqa_file(shared_data, gold)
    (tmp_path / "afile").write_text("keep")
    assert main(["-q", "eval", "run", "--dataset", "ambigqa", "--data", str(gold), "--out", str(tmp_path / "afile")]) == 2
    assert "afile: exists and is not a directory" in capsys.readouterr().err


def test_an_input_folder_and_the_shared_data_are_never_written_into(small_index_dir, shared_data, tmp_path, capsys):
    """`eval retrieval INDEX --json INDEX/manifest.json` replaced the index's manifest (the index
    no longer loaded); a default gold file in the shared data could be overwritten the same way."""
    manifest = (small_index_dir / "manifest.json").read_bytes()
    assert main(["-q", "eval", "retrieval", str(small_index_dir), "--mode", "bm25", "--limit", "1",
                 "--json", str(small_index_dir / "manifest.json")]) == 2
    assert f"is inside the index folder {small_index_dir.resolve()}" in capsys.readouterr().err
    assert (small_index_dir / "manifest.json").read_bytes() == manifest
    with pytest.raises(ValueError, match="is inside the shared data folder"):
        check_outputs({"--json": shared_data / "ambigqa" / "dev_light.json"})
    with pytest.raises(ValueError, match="--out .* is inside the --models folder"):
        check_outputs({}, {"--models": tmp_path}, dirs={"--out": tmp_path / "ambiguity_question"})


def test_write_atomic_keeps_the_old_file_on_failure(tmp_path):
    from indexes.paths import plot_format, write_atomic

    out = write_atomic(tmp_path / "r.json", "old")

    def broken(f):
        f.write(b"half a rep")
        raise OSError(27, "File too large")

    with pytest.raises(OSError, match="File too large"):
        write_atomic(out, broken)
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        import os
        if os.geteuid() != 0:    # root writes anywhere
            with pytest.raises(PermissionError) as e:
                write_atomic(tmp_path / "ro" / "x.json", "{}")
            assert e.value.filename == str(tmp_path / "ro" / "x.json")   # named, not the temporary
    finally:
        (tmp_path / "ro").chmod(0o700)
    with pytest.raises(ValueError, match=r"curve.xyz: a plot is written as .png, .pdf"):
        plot_format(tmp_path / "curve.xyz")

"""``ambigrag train reader``: settings out of range fail before the data is read or a model loads."""

from __future__ import annotations

import json

import pytest

from rag.cli import main


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "epochs=0"),  # trained nothing and shipped the untrained head
    (["--batch-size", "0"], "batch_size=0"),  # was "range() arg 3 must not be zero" after loading
    (["--lr", "-1"], "lr=-1.0"),
    (["--lr", "inf"], "lr=inf"),                # trained a reader of NaN weights and saved it
    (["--stride", "300", "--max-length", "256"], "stride=300"),
])
def test_bad_train_settings_fail_before_the_data_is_read(tmp_path, capsys, flags, message):
    code = main(["-q", "train", "reader", "--data", str(tmp_path / "never-read.jsonl"), "--out", str(tmp_path / "r"),
                 *flags])
    err = capsys.readouterr().err
    assert code == 2 and f"train settings out of range: {message} (need" in err
    assert not (tmp_path / "r").exists()


def _data(path, answer="Ottawa", text="The capital of Canada is Ottawa."):
    path.write_text(json.dumps({"question": "What is the capital of Canada?",
                                "documents": [{"text": text, "answer": answer, "type": "correct"}]}) + "\n")
    return path


def test_threads_and_data_without_examples_fail_before_a_model_loads(tmp_path, capsys):
    good = _data(tmp_path / "good.jsonl")
    assert main(["-q", "train", "reader", "--data", str(good), "--out", str(tmp_path / "r"), "--threads", "-1"]) == 2
    assert "--threads must be >= 1, got -1" in capsys.readouterr().err   # was a torch RuntimeError traceback
    noans = _data(tmp_path / "noans.jsonl", answer="Toronto")
    assert main(["-q", "train", "reader", "--data", str(noans), "--out", str(tmp_path / "r"), "--no-cv"]) == 2
    assert "noans.jsonl: no trainable examples (1 document(s) skipped" in capsys.readouterr().err  # was IndexError
    assert not (tmp_path / "r").exists()


def test_out_is_checked_before_training(tmp_path, capsys):
    """A file as --out failed only after training; a version store was shadowed by the new manifest."""
    good = _data(tmp_path / "good.jsonl")
    (tmp_path / "afile").write_text("x")
    store = tmp_path / "store"
    store.mkdir()
    (store / "state.json").write_text('{"current": null, "previous": null, "log": []}')
    index = tmp_path / "index"
    index.mkdir()
    (index / "bm25.npz").write_text("x")
    amb = tmp_path / "ambiguity_question"      # a manifest of another kind was "a reader to replace"
    amb.mkdir()
    (amb / "manifest.json").write_text('{"kind": "ambiguity-logreg"}')
    for out, message in ((tmp_path / "afile", "exists and is not a directory"),
                         (store, "is a reader version store"), (index, "holds other files (bm25.npz) and no span reader"),
                         (amb, "holds other files (manifest.json) and no span reader")):
        assert main(["-q", "train", "reader", "--data", str(good), "--out", str(out), "--no-cv"]) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in store.iterdir()) == ["state.json"]
    assert (amb / "manifest.json").read_text() == '{"kind": "ambiguity-logreg"}'


def test_more_folds_than_questions_fail_before_training(tmp_path, capsys):
    """--folds 2 on a one-question file said 'folds must be in [2, 1]', after a fold directory was made."""
    good = _data(tmp_path / "good.jsonl")
    assert main(["-q", "train", "reader", "--data", str(good), "--out", str(tmp_path / "r"), "--folds", "2"]) == 2
    assert "2 folds need at least 2 questions; the data has 1 question" in capsys.readouterr().err
    assert main(["-q", "train", "reader", "--data", str(good), "--out", str(tmp_path / "r"), "--folds", "1"]) == 2
    assert "folds must be >= 2, got 1" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()

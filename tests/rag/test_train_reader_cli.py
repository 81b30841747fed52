"""``ambigrag train reader``: settings out of range fail before the data is read or a model loads."""

from __future__ import annotations

import pytest

from rag.cli import main


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "epochs=0"),  # trained nothing and shipped the untrained head
    (["--batch-size", "0"], "batch_size=0"),  # was "range() arg 3 must not be zero" after loading
    (["--lr", "-1"], "lr=-1.0"),
    (["--stride", "300", "--max-length", "256"], "stride=300"),
])
def test_bad_train_settings_fail_before_the_data_is_read(tmp_path, capsys, flags, message):
    code = main(["-q", "train", "reader", "--data", str(tmp_path / "never-read.jsonl"), "--out", str(tmp_path / "r"),
                 *flags])
    err = capsys.readouterr().err
    assert code == 2 and f"train settings out of range: {message} (need" in err
    assert not (tmp_path / "r").exists()

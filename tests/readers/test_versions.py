"""The reader version store's state file (readers/versions.py): damaged states are refused in
one line naming the file, and a rollback never points at a version that is not on disk. The
promotion and rollback of real trained readers are in test_bandit.py."""

from __future__ import annotations

import json

import pytest

from readers.versions import ReaderVersions, resolve_reader_dir


def _store(tmp_path, state) -> ReaderVersions:
    root = tmp_path / "store"
    root.mkdir()
    (root / "state.json").write_text(json.dumps(state))
    return ReaderVersions(root)


@pytest.mark.parametrize("state, message", [
    ({"current": 1, "previous": None, "log": []}, "current is 1, expected a version name like 'v0001' or null"),
    ({"current": "v0001", "previous": "../../etc", "log": []}, "previous is '../../etc', expected a version name"),
    ({"current": "v0001", "previous": None, "log": {}}, "log is dict, expected a list"),
])
def test_a_damaged_state_is_named(tmp_path, state, message):
    store = _store(tmp_path, state)
    with pytest.raises(ValueError, match=f"state.json: {message}"):
        store.current()
    with pytest.raises(ValueError, match=message):   # ask/serve --reader-model STORE: was a TypeError
        resolve_reader_dir(store.root)


def test_missing_keys_read_as_empty(tmp_path):
    """{"current": "v0002"} alone raised KeyError('previous') in rollback, KeyError('log') in promote."""
    store = _store(tmp_path, {"current": "v0002"})
    (store.root / "v0002").mkdir()
    assert store.previous() is None and store.state()["log"] == []
    with pytest.raises(ValueError, match="no previous version to roll back to"):
        store.rollback()


def test_rollback_to_a_version_not_on_disk_changes_nothing(tmp_path):
    store = _store(tmp_path, {"current": "v0002", "previous": "v0001", "log": []})
    (store.root / "v0002").mkdir()
    with pytest.raises(ValueError, match=r"store/v0001: the previous version is not on disk; nothing changed"):
        store.rollback()
    assert store.current() == store.root / "v0002" and store.previous() == store.root / "v0001"


def test_learn_refuses_options_it_would_ignore_and_a_rollback_can_be_undone(tmp_path, capsys):
    """`learn --rollback --feedback F` and `learn --reader R` on a store with versions ignored the
    option without a word; after one rollback the rolled-back version could only be restored by
    editing state.json."""
    from rag.cli import main

    store = _store(tmp_path, {"current": "v0002", "previous": "v0001", "log": []})
    (store.root / "v0001").mkdir()
    (store.root / "v0002").mkdir()
    assert main(["-q", "learn", "--out", str(store.root), "--rollback", "--feedback", "x.jsonl"]) == 2
    assert "--rollback only switches versions; it takes no --feedback" in capsys.readouterr().err
    assert store.current().name == "v0002"
    assert main(["-q", "learn", "--out", str(store.root), "--reader", str(tmp_path)]) == 2
    assert "already has versions (current v0002); --reader only starts a new store" in capsys.readouterr().err
    assert main(["-q", "learn", "--out", str(store.root), "--rollback"]) == 0
    assert (store.current().name, store.previous().name) == ("v0001", "v0002")
    assert main(["-q", "learn", "--out", str(store.root), "--rollback"]) == 0     # undone
    assert (store.current().name, store.previous().name) == ("v0002", "v0001")
    assert sorted(p.name for p in store.root.iterdir()) == [".lock", "state.json", "v0001", "v0002"]   # no temporary
    with store.locked():      # another `learn` on the store is refused at once, and changes nothing
        assert main(["-q", "learn", "--out", str(store.root), "--rollback"]) == 2
    assert "another `ambigrag learn` is running on this store" in capsys.readouterr().err
    assert store.current().name == "v0002"

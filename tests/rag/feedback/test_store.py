"""The SQLite feedback store: schema versions, transactions, reader logs, export, and rows that
survive ``kill -9``."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from rag import cli
from rag.feedback.answers import answer_from_dict
from rag.feedback.store import (
    MIGRATIONS,
    AwaitingReply,
    FeedbackStore,
    NotAwaitingReply,
    UnknownInteraction,
    migrate,
)
from rag.types import Answer, Reading, SpanLog

HOCKEY = Reading("Bobby Carpenter (ice hockey)", "1981", ("bc-hockey",), 1.0,
                 (SpanLog("bc-hockey", "1981", 180, 184, 0.83),))
FOOTBALL = Reading("Bobby Carpenter (American football)", "2006", ("bc-football", "bc-football-2"), 2.0,
                   (SpanLog("bc-football", "2006", 120, 124, 0.91), SpanLog("bc-football-2", "2006", 80, 84, 0.77)))
CLARIFY = Answer("clarify", (FOOTBALL, HOCKEY), clarifying_question="Which do you mean: (1) A or (2) B?",
                 text="Which do you mean: (1) A or (2) B?", question="When was Bobby Carpenter drafted?",
                 sources=("bc-football", "bc-hockey", "bc-football-2"), p_ambiguous=0.52, model_version="span-reader-7")
PICKED = Answer("single", (HOCKEY,), text="1981 [2].", question=CLARIFY.question, sources=CLARIFY.sources,
                model_version="span-reader-7")


def test_answers_round_trip_through_json():
    for a in (CLARIFY, PICKED, Answer("abstain", reason="no supporting evidence")):
        assert answer_from_dict(json.loads(json.dumps(a.to_dict()))) == a
    with pytest.raises(ValueError, match="answer kind must be one of"):
        answer_from_dict({"kind": "maybe"})


def test_a_stored_clarification_keeps_its_passages():
    """A reply is matched against the options' passages too ("the Ohio State one"): the web
    server's stored clarification dropped them, so it asked again where the CLI picked."""
    from indexes.types import Passage

    p = Passage("bc-football", "Bobby Carpenter (American football)", "He played for Ohio State.")
    a = replace(CLARIFY, passages=(p,))
    assert answer_from_dict(json.loads(json.dumps(a.to_dict()))).passages == (p,)
    newer = {**a.to_dict(), "added_by_a_later_version": 1}   # a row a later version wrote is still read
    assert answer_from_dict(newer) == a


def test_a_full_interaction_is_stored_and_exported(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    iid = store.new_interaction(CLARIFY.question, CLARIFY)
    state, version = store.clarify_state(iid)
    assert state == CLARIFY and version == 1
    store.add_reply(iid, version, "the hockey player", PICKED)
    with pytest.raises(NotAwaitingReply):
        store.clarify_state(iid)
    assert store.state(iid) == PICKED and store.shown(iid) == [CLARIFY, PICKED]  # what a correction can pick from
    store.add_rating(iid, "correct", "right one")
    new = store.add_followup(iid, "thanks!", "positive", 1.0, "rules", Answer("abstain", reason="none", question="thanks!"))
    [rec, rec2] = list(store.records())
    assert rec["interaction_id"] == iid and rec["rating"] == "correct" and rec["kind"] == "single"
    assert [t["role"] for t in rec["turns"]] == ["question", "clarify", "reply", "answer"]
    assert answer_from_dict(rec["turns"][3]["answer"]) == PICKED
    assert rec["turns"][3]["reader_logs"] == [
        {"reading_label": "Bobby Carpenter (ice hockey)", "answer": "1981", "passage_id": "bc-hockey", "span": "1981",
         "span_start": 180, "span_end": 184, "probability": 0.83, "model_version": "span-reader-7"}]
    assert len(rec["turns"][1]["reader_logs"]) == 3      # every span of both readings of the clarify turn
    assert [(f["label"], f["next_interaction_id"]) for f in rec["followups"]] == [("positive", new)]
    assert rec2["parent_id"] == iid and rec2["kind"] == "abstain"
    out = tmp_path / "out.jsonl"
    assert store.export(out) == 2
    assert [json.loads(x)["interaction_id"] for x in out.read_text().splitlines()] == [iid, new]
    assert store.stats() == {"kind": {"single": 1, "abstain": 1}, "rating": {"correct": 1}, "followup": {"positive": 1}}


def test_bad_ids_ratings_and_a_second_reply_are_refused(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    iid = store.new_interaction(CLARIFY.question, CLARIFY)
    with pytest.raises(UnknownInteraction):
        store.add_rating("nope", "correct")
    with pytest.raises(ValueError, match="rating must be one of"):
        store.add_rating(iid, "fine")
    with pytest.raises(ValueError, match="follow-up label must be one of"):
        store.add_followup(iid, "x", "meh", None, "rules", PICKED)
    with pytest.raises(AwaitingReply, match="waits for a reply to its clarifying question"):
        store.add_rating(iid, "wrong")          # no answer yet: the rating would land on the reply's
    _, version = store.clarify_state(iid)
    store.add_reply(iid, version, "2", PICKED)
    with pytest.raises(NotAwaitingReply, match="already took a reply"):
        store.add_reply(iid, version, "1", PICKED)       # a concurrent reply that lost the race
    assert store.count("turns") == 4 and store.count("ratings") == 0


def _open_at(path: str, start: float) -> str:
    import time

    while time.time() < start:
        pass
    try:
        FeedbackStore(path).close()
        return "ok"
    except Exception as e:   # noqa: BLE001 - the test prints what went wrong
        return f"{type(e).__name__}: {e}"


def test_two_processes_can_create_the_same_new_database_at_once(tmp_path):
    """Both failed often: the second raced the first's migration ("table interactions already
    exists") or found it switching to WAL ("database is locked", which SQLite does not wait for)."""
    import multiprocessing
    import time

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        for i in range(12):
            path = str(tmp_path / f"{i}.sqlite")
            start = time.time() + 0.2
            assert pool.starmap(_open_at, [(path, start), (path, start)]) == ["ok", "ok"], i
    assert FeedbackStore(path).count("interactions") == 0


def test_schema_is_versioned_in_wal_mode_and_migrations_are_atomic(tmp_path):
    db = tmp_path / "fb.sqlite"
    FeedbackStore(db).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    extra = (*MIGRATIONS, "ALTER TABLE ratings ADD COLUMN source TEXT;")
    store = FeedbackStore(db, migrations=extra)             # upgrade in place
    iid = store.new_interaction("q", PICKED)
    store._conn().execute("UPDATE ratings SET source = ? WHERE interaction_id = ?", ("web", iid))
    store.close()
    broken = (*extra, "CREATE TABLE t (x INTEGER);\nINSERT INTO missing VALUES (1);")
    with pytest.raises(sqlite3.OperationalError, match="no such table: missing"):
        FeedbackStore(db, migrations=broken)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(extra)
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchall() == []
    with pytest.raises(ValueError, match=f"schema version {len(extra)}, newer than this ambigrag"):
        FeedbackStore(db)
    with sqlite3.connect(":memory:") as conn:
        assert migrate(conn) == 0 and migrate(conn) == len(MIGRATIONS)


def test_a_first_release_database_upgrades_and_keeps_its_rows(tmp_path):
    db = tmp_path / "fb.sqlite"
    old = FeedbackStore(db, migrations=MIGRATIONS[:1])
    iid = old.new_interaction("q", PICKED)
    old.add_rating(iid, "correct")
    old.close()
    store = FeedbackStore(db)
    (rec,) = store.records()
    assert (rec["interaction_id"], rec["rating"], rec["picked_from"]) == (iid, "correct", None)
    new = store.add_followup(iid, "no, the other one", "rephrase", 1.0, "rules", PICKED, picked_from=iid)
    assert [r["picked_from"] for r in store.records()] == [None, iid] and new


def test_threads_write_concurrently_without_losing_rows(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    ids = [store.new_interaction(f"q{i}", PICKED) for i in range(8)]

    def rate(iid):
        for _ in range(25):
            store.add_rating(iid, "partial")

    threads = [threading.Thread(target=rate, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count("ratings") == 200 and store.stats()["rating"] == {"partial": 200}


WRITER = """
import sys
from rag.feedback.store import FeedbackStore
from rag.types import Answer
store = FeedbackStore(sys.argv[1])
iid = store.new_interaction("q", Answer("abstain", reason="r"))
i = 0
while True:
    store.add_rating(iid, "wrong", f"{sys.argv[2]}:{i}")
    print(i, flush=True)   # acknowledged only after the commit returned
    i += 1
"""
KILLS = 2  # writers killed in a row over the same database (read by bench/reliability_report.py)
ACKED = 200


def test_every_acknowledged_row_survives_kill_9(tmp_path):
    db = tmp_path / "fb.sqlite"
    root = Path(__file__).resolve().parents[3]
    acked: set[str] = set()
    for kill in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(kill)], stdout=subprocess.PIPE,
                                text=True, env={"PYTHONPATH": str(root), "PATH": ""}, cwd=root)
        got = [int(proc.stdout.readline()) for _ in range(ACKED)]
        proc.send_signal(signal.SIGKILL)  # mid-stream: the writer is committing its next row
        proc.wait()
        assert got == list(range(ACKED)) and proc.returncode == -signal.SIGKILL
        acked |= {f"{kill}:{i}" for i in got}
        with sqlite3.connect(db) as conn:
            stored = {c for (c,) in conn.execute("SELECT comment FROM ratings")}
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert acked <= stored, f"kill {kill}: lost {sorted(acked - stored)[:5]}"


def test_cli_export_and_stats(tmp_path, capsys):
    db = tmp_path / "fb.sqlite"
    store = FeedbackStore(db)
    iid = store.new_interaction(CLARIFY.question, PICKED)
    store.add_rating(iid, "wrong")
    store.close()
    out = tmp_path / "x.jsonl"
    assert cli.main(["-q", "feedback", "export", "--db", str(db), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["rating"] == "wrong"
    assert cli.main(["-q", "feedback", "stats", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "kind": {"single": 1}, "rating": {"wrong": 1}, "followup": {}}
    assert cli.main(["-q", "feedback", "stats", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no feedback database at" in capsys.readouterr().err


def test_export_refuses_the_database_itself_and_keeps_it(tmp_path, capsys):
    """`feedback export --out` naming the database emptied it (0 bytes): all feedback lost."""
    db = tmp_path / "fb.sqlite"
    store = FeedbackStore(db)
    iid = store.new_interaction("q", PICKED)
    store.add_rating(iid, "correct")
    for out in (db, Path(f"{db}-wal")):
        with pytest.raises(ValueError, match="that is the feedback database"):
            store.export(out)
    assert cli.main(["feedback", "export", "--db", str(db), "--out", str(db)]) == 2
    assert f"--out {db} is the --db file: writing it would destroy the input" in capsys.readouterr().err
    store.close()
    assert [r["rating"] for r in FeedbackStore(db).records()] == ["correct"]


def test_a_failed_export_leaves_the_old_file(tmp_path, monkeypatch):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    store.new_interaction("q", PICKED)
    out = tmp_path / "fb.jsonl"
    out.write_text("earlier export\n")

    def broken():
        yield {"interaction_id": "x"}
        raise RuntimeError("disk went away")

    monkeypatch.setattr(store, "records", broken)
    with pytest.raises(RuntimeError, match="disk went away"):
        store.export(out)
    assert out.read_text() == "earlier export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []   # no temporary left


@pytest.mark.parametrize("make", ["text", "directory"])
def test_what_is_not_a_feedback_database_is_named_in_one_line(tmp_path, capsys, make):
    bad = tmp_path / "notdb"
    if make == "text":
        bad.write_text('{"question": "not sqlite"}\n' * 50)
    else:
        bad.mkdir()
    with pytest.raises(ValueError, match=f"{bad}: not a feedback database"):
        FeedbackStore(bad)
    assert cli.main(["feedback", "stats", "--db", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: not a feedback database" in err and "Traceback" not in err


def test_reading_commands_never_change_the_database(tmp_path, capsys):
    """export/stats/learn opened the store for writing: they upgraded an older schema in place
    (a still-running older server then refused it) and gave another program's SQLite file
    ambigrag's tables; a read-only file was "not a feedback database"."""
    old = tmp_path / "v1.sqlite"
    s = FeedbackStore(old, migrations=MIGRATIONS[:1])
    s.add_rating(s.new_interaction("q", PICKED), "correct")
    s.close()
    raw = old.read_bytes()
    ro = FeedbackStore(old, readonly=True)
    assert [(r["rating"], r["picked_from"]) for r in ro.records()] == [("correct", None)]   # read via a copy
    with pytest.raises(ValueError, match="opened read-only"):
        ro.add_rating("x", "wrong")
    ro.close()
    assert old.read_bytes() == raw
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    for argv in (["feedback", "stats", "--db", str(other)], ["feedback", "export", "--db", str(other), "--out",
                                                               str(tmp_path / "x.jsonl")]):
        assert cli.main(["-q", *argv]) == 2
        assert f"{other}: not a feedback database" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"not a feedback database \(no ambigrag schema version, and other tables: users\)"):
        FeedbackStore(other)                                        # not even the server adds its tables
    with sqlite3.connect(other) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["users"]


def test_export_to_standard_output_a_device_or_a_new_folder(tmp_path, capsys):
    """`--out -` wrote a file named "-"; `--out /dev/stdout` (as root) replaced the /dev/stdout link
    with a file; a missing folder or a directory was reported under the hidden temporary's name."""
    db = tmp_path / "fb.sqlite"
    s = FeedbackStore(db)
    iid = s.new_interaction("q", PICKED)
    s.close()
    assert cli.main(["-q", "feedback", "export", "--db", str(db), "--out", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["interaction_id"] == iid and "wrote 1 interactions to standard output" in err
    assert not (tmp_path / "-").exists()
    fifo = tmp_path / "pipe"
    import os
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    assert FeedbackStore(db, readonly=True).export(fifo) == 1        # written into the pipe, not replacing it
    reader.join(10)
    assert json.loads(got[0])["interaction_id"] == iid and fifo.is_fifo()
    assert cli.main(["-q", "feedback", "export", "--db", str(db), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"ambigrag: error: --out {tmp_path}: is a directory\n"
    with pytest.raises(ValueError, match="is a directory; export to a file"):   # the API says so too
        FeedbackStore(db, readonly=True).export(tmp_path)
    deep = tmp_path / "new" / "dir" / "fb.jsonl"
    assert cli.main(["-q", "feedback", "export", "--db", str(db), "--out", str(deep)]) == 0
    assert json.loads(deep.read_text())["interaction_id"] == iid

"""The feedback store: SQLite (WAL) holding every interaction, its turns, what the reader logged,
explicit ratings and follow-ups with their implicit label.

* One transaction per acknowledged event, committed (``synchronous=FULL``) before the method
  returns: a caller that answers only after the call returns never acknowledges a lost row,
  even when the process is killed with ``-9``.
* The schema is versioned by ``PRAGMA user_version``; :data:`MIGRATIONS` are applied in order,
  each in its own transaction with the version bump, so a failed migration changes nothing.
  A database newer than this code is refused.
* Every value reaches SQL as a bound parameter.
* A clarification in progress lives in ``interactions.state`` (the clarify ``Answer`` as JSON),
  not in memory: a restarted server still takes the reply.

>>> store = FeedbackStore(":memory:")                        # doctest: +SKIP
>>> iid = store.new_interaction("Who?", answer)              # doctest: +SKIP
>>> store.add_rating(iid, "correct")                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.feedback.answers import answer_from_dict
from rag.types import Answer

RATINGS = ("correct", "partial", "wrong")
FOLLOWUP_LABELS = ("rephrase", "negative", "positive", "new_topic")

MIGRATIONS: tuple[str, ...] = (
    # 1: the whole schema of the first release.
    """
    CREATE TABLE interactions (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        question TEXT NOT NULL,
        parent_id TEXT REFERENCES interactions(id),
        status TEXT NOT NULL CHECK (status IN ('clarify', 'answered')),
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        interaction_id TEXT NOT NULL REFERENCES interactions(id),
        seq INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('question', 'clarify', 'reply', 'answer')),
        text TEXT NOT NULL,
        answer TEXT,
        created REAL NOT NULL,
        UNIQUE (interaction_id, seq)
    );
    CREATE TABLE reader_logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        turn_id INTEGER NOT NULL REFERENCES turns(id),
        reading_label TEXT NOT NULL,
        answer TEXT NOT NULL,
        passage_id TEXT,
        span TEXT,
        span_start INTEGER,
        span_end INTEGER,
        probability REAL,
        model_version TEXT
    );
    CREATE TABLE ratings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        interaction_id TEXT NOT NULL REFERENCES interactions(id),
        rating TEXT NOT NULL CHECK (rating IN ('correct', 'partial', 'wrong')),
        comment TEXT,
        created REAL NOT NULL
    );
    CREATE TABLE followups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        interaction_id TEXT NOT NULL REFERENCES interactions(id),
        text TEXT NOT NULL,
        label TEXT NOT NULL CHECK (label IN ('rephrase', 'negative', 'positive', 'new_topic')),
        confidence REAL,
        classifier TEXT,
        next_interaction_id TEXT REFERENCES interactions(id),
        created REAL NOT NULL
    );
    CREATE INDEX turns_by_interaction ON turns(interaction_id, seq);
    CREATE INDEX ratings_by_interaction ON ratings(interaction_id);
    CREATE INDEX followups_by_interaction ON followups(interaction_id);
    CREATE INDEX reader_logs_by_turn ON reader_logs(turn_id);
    """,
    # 2: a follow-up interaction whose answer is a reading another interaction offered, picked by
    # a correction ("no, I meant the hockey player"): no decision of the answer/clarify policy.
    """
    ALTER TABLE interactions ADD COLUMN picked_from TEXT REFERENCES interactions(id);
    """,
)


class UnknownInteraction(KeyError):
    """No interaction with this id."""


class NotAwaitingReply(ValueError):
    """The interaction has no clarifying question waiting for a reply (or another reply won)."""


class AwaitingReply(ValueError):
    """The interaction's clarifying question waits for a reply: there is no answer yet to rate."""


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/ambigrag`` or ``~/.local/share/ambigrag``: where the default database lives."""
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "ambigrag"


def default_db_path() -> Path:
    return user_data_dir() / "feedback.sqlite"


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS, *, where: str = "") -> int:
    """Bring the database to ``len(migrations)``; return the version it had. Refuses a newer one
    (``where`` names the database in the error). Another program's file is refused before this,
    by :func:`_not_ours`."""
    have = conn.execute("PRAGMA user_version").fetchone()[0]
    if have > len(migrations):
        raise ValueError(f"{where or 'feedback database'}: schema version {have}, newer than this ambigrag's "
                         f"({len(migrations)}); upgrade ambigrag")
    for v in range(have, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] > v:   # another process did it meanwhile
                conn.execute("COMMIT")
                continue
            for stmt in _statements(migrations[v]):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {v + 1:d}")  # an int we computed; PRAGMA takes no parameters
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return have


def _wal(conn: sqlite3.Connection, wait: float = 30.0) -> None:
    """Switch ``conn`` to write-ahead logging. Switching takes an exclusive lock and SQLite does
    not wait for it (another process creating the same new database made it "database is
    locked" at once), so this retries for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _statements(script: str) -> list[str]:
    """Split a migration script at complete statements (executescript would commit on its own)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buf.strip()[:60]!r}")
    return out


def _not_ours(have: int, tables: set[str], readonly: bool) -> str | None:
    """Why a database with schema version ``have`` and ``tables`` is not a feedback store to
    open: another program's (it must not be given ambigrag's tables beside its own), or, to
    read, one with no schema at all; None when it is one."""
    if have == 0 and (tables or readonly):
        return "no ambigrag schema version" + (f", and other tables: {', '.join(sorted(tables)[:5])}" if tables else "")
    if have >= 1 and not {"interactions", "turns", "ratings"} <= tables:
        return f"schema version {have} but no interactions, turns and ratings tables"
    return None


class FeedbackStore:
    """Thread-safe feedback store at ``path`` (created with its folder; ``:memory:`` for one thread).

    Each thread gets its own connection; writes are short ``BEGIN IMMEDIATE`` transactions.
    ``readonly=True`` (export, stats, learning) opens an existing database for reading only: it
    needs no write permission and never changes the file, not even to upgrade an older schema
    (that is done on a copy in memory)."""

    def __init__(self, path: str | Path, *, migrations: Sequence[str] = MIGRATIONS, readonly: bool = False):
        self.path, self.readonly = str(path), readonly
        if Path(self.path).is_dir():
            raise ValueError(f"{self.path}: not a feedback database (a directory)")
        if readonly and (self.path == ":memory:" or not Path(self.path).is_file()):
            raise FileNotFoundError(f"no feedback database at {self.path}")
        if self.path != ":memory:" and not readonly:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._copy: sqlite3.Connection | None = None   # an older schema, upgraded in memory (readonly)
        try:
            conn = self._conn()
            have = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.OperationalError as e:   # unreadable (a read-only folder, a lock): not "not ours"
            self.close()
            raise ValueError(f"{self.path}: cannot read the feedback database ({e})") from None
        except sqlite3.DatabaseError as e:   # not SQLite, a directory: one line, naming it
            self.close()
            raise ValueError(f"{self.path}: not a feedback database ({e})") from None
        why = _not_ours(have, tables, readonly)
        if why:
            self.close()
            raise ValueError(f"{self.path}: not a feedback database ({why})")
        try:
            if readonly and have < len(migrations):
                self._copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                conn.backup(self._copy)
                self._copy.row_factory = sqlite3.Row
                conn = self._copy
            if not readonly or self._copy is not None or have > len(migrations):   # the last: to refuse it
                migrate(conn, migrations, where=self.path)
        except BaseException:
            self.close()
            raise

    def _conn(self) -> sqlite3.Connection:
        if self._copy is not None:
            return self._copy
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.readonly:
                conn = self._connect_readonly()
            else:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            if not self.readonly:
                _wal(conn)
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _connect_readonly(self) -> sqlite3.Connection:
        """``mode=ro``; when the folder cannot be written and no log is open (a cleanly closed
        database: SQLite would need to create its ``-shm`` even to read), ``immutable=1``."""
        path = Path(self.path).resolve()
        base = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
        conn = sqlite3.connect(base, uri=True, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.OperationalError:
            if Path(f"{path}-wal").exists() or os.access(path.parent, os.W_OK):
                return conn            # its own error follows on first use, as before
            conn.close()
            return sqlite3.connect(base + "&immutable=1", uri=True, isolation_level=None, timeout=30,
                                   check_same_thread=False)

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                c.close()
            self._all.clear()
            if self._copy is not None:
                self._copy.close()
                self._copy = None
        self._local = threading.local()

    def _write(self):
        if self.readonly:
            raise ValueError(f"{self.path}: opened read-only")
        return _Tx(self._conn())

    # -- writes ---------------------------------------------------------------------------
    def new_interaction(self, question: str, answer: Answer, *, parent_id: str | None = None) -> str:
        """Record a question and the system's first turn; return the new interaction id."""
        iid = uuid.uuid4().hex
        with self._write() as c:
            c.execute("INSERT INTO interactions (id, created, question, parent_id, status, kind, state) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (iid, time.time(), question, parent_id, _status(answer), answer.kind, _json(answer)))
            self._turn(c, iid, 1, "question", question)
            self._system_turn(c, iid, 2, answer)
        return iid

    def clarify_state(self, interaction_id: str) -> tuple[Answer, int]:
        """The clarify Answer waiting for a reply and the interaction's version."""
        row = self._row(interaction_id)
        if row["status"] != "clarify":
            raise NotAwaitingReply(f"interaction {interaction_id} has no clarifying question waiting for a reply")
        return answer_from_dict(json.loads(row["state"])), row["version"]

    def add_reply(self, interaction_id: str, version: int, reply: str, answer: Answer) -> None:
        """Record the user's reply and the system's answer, if no other reply was taken since
        ``version`` (else :class:`NotAwaitingReply`)."""
        with self._write() as c:
            cur = c.execute("UPDATE interactions SET status = ?, kind = ?, state = ?, version = version + 1 "
                            "WHERE id = ? AND version = ? AND status = 'clarify'",
                            (_status(answer), answer.kind, _json(answer), interaction_id, version))
            if cur.rowcount != 1:
                raise NotAwaitingReply(f"interaction {interaction_id} already took a reply")
            seq = c.execute("SELECT MAX(seq) FROM turns WHERE interaction_id = ?", (interaction_id,)).fetchone()[0]
            self._turn(c, interaction_id, seq + 1, "reply", reply)
            self._system_turn(c, interaction_id, seq + 2, answer)

    def add_rating(self, interaction_id: str, rating: str, comment: str | None = None) -> int:
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}, got {rating!r}")
        with self._write() as c:
            self._require(c, interaction_id, answered=True)
            return c.execute("INSERT INTO ratings (interaction_id, rating, comment, created) VALUES (?, ?, ?, ?)",
                             (interaction_id, rating, comment, time.time())).lastrowid

    def add_followup(self, interaction_id: str, text: str, label: str, confidence: float | None,
                     classifier: str, answer: Answer | None, *, question: str | None = None,
                     picked_from: str | None = None) -> str | None:
        """Record a follow-up to ``interaction_id`` and, linked to it, the new interaction that
        answers it as a question (one transaction). Returns the new interaction id.

        ``question``: what the reader was asked, when it is not the typed ``text`` (a follow-up
        made to stand on its own, or the earlier question whose reading a correction picked); it
        becomes the new interaction's question, which pairs its logged spans for ``learn``. The
        typed text stays in the follow-up and as the new interaction's first turn. ``picked_from``:
        the interaction whose offered reading the answer is (see :meth:`offered`). ``answer``
        None: the follow-up only comments on the answer shown ("thanks", "that's wrong"); it is
        recorded with no new interaction, and None is returned."""
        if label not in FOLLOWUP_LABELS:
            raise ValueError(f"follow-up label must be one of {FOLLOWUP_LABELS}, got {label!r}")
        new_id = uuid.uuid4().hex if answer is not None else None
        with self._write() as c:
            self._require(c, interaction_id)
            if answer is not None:
                c.execute("INSERT INTO interactions (id, created, question, parent_id, status, kind, state, "
                          "picked_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (new_id, time.time(), question or text, interaction_id, _status(answer), answer.kind,
                           _json(answer), picked_from))
                self._turn(c, new_id, 1, "question", text)
                self._system_turn(c, new_id, 2, answer)
            c.execute("INSERT INTO followups (interaction_id, text, label, confidence, classifier, "
                      "next_interaction_id, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (interaction_id, text, label, confidence, classifier, new_id, time.time()))
        return new_id

    @staticmethod
    def _turn(c, iid: str, seq: int, role: str, text: str, answer: Answer | None = None) -> int:
        return c.execute("INSERT INTO turns (interaction_id, seq, role, text, answer, created) VALUES (?, ?, ?, ?, ?, ?)",
                         (iid, seq, role, text, _json(answer) if answer else None, time.time())).lastrowid

    def _system_turn(self, c, iid: str, seq: int, answer: Answer) -> None:
        role = "clarify" if answer.kind == "clarify" else "answer"
        text = (answer.clarifying_question or answer.text) if role == "clarify" else answer.text
        tid = self._turn(c, iid, seq, role, text, answer)
        rows = []
        for r in answer.readings:
            if not r.spans:
                rows.append((tid, r.label, r.answer, None, None, None, None, None, answer.model_version))
            for s in r.spans:
                rows.append((tid, r.label, r.answer, s.passage_id, s.text, s.start, s.end, s.probability,
                             answer.model_version))
        c.executemany("INSERT INTO reader_logs (turn_id, reading_label, answer, passage_id, span, span_start, "
                      "span_end, probability, model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    @staticmethod
    def _require(c, interaction_id: str, *, answered: bool = False) -> None:
        """``interaction_id`` exists (else :class:`UnknownInteraction`) and, with ``answered``,
        has an answer: no clarifying question waits (else :class:`AwaitingReply`)."""
        row = c.execute("SELECT status FROM interactions WHERE id = ?", (interaction_id,)).fetchone()
        if row is None:
            raise UnknownInteraction(interaction_id)
        if answered and row[0] == "clarify":
            raise AwaitingReply(f"interaction {interaction_id} waits for a reply to its clarifying question; "
                                "there is no answer yet to rate")

    # -- reads ----------------------------------------------------------------------------
    def _row(self, interaction_id: str) -> sqlite3.Row:
        row = self._conn().execute("SELECT * FROM interactions WHERE id = ?", (interaction_id,)).fetchone()
        if row is None:
            raise UnknownInteraction(interaction_id)
        return row

    def question(self, interaction_id: str) -> str:
        """The question an interaction answered."""
        return self._row(interaction_id)["question"]

    def parent(self, interaction_id: str) -> str | None:
        """The interaction a follow-up's interaction answers after (None for a first question)."""
        return self._row(interaction_id)["parent_id"]

    def state(self, interaction_id: str) -> Answer:
        """The latest Answer shown in an interaction."""
        return answer_from_dict(json.loads(self._row(interaction_id)["state"]))

    def shown(self, interaction_id: str) -> list[Answer]:
        """Every Answer shown in an interaction, oldest first (a clarifying question, then the
        answer its reply got)."""
        c = self._conn()
        self._require(c, interaction_id)
        rows = c.execute("SELECT answer FROM turns WHERE interaction_id = ? AND answer IS NOT NULL ORDER BY seq",
                         (interaction_id,)).fetchall()
        return [answer_from_dict(json.loads(r[0])) for r in rows]

    def offered(self, interaction_id: str, depth: int = 10) -> tuple[Answer, str, str] | None:
        """The last answer with several readings (a clarifying question or a complete answer)
        shown in the interaction or, failing that, in the ones it follows up (at most ``depth``
        back), with the question it answered and its interaction id; None when there is none."""
        iid: str | None = interaction_id
        for _ in range(depth):
            if iid is None:
                return None
            several = [a for a in self.shown(iid) if a.kind in ("multi", "clarify") and len(a.readings) >= 2]
            if several:
                return several[-1], self.question(iid), iid
            iid = self._row(iid)["parent_id"]
        return None

    def count(self, table: str) -> int:
        if table not in ("interactions", "turns", "reader_logs", "ratings", "followups"):
            raise ValueError(f"unknown table {table!r}")
        return self._conn().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # name from the list above

    def records(self) -> Iterator[dict[str, Any]]:
        """One training record per interaction, oldest first (the ``feedback export`` lines). A
        read-only store reads them all from one snapshot (a read transaction), so a server writing
        meanwhile never gives a record half of its new turns, or a rating without its answer."""
        c = self._conn()
        with self._snapshot(c):
            for row in c.execute("SELECT * FROM interactions ORDER BY created, id").fetchall():
                yield self._record(c, row)

    @contextlib.contextmanager
    def _snapshot(self, c: sqlite3.Connection):
        if not self.readonly or c.in_transaction:
            yield
            return
        c.execute("BEGIN")
        try:
            yield
        finally:
            c.execute("COMMIT")

    @staticmethod
    def _record(c, row: sqlite3.Row) -> dict[str, Any]:
        iid = row["id"]
        turns = []
        for t in c.execute("SELECT * FROM turns WHERE interaction_id = ? ORDER BY seq", (iid,)):
            logs = [dict(x) for x in c.execute(
                "SELECT reading_label, answer, passage_id, span, span_start, span_end, probability, model_version "
                "FROM reader_logs WHERE turn_id = ? ORDER BY id", (t["id"],))]
            turn = {"role": t["role"], "text": t["text"], "created": t["created"]}
            if t["answer"]:
                turn["answer"] = json.loads(t["answer"])
                turn["reader_logs"] = logs
            turns.append(turn)
        ratings = [dict(x) for x in c.execute(
            "SELECT rating, comment, created FROM ratings WHERE interaction_id = ? ORDER BY id", (iid,))]
        followups = [dict(x) for x in c.execute(
            "SELECT text, label, confidence, classifier, next_interaction_id, created FROM followups "
            "WHERE interaction_id = ? ORDER BY id", (iid,))]
        return {"interaction_id": iid, "created": row["created"], "question": row["question"],
                "parent_id": row["parent_id"], "picked_from": row["picked_from"], "status": row["status"],
                "kind": row["kind"],
                "final_answer": json.loads(row["state"]), "turns": turns, "ratings": ratings,
                "rating": ratings[-1]["rating"] if ratings else None, "followups": followups}

    def export(self, out: str | Path) -> int:
        """Write :meth:`records` as JSONL to ``out`` (``-``: standard output); return the number of
        records. A file is written beside ``out`` and moved into place (its folder is made), so a
        failed export leaves ``out`` as it was; an existing non-file (``/dev/stdout``, a pipe) is
        written directly (:func:`indexes.paths.write_atomic`). ``out`` may not be a directory, nor
        the database or its log files."""
        import sys

        from indexes.paths import write_atomic

        n = 0

        def lines() -> Iterator[str]:
            nonlocal n
            for rec in self.records():
                n += 1
                yield json.dumps(rec, ensure_ascii=False) + "\n"

        if str(out) == "-":
            sys.stdout.writelines(lines())
            sys.stdout.flush()
            return n
        out = Path(out)
        if out.is_dir():
            raise ValueError(f"{out}: is a directory; export to a file")
        if self.path != ":memory:":
            db = Path(self.path).resolve()
            if out.resolve() in {db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")}:
                raise ValueError(f"{out}: that is the feedback database (or its log) itself; export to another file")
        write_atomic(out, lambda f: f.writelines(line.encode("utf-8") for line in lines()))
        return n

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts: interactions by answer kind, ratings by rating, follow-ups by label."""
        c = self._conn()
        q = {"kind": "SELECT kind, COUNT(*) FROM interactions GROUP BY kind",
             "rating": "SELECT rating, COUNT(*) FROM ratings GROUP BY rating",
             "followup": "SELECT label, COUNT(*) FROM followups GROUP BY label"}
        with self._snapshot(c):
            return {name: {k: n for k, n in c.execute(sql)} for name, sql in q.items()}


class _Tx:
    """``with _Tx(conn) as c:`` runs a ``BEGIN IMMEDIATE`` transaction, committed on success."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _status(answer: Answer) -> str:
    return "clarify" if answer.kind == "clarify" else "answered"


def _json(answer: Answer) -> str:
    return json.dumps(answer.to_dict(), ensure_ascii=False)

"""``ambigrag serve`` as a user starts it (a real uvicorn process), then ``feedback export``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rag import cli

ROOT = Path(__file__).resolve().parents[3]
Q = "When was Bobby Carpenter drafted?"




@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 0), (signal.SIGTERM, -signal.SIGTERM)])
def test_serve_answers_on_localhost_and_export_has_the_rating(web_index, tmp_path, capsys, sig, status):
    """Stopped by Ctrl-C or by SIGTERM (systemd, docker stop, kill), the server closes the
    database: SIGTERM skipped it (uvicorn re-raises the signal after its shutdown), leaving rows
    in the write-ahead log that a copy of the database file alone lacked."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db, log = tmp_path / "fb.sqlite", tmp_path / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--index", str(web_index), "--port",
                                 str(port), "--feedback-db", str(db), "--extract", "llm", "--no-llm", "-k", "6"],
                                stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        with httpx.Client(base_url=url, timeout=120) as c:
            iid = c.post("/api/ask", json={"question": Q}).json()["interaction_id"]
            assert c.post("/api/reply", json={"interaction_id": iid, "text": "2"}).json()["kind"] == "answer"
            assert c.post("/api/feedback", json={"interaction_id": iid, "rating": "correct"}).status_code == 200
            assert c.post("/api/followup", json={"interaction_id": iid, "text": "thanks!"}).status_code == 200
        assert Path(f"{db}-wal").stat().st_size > 0  # acknowledged rows sit in the write-ahead log
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == status
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not Path(f"{db}-wal").exists()  # checkpointed on shutdown: the database file alone is complete
    shutil.copy(db, tmp_path / "copy.sqlite")
    db = tmp_path / "copy.sqlite"  # what a user who copies feedback.sqlite after stopping the server gets
    lines = log.read_text().splitlines()
    assert f"serving http://127.0.0.1:{port}" in "\n".join(lines)
    assert [ln.split("ambigrag.web: ")[1].rsplit(" ", 2)[0] for ln in lines if "ambigrag.web: " in ln] == [
        "GET /api/health 200", "POST /api/ask 200", "POST /api/reply 200", "POST /api/feedback 200",
        "POST /api/followup 200"]                       # one line per request
    assert [ln for ln in lines if "closed feedback database" in ln][0].endswith(
        f"closed feedback database {tmp_path / 'fb.sqlite'}") and "\n".join(lines).count("closed feedback") == 1
    out = tmp_path / "export.jsonl"
    assert cli.main(["-q", "feedback", "export", "--db", str(db), "--out", str(out)]) == 0
    [first] = [json.loads(x) for x in out.read_text().splitlines()]   # "thanks!" asks no new question
    assert first["question"] == Q and first["rating"] == "correct" and first["final_answer"]["readings"][0]["answer"] == "1981"
    assert [(f["label"], f["next_interaction_id"]) for f in first["followups"]] == [("positive", None)]
    assert cli.main(["-q", "serve", "--index", str(web_index), "--port", "70000"]) == 2
    assert "--port must be in 1..65535" in capsys.readouterr().err


def test_a_taken_port_is_refused_before_the_models_load(web_index, capsys, monkeypatch):
    """It loaded the models, created the database and logged "serving ..." before uvicorn's bind
    failed with status 3 and a log line of its own; without --index it built the default index
    (minutes on a first run) before refusing."""
    def default_index(*a, **k):
        raise AssertionError("the default index was built before the port was checked")

    monkeypatch.setattr("rag.defaults.default_index", default_index)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        t0 = time.monotonic()
        assert cli.main(["-q", "serve", "--index", str(web_index), "--port", str(port)]) == 2
        capsys.readouterr()
        assert cli.main(["-q", "serve", "--port", str(port)]) == 2
    assert time.monotonic() - t0 < 5
    assert capsys.readouterr().err.strip().endswith(
        f"cannot serve on 127.0.0.1:{port}: Address already in use (another server is using it? try --port)")

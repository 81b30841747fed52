"""The JSON API with the real app, the real model-free pipeline and a real SQLite store."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from fastapi.testclient import TestClient

from rag.web.app import MAX_BODY, MAX_TEXT

Q = "When was Bobby Carpenter drafted?"  # two readings in the example corpus (see conftest)


@pytest.fixture()
def client(make_app, tmp_path):
    app, store = make_app(tmp_path / "fb.sqlite")
    with TestClient(app) as c:
        c.db = tmp_path / "fb.sqlite"
        yield c


def rows(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_ask_clarify_reply_rate_round_trip_is_stored(client):
    r = client.post("/api/ask", json={"question": Q})
    assert r.status_code == 200
    d = r.json()
    assert d["kind"] == "clarify" and d["question"] == Q
    assert d["options"] == ["Bobby Carpenter, American football", "Bobby Carpenter, ice hockey"]
    assert d["clarifying_question"] == d["text"] and "(2) Bobby Carpenter, ice hockey" in d["text"]
    cites = {c["id"]: c for rd in d["readings"] for c in rd["citations"]}
    assert cites["bc-hockey"]["title"] == "Bobby Carpenter (ice hockey)"
    assert "Washington Capitals in 1981" in cites["bc-hockey"]["text"]
    iid = d["interaction_id"]
    assert rows(client.db, "SELECT status, kind, question FROM interactions WHERE id = ?", iid) == [("clarify", "clarify", Q)]

    r = client.post("/api/reply", json={"interaction_id": iid, "text": "the hockey player"})
    a = r.json()
    assert r.status_code == 200 and a["kind"] == "answer" and a["interaction_id"] == iid
    assert [(x["label"], x["answer"]) for x in a["readings"]] == [("Bobby Carpenter (ice hockey)", "1981")]
    assert a["readings"][0]["citations"][0]["id"] == "bc-hockey"
    assert a["text"] == f"1981 [{a['readings'][0]['citations'][0]['number']}]."
    assert rows(client.db, "SELECT role, text FROM turns WHERE interaction_id = ? ORDER BY seq", iid) == [
        ("question", Q), ("clarify", d["clarifying_question"]), ("reply", "the hockey player"), ("answer", a["text"])]
    logs = rows(client.db, "SELECT l.reading_label, l.answer FROM reader_logs l JOIN turns t ON t.id = l.turn_id "
                "WHERE t.interaction_id = ? AND t.role = 'answer'", iid)
    assert logs == [("Bobby Carpenter (ice hockey)", "1981")]

    r = client.post("/api/feedback", json={"interaction_id": iid, "rating": "partial", "comment": "ok"})
    assert r.status_code == 200 and r.json()["stored"] is True
    assert rows(client.db, "SELECT rating, comment FROM ratings WHERE interaction_id = ?", iid) == [("partial", "ok")]
    again = client.post("/api/reply", json={"interaction_id": iid, "text": "2"})
    assert again.status_code == 409 and "no clarifying question" in again.json()["error"]


def test_a_restarted_server_still_takes_the_reply(make_app, tmp_path):
    db = tmp_path / "fb.sqlite"
    app1, store1 = make_app(db)
    with TestClient(app1) as c1:
        iid = c1.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    store1.close()
    app2, _ = make_app(db)                   # a new app and store: nothing shared in memory
    with TestClient(app2) as c2:
        a = c2.post("/api/reply", json={"interaction_id": iid, "text": "1"}).json()
    assert a["kind"] == "answer" and a["readings"][0]["label"] == "Bobby Carpenter (American football)"
    assert a["readings"][0]["answer"] == "2006"


def test_followups_are_classified_linked_and_answered(client):
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    r = client.post("/api/followup", json={"interaction_id": iid, "text": "no, I meant the ice hockey player"})
    f = r.json()
    assert r.status_code == 200 and f["followup"]["label"] == "rephrase" and f["parent_id"] == iid
    assert f["kind"] == "answer" and f["readings"][0]["answer"] == "1981"   # the correction picks a reading
    new = client.post("/api/followup", json={"interaction_id": f["interaction_id"],
                                             "text": "Who won the 1950 Tour de France?"}).json()
    assert new["followup"]["label"] == "new_topic" and new["kind"] == "abstain"
    assert new["reason"] == "no supporting evidence in the retrieved passages"
    assert rows(client.db, "SELECT interaction_id, label, next_interaction_id FROM followups ORDER BY id") == [
        (iid, "rephrase", f["interaction_id"]), (f["interaction_id"], "new_topic", new["interaction_id"])]
    assert rows(client.db, "SELECT parent_id FROM interactions WHERE id = ?", new["interaction_id"]) == [(f["interaction_id"],)]
    # the correction's answer is the reading of Q, so learn pairs its spans with Q, not with the correction
    assert rows(client.db, "SELECT question FROM interactions WHERE id = ?", f["interaction_id"]) == [(Q,)]
    assert rows(client.db, "SELECT text FROM turns WHERE interaction_id = ? AND seq = 1", f["interaction_id"]) == [
        ("no, I meant the ice hockey player",)]


@pytest.mark.parametrize("remark, label", [("thanks", "positive"), ("no, that's wrong", "negative")])
def test_a_remark_on_the_answer_is_recorded_and_the_answer_stays(client, remark, label):
    """'thanks' (which the page's placeholder suggests) was searched as a question and replaced
    the answer with an abstention; it is implicit feedback on the answer shown."""
    first = client.post("/api/ask", json={"question": "Who is Bobby Carpenter?"}).json()
    f = client.post("/api/followup", json={"interaction_id": first["interaction_id"], "text": remark}).json()
    assert f["followup"]["label"] == label and f["followup"]["asked"] is None
    assert (f["interaction_id"], f["kind"], f["text"]) == (first["interaction_id"], first["kind"], first["text"])
    assert rows(client.db, "SELECT interaction_id, text, label, next_interaction_id FROM followups") == [
        (first["interaction_id"], remark, label, None)]
    assert rows(client.db, "SELECT count(*) FROM interactions") == [(1,)]
    rec = [json.loads(line) for line in _export(client)]
    assert [(r["interaction_id"], [x["label"] for x in r["followups"]]) for r in rec] == [(first["interaction_id"], [label])]


def test_a_question_or_correction_after_thanks_is_asked_not_kept_as_a_remark(client):
    """'Thanks! When was he drafted?' and 'wrong, Bobby Carpenter the hockey player' were stored as
    remarks and never asked; 'thanks' to a pending clarifying question rewarded the clarify."""
    first = client.post("/api/ask", json={"question": "Who is Bobby Carpenter?"}).json()
    f = client.post("/api/followup", json={"interaction_id": first["interaction_id"],
                                           "text": "Thanks! When was he drafted?"}).json()
    assert f["interaction_id"] != first["interaction_id"] and f["followup"]["asked"] == "Thanks! When was Bobby Carpenter drafted?"
    g = client.post("/api/followup", json={"interaction_id": first["interaction_id"],
                                           "text": "wrong, Bobby Carpenter the hockey player"}).json()
    assert g["interaction_id"] not in (first["interaction_id"], f["interaction_id"]) and g["followup"]["asked"]
    asked = client.post("/api/ask", json={"question": Q}).json()
    assert asked["kind"] == "clarify"
    h = client.post("/api/followup", json={"interaction_id": asked["interaction_id"], "text": "thanks"}).json()
    assert h["interaction_id"] != asked["interaction_id"] and h["followup"]["asked"] == "thanks"


def test_the_last_word_on_an_answer_sets_its_implicit_reward():
    from rag.feedback.policy_rows import interaction_reward

    rec = {"rating": None, "turns": [{"role": "question"}, {"role": "answer", "answer": {"kind": "single"}}],
           "final_answer": {"kind": "single"}}
    said = [{"label": "positive"}, {"label": "new_topic"}, {"label": "negative"}]
    assert interaction_reward({**rec, "followups": said[:2]}) == 0.5
    assert interaction_reward({**rec, "followups": said}) == -0.1   # "thanks", later "that's wrong"


def _export(client):
    from rag.feedback.store import FeedbackStore

    out = client.db.with_name("export.jsonl")
    store = FeedbackStore(client.db)
    try:
        store.export(out)
    finally:
        store.close()
    return out.read_text(encoding="utf-8").splitlines()


def test_a_followup_that_names_nobody_is_asked_about_the_previous_subject(client):
    """'no, I meant when was he drafted' was searched as typed and abstained; it is asked as
    'when was Bobby Carpenter drafted', which has the two readings of Q."""
    iid = client.post("/api/ask", json={"question": "Who is Bobby Carpenter?"}).json()["interaction_id"]
    typed = "no, I meant when was he drafted"
    f = client.post("/api/followup", json={"interaction_id": iid, "text": typed}).json()
    assert f["followup"]["label"] == "rephrase" and f["followup"]["asked"] == "when was Bobby Carpenter drafted?"
    assert f["question"] == "when was Bobby Carpenter drafted?"
    assert f["kind"] == "clarify"
    assert f["options"] == ["Bobby Carpenter, American football", "Bobby Carpenter, ice hockey"]
    assert rows(client.db, "SELECT question FROM interactions WHERE id = ?", f["interaction_id"]) == [
        ("when was Bobby Carpenter drafted?",)]
    assert rows(client.db, "SELECT text FROM followups WHERE interaction_id = ?", iid) == [(typed,)]
    assert rows(client.db, "SELECT text FROM turns WHERE interaction_id = ? AND seq = 1", f["interaction_id"]) == [
        (typed,)]
    a = client.post("/api/reply", json={"interaction_id": f["interaction_id"], "text": "hockey"}).json()
    assert [(x["label"], x["answer"]) for x in a["readings"]] == [("Bobby Carpenter (ice hockey)", "1981")]


def test_a_correction_after_the_reply_picked_the_other_reading(client):
    """The user replied "football", then says they meant hockey: the reading offered by the
    clarifying question, not a new search for "no, I meant the ice hockey player"."""
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    a = client.post("/api/reply", json={"interaction_id": iid, "text": "the American football player"}).json()
    assert a["kind"] == "answer" and a["readings"][0]["label"] == "Bobby Carpenter (American football)"
    f = client.post("/api/followup", json={"interaction_id": iid, "text": "no, I meant the ice hockey player"}).json()
    assert f["followup"]["label"] == "rephrase" and f["parent_id"] == iid
    assert f["kind"] == "answer" and f["readings"][0]["label"] == "Bobby Carpenter (ice hockey)"
    assert f["readings"][0]["answer"] == "1981"


@pytest.mark.parametrize("body, status, fragment", [
    ({"question": ""}, 422, "question: is empty"),
    ({"question": "   "}, 422, "question: is only whitespace"),
    ({"question": 42}, 422, "question: Input should be a valid string"),
    ({"question": ["a"]}, 422, "question: Input should be a valid string"),
    ({"question": "x" * (MAX_TEXT + 1)}, 422, f"at most {MAX_TEXT} characters"),
    ({}, 422, "question: Field required"),
    ({"question": "a?", "admin": True}, 422, "admin: Extra inputs are not permitted"),
])
def test_bad_questions_get_a_4xx_json_error(client, body, status, fragment):
    r = client.post("/api/ask", json=body)
    assert r.status_code == status and fragment in r.json()["error"]


def test_unknown_ids_bad_ratings_malformed_and_oversized_bodies(client):
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    for path, extra in (("/api/reply", {"text": "1"}), ("/api/feedback", {"rating": "correct"}),
                        ("/api/followup", {"text": "thanks"})):
        r = client.post(path, json={"interaction_id": "0" * 32, **extra})
        assert r.status_code == 404 and r.json()["error"] == f"unknown interaction_id {'0' * 32!r}"
    r = client.post("/api/feedback", json={"interaction_id": iid, "rating": "great"})
    assert r.status_code == 422 and "'correct', 'partial' or 'wrong'" in r.json()["error"]
    r = client.post("/api/ask", content=b'{"question": "a', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json() == {"error": "malformed JSON in the request body"}
    big = json.dumps({"question": "a" * MAX_BODY}).encode()
    r = client.post("/api/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json() == {"error": f"request body over {MAX_BODY} bytes"}
    r = client.post("/api/ask", content=iter([big[:9000], big[9000:]]), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json() == {"error": f"request body over {MAX_BODY} bytes"}   # chunked
    assert client.get("/api/nothing").json() == {"error": "Not Found"}
    assert rows(client.db, "SELECT COUNT(*) FROM ratings") == [(0,)]


def test_sql_in_user_text_is_stored_verbatim(client):
    evil = "x'); DROP TABLE ratings; --"
    d = client.post("/api/ask", json={"question": evil}).json()
    client.post("/api/feedback", json={"interaction_id": d["interaction_id"], "rating": "wrong", "comment": evil})
    assert rows(client.db, "SELECT question FROM interactions") == [(evil,)]
    assert rows(client.db, "SELECT comment FROM ratings") == [(evil,)]


def test_health_and_page(client):
    assert client.get("/api/health").json() == {"status": "ok", "interactions": 0}
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for path in ("/static/index.html", "/static/app.js", "/api/health", "/api/nothing"):   # /static/ had none
        r = client.get(path)
        assert r.headers["content-security-policy"] == page.headers["content-security-policy"], path
        assert r.headers["x-content-type-options"] == "nosniff", path
    assert client.get("/static/app.js").headers["cache-control"] == "no-cache"   # an upgrade's script is fetched
    assert "cache-control" not in client.get("/api/health").headers
    js = client.get("/static/app.js").text
    assert "textContent" in js and "innerHTML" not in js
    # the answer gets the focus and is read then; as a live region too it was read twice, and so
    # was every rating note inside it, which is a status of its own
    live = re.findall(r'<[^>]*\b(?:aria-live|role="status")[^>]*>', page.text)
    assert [re.search(r'id="([^"]+)"', tag).group(1) for tag in live] == ["status", "rating-status"]


def test_a_reply_naming_words_of_an_options_passages_picks_it(client):
    """Only the football passages say "Ohio State"; the stored clarification kept no passages,
    so the server asked again where `ask --interactive` picks football."""
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    a = client.post("/api/reply", json={"interaction_id": iid, "text": "the Ohio State one"}).json()
    assert a["kind"] == "answer" and a["readings"][0]["label"] == "Bobby Carpenter (American football)"


def test_a_correction_that_asks_a_new_question_is_not_taken_as_a_pick(client):
    """'I meant when was the football player born' names a reading but asks something else: it
    used to get the football reading of Q (its 2006), the answer to the old question."""
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    client.post("/api/reply", json={"interaction_id": iid, "text": "the hockey player"})
    f = client.post("/api/followup", json={"interaction_id": iid,
                                           "text": "I meant when was the football player born"}).json()
    assert f["followup"]["label"] == "rephrase" and f["followup"]["asked"] == "when was the football player born?"
    assert f["question"] == "when was the football player born?"


def test_corrections_switch_between_readings_across_followups(client):
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    f1 = client.post("/api/followup", json={"interaction_id": iid,
                                            "text": "no, I meant the American football player"}).json()
    assert [(x["label"], x["answer"]) for x in f1["readings"]] == [("Bobby Carpenter (American football)", "2006")]
    # on the follow-up's own interaction: the readings were offered by its parent's clarification
    f2 = client.post("/api/followup", json={"interaction_id": f1["interaction_id"],
                                            "text": "no, I meant the ice hockey player"}).json()
    assert [(x["label"], x["answer"]) for x in f2["readings"]] == [("Bobby Carpenter (ice hockey)", "1981")]
    assert f2["followup"]["asked"] == Q
    assert rows(client.db, "SELECT question FROM interactions WHERE id = ?", f2["interaction_id"]) == [(Q,)]
    # "the other one": the reading the last answer did not give
    f3 = client.post("/api/followup", json={"interaction_id": f2["interaction_id"], "text": "no, the other one"}).json()
    assert f3["followup"]["label"] == "rephrase"
    assert [(x["label"], x["answer"]) for x in f3["readings"]] == [("Bobby Carpenter (American football)", "2006")]


def test_a_chunked_body_over_the_limit_is_not_acted_on(client, caplog):
    """A valid rating followed by MAX_BODY spaces in a second chunk: the client got 413, but the
    handler had read the first chunk and stored the rating; neither was logged."""
    import logging

    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    head = json.dumps({"interaction_id": iid, "rating": "wrong"}).encode()
    with caplog.at_level(logging.INFO, logger="ambigrag.web"):
        r = client.post("/api/feedback", content=iter([head, b" " * (MAX_BODY + 1000)]),
                        headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert rows(client.db, "SELECT COUNT(*) FROM ratings") == [(0,)]
    assert [m.rsplit(" ", 2)[0] for m in caplog.messages if m.startswith("POST")] == ["POST /api/feedback 413"]


def test_http_details_a_client_relies_on(client):
    """`curl -d '{"question": ...}'` sends a form: it got 422 'Input should be a valid
    dictionary', which does not say what to fix; 405 lost its Allow header; HEAD was refused."""
    r = client.post("/api/ask", content=json.dumps({"question": Q}),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json() == {
        "error": "send the body as JSON with Content-Type: application/json (got application/x-www-form-urlencoded)"}
    r = client.get("/api/ask")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert client.head("/api/health").status_code == 200 and client.head("/").status_code == 200
    assert rows(client.db, "SELECT COUNT(*) FROM interactions") == [(0,)]


def test_a_handler_that_raises_is_logged_as_500(make_app, web_pipeline, tmp_path, monkeypatch, caplog):
    """The README promises one log line per request; a crash left only a traceback."""
    import logging

    def broken(*args, **kwargs):
        raise RuntimeError("reader fell over")

    monkeypatch.setattr(web_pipeline, "ask", broken)
    app, _ = make_app(tmp_path / "fb.sqlite")
    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.INFO, logger="ambigrag.web"):
        r = c.post("/api/ask", json={"question": Q})
    assert r.status_code == 500 and r.json() == {"error": "internal server error"}
    assert [m.rsplit(" ", 2)[0] for m in caplog.messages if m.startswith("POST")] == ["POST /api/ask 500"]


def test_a_statement_naming_a_reading_is_a_correction_and_an_unsure_label_teaches_nothing(client):
    """After the football answer, "ice hockey", "2" and "hmm" were labelled "positive" by the
    naive Bayes (its prior for words it never saw) and stored as thanks for the football answer,
    which stayed; the first two name the other reading, "hmm" says nothing about the answer."""
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    assert client.post("/api/reply", json={"interaction_id": iid, "text": "1"}).json()["readings"][0]["answer"] == "2006"
    for text in ("ice hockey", "2"):
        f = client.post("/api/followup", json={"interaction_id": iid, "text": text}).json()
        assert f["followup"] == {"label": "rephrase", "confidence": 1.0, "source": "picked-reading", "asked": Q}
        assert [(x["label"], x["answer"]) for x in f["readings"]] == [("Bobby Carpenter (ice hockey)", "1981")]
    h = client.post("/api/followup", json={"interaction_id": iid, "text": "hmm"}).json()
    assert h["followup"]["label"] == "new_topic" and h["followup"]["source"] == "nb-unsure-positive"
    assert h["followup"]["asked"] == "hmm" and h["interaction_id"] != iid
    sure = client.post("/api/followup", json={"interaction_id": iid, "text": "makes sense"}).json()   # nb 0.89
    assert sure["followup"]["label"] == "positive" and sure["followup"]["asked"] is None
    assert rows(client.db, "SELECT text, label, classifier FROM followups WHERE interaction_id = ? ORDER BY id", iid) == [
        ("ice hockey", "rephrase", "implicit-rules+nb-2/picked-reading"),
        ("2", "rephrase", "implicit-rules+nb-2/picked-reading"),
        ("hmm", "new_topic", "implicit-rules+nb-2/nb-unsure-positive"),
        ("makes sense", "positive", "implicit-rules+nb-2/nb")]


def test_the_other_one_asked_as_a_question_gets_the_other_reading(client):
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    client.post("/api/reply", json={"interaction_id": iid, "text": "the hockey player"})
    f = client.post("/api/followup", json={"interaction_id": iid, "text": "what about the other one?"}).json()
    assert [(x["label"], x["answer"]) for x in f["readings"]] == [("Bobby Carpenter (American football)", "2006")]


def test_no_rating_before_the_clarifying_question_is_answered(client):
    """A rating sent while the clarifying question waited was stored, and then read as the rating
    of the answer the reply got later."""
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    r = client.post("/api/feedback", json={"interaction_id": iid, "rating": "wrong"})
    assert r.status_code == 409 and "waits for a reply to its clarifying question" in r.json()["error"]
    client.post("/api/reply", json={"interaction_id": iid, "text": "2"})
    assert client.post("/api/feedback", json={"interaction_id": iid, "rating": "correct"}).status_code == 200
    assert rows(client.db, "SELECT rating FROM ratings") == [("correct",)]


def test_a_followup_made_too_long_by_its_subject_is_refused_naming_text(client):
    iid = client.post("/api/ask", json={"question": "Who is Bobby Carpenter?"}).json()["interaction_id"]
    text = "when was he drafted " + "really " * 139 + "?"
    assert len(text) <= MAX_TEXT
    r = client.post("/api/followup", json={"interaction_id": iid, "text": text})
    assert r.status_code == 422 and r.json()["error"].startswith("text: made to stand on its own ('when was Bobby Carpenter")
    assert f"the limit is {MAX_TEXT}" in r.json()["error"]


def test_a_reader_failure_is_a_500_with_its_message_and_the_page_headers(web_index, tmp_path):
    """It was "internal server error" without the page's security headers; the message the CLI
    prints ("the reader failed: ...") never reached the user. The pipeline is a stand-in: the real
    reader cannot be made to run out of memory on demand."""
    from rag.feedback.store import FeedbackStore
    from rag.web.app import create_app
    from readers.errors import ReaderError

    class Failing:
        def ask(self, question, interactive=False):
            raise ReaderError.from_backend(MemoryError("CUDA out of memory"))

    store = FeedbackStore(tmp_path / "fb.sqlite")
    with TestClient(create_app(Failing(), store), raise_server_exceptions=False) as c:
        r = c.post("/api/ask", json={"question": Q})
    store.close()
    assert r.status_code == 500 and r.json() == {"error": "the reader failed: MemoryError: CUDA out of memory"}
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"


def test_a_loopback_server_answers_only_its_own_host_names(web_pipeline, tmp_path):
    """A page on evil.example whose name was re-pointed at 127.0.0.1 (DNS rebinding) could use the
    API of a server bound there, rating and training on its behalf."""
    from rag.feedback.store import FeedbackStore
    from rag.web.app import LOOPBACK_HOSTS, create_app

    store = FeedbackStore(tmp_path / "fb.sqlite")
    app = create_app(web_pipeline, store, hosts=LOOPBACK_HOSTS)
    for base in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        with TestClient(app, base_url=base) as c:
            assert c.get("/api/health").status_code == 200, base
    with TestClient(app, base_url="http://evil.example:8000") as c:
        r = c.get("/api/health")
        bare = c.get("/api/health", headers={"host": ""})
    with TestClient(create_app(web_pipeline, store, hosts=LOOPBACK_HOSTS | {"proxy.example"}),
                    base_url="http://proxy.example") as c:
        proxied = c.get("/api/health")
    store.close()
    assert r.status_code == 400 and r.json()["error"].startswith("unexpected Host header 'evil.example:8000'")
    assert bare.status_code == 400 and proxied.status_code == 200   # --allow-host proxy.example


def test_a_path_cannot_write_a_log_line_of_its_own(client, caplog):
    with caplog.at_level("INFO", logger="ambigrag.web"):
        client.get("/x%0AINFO ambigrag.web: POST /api/feedback 200 1.0 ms")
    [line] = [r.getMessage() for r in caplog.records if r.name == "ambigrag.web"]
    assert "\n" not in line and line.startswith("GET /x\\nINFO ambigrag.web: POST /api/feedback 200 1.0 ms 404")


def test_an_interaction_can_be_fetched_again_as_the_page_showed_it(client):
    """A reload lost the conversation: the page kept it only in memory, and no route returned it."""
    asked = client.post("/api/ask", json={"question": Q}).json()
    iid = asked["interaction_id"]
    again = client.get(f"/api/interaction/{iid}").json()
    assert again == {**asked, "parent_id": None}           # a clarifying question still waiting
    answered = client.post("/api/reply", json={"interaction_id": iid, "text": "2"}).json()
    assert client.get(f"/api/interaction/{iid}").json() == {**answered, "parent_id": None}
    f = client.post("/api/followup", json={"interaction_id": iid, "text": "Who won the 1950 Tour de France?"}).json()
    got = client.get(f"/api/interaction/{f['interaction_id']}").json()
    assert got["parent_id"] == iid and (got["kind"], got["question"]) == ("abstain", "Who won the 1950 Tour de France?")
    r = client.get("/api/interaction/" + "0" * 32)
    assert r.status_code == 404 and r.json() == {"error": f"unknown interaction_id {'0' * 32!r}"}


def test_a_long_comment_in_escaped_json_fits_the_body_limit(client):
    """2,000 emoji, the comment limit, are 24 KB as ASCII-escaped JSON (Python's default): a 413
    under the 16 KiB body limit."""
    iid = client.post("/api/ask", json={"question": "Who is Bobby Carpenter?"}).json()["interaction_id"]
    body = json.dumps({"interaction_id": iid, "rating": "correct", "comment": "\U0001F600" * 2000})
    assert len(body) > 24000
    r = client.post("/api/feedback", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and rows(client.db, "SELECT length(comment) FROM ratings") == [(2000,)]


def test_a_confirmation_naming_the_reading_shown_is_a_remark_and_the_other_inside_a_question_is_asked(client):
    """'right, the hockey one' after the hockey answer was stored as a correction (a new
    interaction, reward -0.1 for a right answer); 'where was the other one born?' got the other
    reading's answer to the first question; 'thanks' while the clarifying question waited was
    stored as thanks for an answer that did not exist yet."""
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    h = client.post("/api/followup", json={"interaction_id": iid, "text": "thanks"}).json()
    assert (h["followup"]["label"], h["followup"]["source"]) == ("new_topic", "clarify-pending-positive")
    client.post("/api/reply", json={"interaction_id": iid, "text": "the hockey player"})
    r = client.post("/api/followup", json={"interaction_id": iid, "text": "right, the hockey one"}).json()
    assert r["interaction_id"] == iid and r["followup"]["label"] == "positive" and r["followup"]["asked"] is None
    q = client.post("/api/followup", json={"interaction_id": iid, "text": "where was the other one born?"}).json()
    assert q["followup"]["asked"] == "where was Bobby Carpenter (American football) born?" and q["interaction_id"] != iid
    assert rows(client.db, "SELECT text, label, classifier FROM followups WHERE interaction_id = ? ORDER BY id", iid) == [
        ("thanks", "new_topic", "implicit-rules+nb-2/clarify-pending-positive"),
        ("right, the hockey one", "positive", "implicit-rules+nb-2/rule:agree"),
        # a new question about the other reading says nothing of the answer shown (it was a rephrase)
        ("where was the other one born?", "new_topic", "implicit-rules+nb-2/other-asked")]


def test_the_first_question_again_about_the_other_one_picks_it(client):
    """'when was the other one drafted?' after 'When was Bobby Carpenter drafted?' is the question
    already asked, about the other reading: it was searched as typed ("the other one")."""
    iid = client.post("/api/ask", json={"question": Q}).json()["interaction_id"]
    client.post("/api/reply", json={"interaction_id": iid, "text": "the hockey player"})
    f = client.post("/api/followup", json={"interaction_id": iid, "text": "no, when was the other one drafted?"}).json()
    assert [(x["label"], x["answer"]) for x in f["readings"]] == [("Bobby Carpenter (American football)", "2006")]
    assert (f["followup"]["label"], f["followup"]["source"]) == ("rephrase", "picked-reading")
    assert f["followup"]["asked"] == Q

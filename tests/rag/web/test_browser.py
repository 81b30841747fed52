"""A real browser (Debian's chromium, driven by selenium through chromedriver) against a real
uvicorn server: ask the Bobby Carpenter example, pick a reading, rate it, find the row in SQLite.

Screenshots go to ``$AMBIGRAG_TEST_ARTIFACTS`` (default ``test-artifacts/`` in the checkout).
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

Q = "When was Bobby Carpenter drafted?"  # two readings in the example corpus (see conftest)
ARTIFACTS = Path(os.environ.get("AMBIGRAG_TEST_ARTIFACTS", Path(__file__).resolve().parents[3] / "test-artifacts"))
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1000,1100")


@pytest.fixture()
def live_server(make_app, tmp_path):
    import uvicorn

    db = tmp_path / "fb.sqlite"
    app, _ = make_app(db)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", db
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture()
def browser(tmp_path):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(apt-get install chromium chromium-driver; .ci/run does it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def test_ask_pick_a_reading_rate_and_find_the_row(live_server, browser):
    from selenium.webdriver.common.by import By

    url, db = live_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.get(url)
    browser.find_element(By.ID, "question").send_keys(Q)
    browser.find_element(By.ID, "ask-btn").click()
    options = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#options button.option"))
    assert [b.text for b in options] == ["Bobby Carpenter, American football", "Bobby Carpenter, ice hockey"]
    assert "Which do you mean" in browser.find_element(By.ID, "clarify-question").text
    assert not browser.find_element(By.ID, "rating").is_displayed()
    browser.save_screenshot(str(ARTIFACTS / "browser-clarify.png"))
    options[1].click()

    _wait(browser, lambda d: d.find_element(By.ID, "answer").is_displayed())
    assert browser.find_element(By.ID, "answer-text").text.startswith("1981 [")
    assert browser.find_element(By.CSS_SELECTOR, ".reading-label").text == "Bobby Carpenter (ice hockey)"
    summary = browser.find_element(By.CSS_SELECTOR, ".citations summary")
    cited = browser.find_element(By.ID, "answer-text").text.split("[")[1].split("]")[0]
    assert summary.text == f"[{cited}] Bobby Carpenter (ice hockey)"   # the number the text cites
    cite_text = browser.find_element(By.CSS_SELECTOR, ".citations .citation-text")
    assert not cite_text.is_displayed()
    summary.click()
    assert cite_text.is_displayed() and "Washington Capitals in 1981" in cite_text.text

    browser.find_element(By.ID, "rate-correct").click()
    _wait(browser, lambda d: d.find_element(By.ID, "rating-status").text == "Thanks, recorded: correct")
    browser.save_screenshot(str(ARTIFACTS / "browser-answer.png"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT i.question, i.kind, r.rating FROM ratings r JOIN interactions i "
                            "ON i.id = r.interaction_id").fetchall() == [(Q, "single", "correct")]
        assert [r for (r,) in conn.execute("SELECT role FROM turns ORDER BY id")] == [
            "question", "clarify", "reply", "answer"]


def test_a_reply_that_matches_no_option_says_why_and_stays_editable(live_server, browser):
    """The server's text for a second ask says why the reply missed; the page showed only the
    bare question again and emptied the reply box."""
    from selenium.webdriver.common.by import By

    url, _ = live_server
    browser.get(url)
    browser.find_element(By.ID, "question").send_keys(Q)
    browser.find_element(By.ID, "ask-btn").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#options button.option"))
    assert browser.find_element(By.ID, "clarify-question").text.startswith("Which do you mean")
    browser.find_element(By.ID, "reply-text").send_keys("the purple one")
    browser.find_element(By.ID, "reply-btn").click()
    _wait(browser, lambda d: d.find_element(By.ID, "clarify-question").text.startswith(
        "Sorry, I could not tell which one you mean"))
    assert "Which do you mean" in browser.find_element(By.ID, "clarify-question").text
    assert browser.find_element(By.ID, "reply-text").get_attribute("value") == "the purple one"


def test_follow_up_and_markup_in_passages_shows_as_text(live_server, browser):
    from selenium.webdriver.common.by import By

    url, db = live_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.get(url)
    browser.find_element(By.ID, "question").send_keys("Who won the 1950 Tour de France?")
    browser.find_element(By.ID, "ask-btn").click()
    _wait(browser, lambda d: d.find_element(By.ID, "abstain").is_displayed())
    assert browser.find_element(By.ID, "abstain-reason").text == "no supporting evidence in the retrieved passages"

    browser.find_element(By.ID, "followup-text").send_keys("What tools does a carpenter use?")
    browser.find_element(By.ID, "followup-btn").click()
    _wait(browser, lambda d: d.find_element(By.ID, "followup-note").text == "Your follow-up was read as: a new question")
    assert browser.find_element(By.ID, "asked").text == "Answering: What tools does a carpenter use?"
    _wait(browser, lambda d: d.find_element(By.ID, "answer").is_displayed())
    summary = browser.find_element(By.CSS_SELECTOR, ".citations summary")
    assert summary.text == "[1] Carpentry tools <script>alert(1)</script>"
    summary.click()
    text = browser.find_element(By.CSS_SELECTOR, ".citations .citation-text").text
    assert "<script>window.__pwned = 1</script>" in text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    browser.save_screenshot(str(ARTIFACTS / "browser-markup.png"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT f.text, f.label, i.question FROM followups f JOIN interactions i "
                            "ON i.id = f.next_interaction_id").fetchall() == [
            ("What tools does a carpenter use?", "new_topic", "What tools does a carpenter use?")]


def test_one_request_at_a_time_focus_follows_the_result_and_thanks_keeps_the_answer(live_server, browser):
    """Two quick option clicks sent two replies (the second showed a raw 409 under the answer);
    focus fell to <body> after every action; "thanks" replaced the answer with "No answer."."""
    from selenium.webdriver.common.by import By

    url, db = live_server
    browser.get(url)
    browser.find_element(By.ID, "question").send_keys(Q)
    browser.find_element(By.ID, "ask-btn").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#options button.option"))
    assert browser.execute_script("return document.activeElement.className") == "option"   # its first option
    browser.execute_script("const b = document.querySelectorAll('#options button'); b[0].click(); b[1].click();")
    _wait(browser, lambda d: d.find_element(By.ID, "answer").is_displayed())
    _wait(browser, lambda d: d.find_element(By.ID, "status").text == "")
    shown = browser.find_element(By.ID, "answer-text").text
    assert browser.execute_script("return document.activeElement.id") == "result"
    with sqlite3.connect(db) as conn:
        assert [t for (t,) in conn.execute("SELECT text FROM turns WHERE role = 'reply'")] == ["1"]
    browser.find_element(By.ID, "rate-correct").click()
    _wait(browser, lambda d: d.find_element(By.ID, "rating-status").text == "Thanks, recorded: correct")
    browser.find_element(By.ID, "followup-text").send_keys("thanks")
    browser.find_element(By.ID, "followup-btn").click()
    _wait(browser, lambda d: d.find_element(By.ID, "followup-note").text
          == "Thanks, noted as positive feedback on this answer.")
    assert browser.find_element(By.ID, "answer-text").text == shown
    assert browser.find_element(By.ID, "asked").text == f"You asked: {Q}"
    assert browser.find_element(By.ID, "rating-status").text == "Thanks, recorded: correct"   # the rating stays
    assert browser.find_element(By.ID, "rate-correct").get_attribute("aria-pressed") == "true"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT text, label, next_interaction_id FROM followups").fetchall() == [
            ("thanks", "positive", None)]


def test_a_reload_keeps_the_conversation_and_a_rating_takes_a_comment(live_server, browser):
    """A reload lost the conversation (an open clarifying question could never be answered from
    the page); the page had no box for the comment the API takes; maxlength cut a pasted question
    silently and counted an emoji as two."""
    from selenium.webdriver.common.by import By

    url, db = live_server
    browser.get(url)
    browser.find_element(By.ID, "question").send_keys(Q)
    browser.find_element(By.ID, "ask-btn").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#options button.option"))
    assert browser.execute_script("return document.activeElement.textContent") == "Bobby Carpenter, American football"
    browser.refresh()                                  # the clarifying question is back, and answerable
    options = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#options button.option"))
    assert browser.find_element(By.ID, "asked").text == f"You asked: {Q}"
    options[1].click()
    _wait(browser, lambda d: d.find_element(By.ID, "answer").is_displayed())
    browser.refresh()
    _wait(browser, lambda d: d.find_element(By.ID, "answer").is_displayed())
    assert browser.find_element(By.ID, "answer-text").text.startswith("1981 [")
    browser.find_element(By.ID, "rating-comment").send_keys("right player, thanks")
    browser.find_element(By.ID, "rate-correct").click()
    _wait(browser, lambda d: d.find_element(By.ID, "rating-status").text
          == "Thanks, recorded: correct, with your comment")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT rating, comment FROM ratings").fetchall() == [("correct", "right player, thanks")]
        n = conn.execute("SELECT COUNT(*) FROM interactions").fetchone()[0]
    box = browser.find_element(By.ID, "question")
    box.clear()
    browser.execute_script("arguments[0].value = '\U0001F600'.repeat(600) + 'x'.repeat(401)", box)
    browser.find_element(By.ID, "ask-btn").click()
    _wait(browser, lambda d: d.find_element(By.ID, "status").text
          == "Your question is 1001 characters long; the limit is 1000.")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == n   # nothing was sent
    browser.get(url + "/#" + "0" * 32)                 # a stale address: said, and the page is usable
    _wait(browser, lambda d: d.find_element(By.ID, "status").text.startswith("Could not show the earlier conversation"))
    assert browser.find_element(By.ID, "result").get_attribute("hidden") is not None

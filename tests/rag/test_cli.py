from __future__ import annotations

import json
import re

import pytest

from rag.cli import main


def test_index_build_and_search_json(sample_corpus, tmp_path, capsys):
    out = tmp_path / "idx"
    assert main(["-q", "index", "build", str(sample_corpus), "--out", str(out), "--no-dense"]) == 0
    assert "300 passages, kinds bm25" in capsys.readouterr().out
    assert main(["-q", "search", str(out), "rainbow six siege maps", "--mode", "bm25", "-k", "3", "--json"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert hits[0]["title"] == "Tom Clancy's Rainbow Six Siege"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_search_json_keeps_the_corpus_extra_fields(tmp_path, capsys):
    """A corpus's extra fields (a url) were stored but left out of search --json."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "title": "Alpha", "text": "alpha particles", "url": "https://x/a"}) + "\n"
                      + json.dumps({"id": "b", "title": "Beta", "text": "beta decay"}) + "\n")
    assert main(["-q", "index", "build", str(corpus), "--out", str(tmp_path / "i"), "--no-dense",
                 "--bm25-variant", "lucene"]) == 0
    capsys.readouterr()
    assert main(["-q", "search", str(tmp_path / "i"), "alpha", "--json"]) == 0
    [hit] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (hit["id"], hit["meta"]) == ("a", {"url": "https://x/a"})


def test_hybrid_search_text_output(small_index_dir, capsys):
    assert main(["-q", "search", str(small_index_dir), "rainbow six siege maps", "-k", "2"]) == 0
    out = capsys.readouterr().out
    ranked = [line for line in out.splitlines() if line[:3].strip().isdigit()]  # "  1  0.8123  [id] title"
    assert [line.split()[0] for line in ranked] == ["1", "2"]
    assert ranked[0].endswith("] Tom Clancy's Rainbow Six Siege")


def test_index_build_refuses_a_count_below_one(sample_corpus, tmp_path, capsys):
    for flag in ("--workers", "--encoder-threads", "--batch-size", "--max-record-bytes"):
        assert main(["-q", "index", "build", str(sample_corpus), "--out", str(tmp_path / "i"), flag, "0"]) == 2
        assert f"{flag} must be >= 1, got 0" in capsys.readouterr().err   # was "batch_size must be ..."
        assert not (tmp_path / "i").exists()
    assert main(["-q", "index", "build", str(sample_corpus), "--out", str(tmp_path / "i"), "--encoder-threads", "2"]) == 2
    assert "--encoder-threads sets ONNX Runtime's threads" in capsys.readouterr().err   # was ignored with torch


def test_an_encoder_that_cannot_be_had_is_refused_before_the_corpus_is_read(sample_corpus, tmp_path, capsys,
                                                                            monkeypatch):
    """An id missing from the cache failed after the whole corpus and BM25 were built, 74 s of the
    hub's retries later, with "We couldn't connect to 'https://huggingface.co'", naming no model."""
    def read_corpus(*a, **k):
        raise AssertionError("the corpus was read first")

    monkeypatch.setattr("indexes.index.read_corpus", read_corpus)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base = ["-q", "index", "build", str(sample_corpus), "--out", str(tmp_path / "i")]
    assert main([*base, "--encoder", "sentence-transformers/not-a-cached-model"]) == 2
    assert capsys.readouterr().err.strip() == (
        "ambigrag: error: --encoder sentence-transformers/not-a-cached-model: not a local model folder and not in "
        "the Hugging Face cache (HF_HUB_OFFLINE is set, so it cannot be downloaded)")
    assert main([*base, "--encoder", str(tmp_path / "no-model")]) == 2
    assert capsys.readouterr().err.strip() == f"ambigrag: error: --encoder {tmp_path / 'no-model'}: no such model folder"
    assert not (tmp_path / "i").exists()


def test_bad_corpus_gives_a_clear_error_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    assert main(["-q", "index", "build", str(bad), "--out", str(tmp_path / "i"), "--no-dense"]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl, line 2: field 'id': duplicate id 'a'" in err
    assert main(["-q", "index", "build", str(bad), "--out", str(tmp_path / "i"), "--no-dense",
                 "--skip-bad"]) == 0
    assert "1 bad records skipped" in capsys.readouterr().out


def test_search_missing_index_is_a_clear_error(tmp_path, capsys):
    assert main(["-q", "search", str(tmp_path), "query", "--mode", "bm25"]) == 2
    assert "not an ambigrag index" in capsys.readouterr().err


def test_a_missing_file_reads_as_the_path_not_the_errno(tmp_path, capsys):
    from rag.cli import error_text

    missing = tmp_path / "nope.jsonl"
    assert main(["-q", "learn-policy", "--outcomes", str(missing), "--out", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err == f"ambigrag: error: --outcomes {missing}: no such file or directory\n"
    assert main(["-q", "feedback", "crossval", "--data", str(tmp_path)]) == 2  # a directory: was a trace
    assert capsys.readouterr().err == f"ambigrag: error: {tmp_path}: is a directory\n"
    assert error_text(ValueError("--lr must be > 0")) == "--lr must be > 0"


def test_eval_policy_bad_input_fails_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    for flags, message in ((["--dev-limit", "0"], "--dev-limit must be >= 1, got 0"),
                           (["--max-passages", "0"], "--max-passages must be >= 1, got 0"),
                           (["--dev", str(tmp_path / "dev.json")], f"--dev {tmp_path / 'dev.json'}: no such file"),
                           # refused only after the retrieval and the simulation:
                           (["--train-limit", "4"], "--train-limit 4: the ridge strength is chosen by 5-fold"),
                           (["--ramdocs", __file__], "--ramdocs names the RAMDocs file of --ramdocs-oof"),  # ignored
                           (["--train", __file__, "--dev", __file__], f"--train {__file__} is the --dev file")):
        assert main(["-q", "eval", "policy", "--out", str(out), *flags]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()  # before the output directory and the index


def test_dev_questions_are_refused_as_training_data_whatever_the_file_is_called(shared_data, tmp_path, capsys):
    """A copy of dev_light.json as --train, and train_light as --dev (the default --train), were
    trained and scored: the check compared paths only."""
    import shutil

    copy = shutil.copy(shared_data / "ambigqa" / "dev_light.json", tmp_path / "mine.json")
    train_light = shared_data / "ambigqa" / "train_light.json"
    by_id = r"--train \S+: 2002 of its 2002 questions are in \S+dev_light.json \(e\.g\. id .*it would be scored on"
    for argv, message in ((["eval", "policy", "--train", str(copy)], by_id),
                          (["eval", "policy", "--dev", str(train_light)],
                           rf"--train {train_light} is the --dev file: the policy would be scored on"),
                          (["train", "ambiguity", "--train", str(copy), "--models", "question"], by_id)):
        out = tmp_path / "out"
        assert main(["-q", *argv, "--out", str(out)]) == 2
        assert re.search(message, capsys.readouterr().err) and not out.exists()


def test_train_ambiguity_names_unknown_models(tmp_path, capsys):
    assert main(["-q", "train", "ambiguity", "--out", str(tmp_path / "a"), "--models", "question,nope"]) == 2
    assert "--models must be a comma-separated subset of question,evidence, got 'question,nope'" in \
        capsys.readouterr().err


def test_train_ambiguity_checks_its_files_before_encoding(tmp_path, capsys, monkeypatch):
    """A missing --threshold-data or --index was reported after encoding every training question."""
    def encode(questions):
        raise AssertionError("encoded before the inputs were checked")

    monkeypatch.setattr("rag.commands.ambiguity_cli._encode", encode)
    base = ["-q", "train", "ambiguity", "--out", str(tmp_path / "a")]
    assert main([*base, "--models", "question", "--threshold-data", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: no such file" in capsys.readouterr().err
    assert main([*base, "--models", "evidence", "--threshold-data", "none", "--index", str(tmp_path / "noidx")]) == 2
    assert f"{tmp_path / 'noidx'} does not exist" in capsys.readouterr().err


def test_eval_ambiguity_checks_its_models_before_retrieval(tmp_path, capsys):
    assert main(["-q", "eval", "ambiguity", "--models", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"ambigrag: error: {tmp_path / 'ambiguity_question'}")


def test_search_with_an_index_and_no_query_says_the_query_is_missing(small_index_dir, tmp_path, capsys,
                                                                     monkeypatch):
    """It built the default index (minutes on the real corpus) and searched for the path's text."""
    from rag import defaults

    monkeypatch.setattr(defaults, "default_index", lambda **kw: pytest.fail("the default index was built"))
    assert main(["-q", "search", str(small_index_dir)]) == 2
    assert capsys.readouterr().err == (f"ambigrag: error: search {small_index_dir}: a query is missing "
                                       "(search [INDEX_DIR] QUERY)\n")


def test_a_cuda_device_torch_cannot_use_is_one_line_before_any_work(sample_corpus, small_index_dir, tmp_path,
                                                                     capsys, monkeypatch):
    """--device cuda on a CPU build of torch was a traceback ('Torch not compiled with CUDA enabled'),
    for index build after the corpus was read."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    message = "ambigrag: error: device 'cuda': torch sees no CUDA GPU"
    assert main(["-q", "index", "build", str(sample_corpus), "--out", str(tmp_path / "i"), "--device", "cuda"]) == 2
    assert capsys.readouterr().err.startswith(message) and not (tmp_path / "i").exists()
    assert main(["-q", "search", str(small_index_dir), "rainbow six", "--device", "cuda"]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_search_refuses_encoder_threads_it_would_ignore(small_index_dir, capsys):
    """--encoder-threads -5 searched, and 2 was ignored on an index that encodes with torch."""
    assert main(["-q", "search", str(small_index_dir), "maps", "--encoder-threads", "-5"]) == 2
    assert "--encoder-threads must be >= 1, got -5" in capsys.readouterr().err
    assert main(["-q", "search", str(small_index_dir), "maps", "--encoder-threads", "2"]) == 2
    assert "encodes queries with torch, which uses its own (OMP_NUM_THREADS)" in capsys.readouterr().err
    assert main(["-q", "search", str(small_index_dir), "maps", "--mode", "bm25", "--encoder-threads", "2"]) == 0


def test_quiet_hides_the_progress_bars_of_its_command_only(sample_corpus, tmp_path, capsys):
    """-q promised only warnings and errors, yet index build drew its bars."""
    import os

    assert main(["-q", "index", "build", str(sample_corpus), "--out", str(tmp_path / "a"), "--no-dense"]) == 0
    assert "reading corpus" not in capsys.readouterr().err and "AMBIGRAG_QUIET" not in os.environ
    assert main(["index", "build", str(sample_corpus), "--out", str(tmp_path / "b"), "--no-dense"]) == 0
    assert "reading corpus + BM25: 300 passages" in capsys.readouterr().err



def test_quiet_hides_the_encoders_progress_bar_too(encoder, monkeypatch, capfd):
    """`eval ambiguity -q` still drew sentence-transformers' "Batches" bar: encode(progress=True)
    passed it through without asking indexes.progress.hidden()."""
    monkeypatch.setenv("AMBIGRAG_QUIET", "1")
    encoder.encode(["a question"] * 3, progress=True)
    assert "Batches" not in capfd.readouterr().err
    monkeypatch.delenv("AMBIGRAG_QUIET")
    encoder.encode(["a question"] * 3, progress=True)
    assert "Batches" in capfd.readouterr().err

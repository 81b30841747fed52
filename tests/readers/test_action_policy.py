"""The learned action policy: per-action ridge regression, bandit rows, save/load."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from readers.action_policy import (
    ACTIONS,
    FEATURE_NAMES,
    ActionPolicy,
    available,
    policy_features,
    reader_features,
)
from readers.types import Answer, Reading, SpanLog

N = len(FEATURE_NAMES)
SAME = FEATURE_NAMES.index("same_name")


def _two_groups(n: int = 40, seed: int = 0):
    """Half the rows (same_name 0) reward one answer, half (same_name 1) reward clarifying."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N))
    x[:, SAME] = np.repeat([0.0, 1.0], n // 2)
    r = np.where(x[:, [SAME]] == 0, [0.8, 0.5, 0.2, 0.0], [-0.1, 0.4, 0.7, 0.0]) + rng.normal(0, 0.01, (n, 4))
    return x, r


def test_fit_recovers_the_best_action_per_group():
    x, r = _two_groups()
    pol = ActionPolicy.fit(x, r, lam=1.0)
    assert pol.choose(x) == ["single"] * 20 + ["clarify"] * 20
    # with one reading the clarifying group is better off abstaining (single is -0.1 there)
    assert pol.choose(x[20:22], [("single", "abstain")] * 2) == ["abstain", "abstain"]
    assert pol.meta["n_known"] == [40, 40, 40, 40]


def test_bandit_rows_fit_only_the_action_taken():
    """Rows with one known reward (a rated action) train that action's regression only."""
    x, r = _two_groups()
    partial = np.full_like(r, np.nan)
    partial[:20, 0] = r[:20, 0]          # users rated the single answers of the first group
    partial[20:, 2] = r[20:, 2]          # and the clarifications of the second
    pol = ActionPolicy.fit(x, partial, lam=1.0)
    assert pol.meta["n_known"] == [20, 0, 20, 0]
    assert pol.coef[1].tolist() == [0.0] * N and pol.bias[1] == 0.0   # never observed: predicts 0
    u = pol.utilities(x)
    assert u[:20, 0].mean() == pytest.approx(0.8, abs=0.01)
    assert u[20:, 2].mean() == pytest.approx(0.7, abs=0.01)


def test_save_load_round_trip_and_refusals(tmp_path):
    x, r = _two_groups()
    pol = ActionPolicy.fit(x, r, lam=3.0, meta={"trained_on": "unit"})
    d = pol.save(tmp_path / "p")
    back = ActionPolicy.load(d)
    assert np.array_equal(back.utilities(x), pol.utilities(x))
    assert back.meta["trained_on"] == "unit" and back.meta["lam"] == 3.0
    m = json.loads((d / "manifest.json").read_text())
    m["features"] = m["features"][:-1]
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="manifest features"):
        ActionPolicy.load(d)
    with pytest.raises(ValueError, match=r"missing/manifest.json: no policy manifest$"):
        ActionPolicy.load(tmp_path / "missing")
    (d / "manifest.json").write_text("[1]")  # valid JSON, not a manifest: was an AttributeError
    with pytest.raises(ValueError, match=r"p/manifest.json: not a policy manifest$"):
        ActionPolicy.load(d)
    (d / "manifest.json").write_text("{")
    with pytest.raises(ValueError, match=r"p/manifest.json: cannot read \("):
        ActionPolicy.load(d)


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"features have shape \(3, 2\)"):
        ActionPolicy.fit(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"rewards have shape \(3, 3\)"):
        ActionPolicy.fit(np.zeros((3, N)), np.zeros((3, 3)))


def _answer(*readings: Reading) -> Answer:
    return Answer("clarify" if len(readings) > 1 else "single", readings)


def test_reader_features_and_available_actions():
    a = Reading("Bobby Carpenter (ice hockey)", "Washington Capitals", ("p1", "p2"), 2.0,
                (SpanLog("p1", "Washington Capitals", 0, 19, 0.9), SpanLog("p2", "Capitals", 3, 11, 0.5)))
    b = Reading("Bobby Carpenter (American football)", "Dallas Cowboys", ("p3",), 1.0,
                (SpanLog("p3", "Dallas Cowboys", 0, 14, 0.7),))
    f = reader_features(_answer(a, b))
    assert f.tolist() == pytest.approx([2, 2, 2.0, 0.5, 0.9, 0.7, 1.0, 3])
    assert reader_features(Answer("abstain")).tolist() == [0] * 8
    assert available(Answer("abstain")) == ("abstain",)
    assert available(_answer(a)) == ("single", "abstain")
    assert available(_answer(a, b)) == ACTIONS
    row = policy_features("Which team did Bobby Carpenter play for?", [], _answer(a, b))
    assert row.shape == (N,) and not any(math.isnan(v) for v in row)
    assert row[FEATURE_NAMES.index("n_readings")] == 2 and row[FEATURE_NAMES.index("wh_which")] == 1


def test_reader_with_a_learned_policy_takes_its_action():
    """AmbigReader(action_policy=...) on two same-name readings: the policy fitted to clarify on
    same-name evidence clarifies when interactive and otherwise gives its next best (complete)."""
    from indexes.types import Hit, Passage
    from readers.reader import AmbigReader

    hits = [Hit(Passage("a", "Bobby Carpenter (ice hockey)", "He played ice hockey for the Capitals."), 1, 1, "x"),
            Hit(Passage("b", "Bobby Carpenter (American football)", "He played American football for the Cowboys."),
                1, 2, "x")]
    x, r = _two_groups()
    r[20:, 1] = 0.6                      # on same-name evidence: clarify 0.7 > complete 0.6 > single
    pol = ActionPolicy.fit(x, r, lam=1.0)
    q = "Which team did Bobby Carpenter play for?"
    asked = AmbigReader(action_policy=pol).read(q, hits, interactive=True)
    assert asked.kind == "clarify" and sorted(o.label for o in asked.readings) == sorted(h.passage.title for h in hits)
    told = AmbigReader(action_policy=pol).read(q, hits)
    assert told.kind == "multi" and told.text == AmbigReader().read(q, hits).text
    never = ActionPolicy.fit(x, np.tile([-0.1, -0.1, -0.2, 0.0], (40, 1)), lam=1.0)
    out = AmbigReader(action_policy=never).read(q, hits, interactive=True)
    assert out.kind == "abstain" and out.reason.startswith("the learned policy expects no answer")


def test_p_ambiguous_feature_defaults_to_one():
    row = policy_features("Who won?", [], Answer("abstain"))
    assert row[FEATURE_NAMES.index("p_ambiguous")] == 1.0
    assert policy_features("Who won?", [], Answer("abstain"), 0.25)[-1] == 0.25


def test_out_of_fold_probability_ignores_the_question_own_label():
    """A question's out-of-fold P(ambiguous) comes from models that never saw it: flipping its
    own label leaves it unchanged, while the other folds' probabilities move."""
    from readers.ambiguity import FeatureSpec
    from readers.ambiguity_train import out_of_fold

    rng = np.random.default_rng(1)
    recs = [{"question": f"Who won the {y} cup final?", "annotations": [{"type": t}]}
            for y, t in zip(range(1960, 2000), rng.choice(["singleAnswer", "multipleQAs"], 40))]
    emb = rng.normal(size=(40, 8)).astype(np.float32)
    spec = FeatureSpec(embedding=True, lexical=True, evidence=False, dim=8)
    p = out_of_fold(recs, emb, spec, folds=4)
    flipped = [dict(r) for r in recs]
    t = recs[0]["annotations"][0]["type"]
    flipped[0] = {**recs[0], "annotations": [{"type": "singleAnswer" if t == "multipleQAs" else "multipleQAs"}]}
    q = out_of_fold(flipped, emb, spec, folds=4)
    assert q[0] == p[0]
    assert int((q != p).sum()) == 30            # the 30 questions of the other three folds
    with pytest.raises(ValueError, match="need folds >= 2"):
        out_of_fold(recs[:3], emb[:3], spec, folds=5)


def test_save_refuses_a_directory_that_is_not_a_policy(tmp_path):
    """`learn-policy --out` pointed at an index overwrote its manifest.json (through the link the
    index keeps there), and the index was gone."""
    x, r = _two_groups()
    pol = ActionPolicy.fit(x, r, lam=3.0)
    index = tmp_path / "index"
    index.mkdir()
    (index / "real-manifest.json").write_text('{"format": "ambigrag-index"}')
    (index / "manifest.json").symlink_to("real-manifest.json")
    with pytest.raises(ValueError, match=r"index: holds other files \(manifest.json, real-manifest.json\) and no "
                                         r"saved action policy"):
        pol.save(index)
    assert (index / "real-manifest.json").read_text() == '{"format": "ambigrag-index"}'
    d = pol.save(tmp_path / "p")
    assert pol.save(d) == d and sorted(p.name for p in d.iterdir()) == ["manifest.json", "weights.npz"]  # replaced


def test_broken_weights_are_named(tmp_path):
    x, r = _two_groups()
    d = ActionPolicy.fit(x, r, lam=3.0).save(tmp_path / "p")
    np.savez(d / "weights.npz", mean=np.zeros(3))
    with pytest.raises(ValueError, match=r"p/weights.npz: cannot read the policy weights"):
        ActionPolicy.load(d)
    (d / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"p/weights.npz: cannot read the policy weights"):
        ActionPolicy.load(d)


def test_save_into_a_link_or_the_current_folder(tmp_path, monkeypatch):
    """A linked --out was replaced by a real folder and a dangling link left beside it;
    `learn-policy --out .` failed after the work ("PosixPath('.') has an empty name")."""
    x, r = _two_groups()
    pol = ActionPolicy.fit(x, r, lam=3.0)
    (tmp_path / "real").mkdir()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    pol.save(link)
    pol.save(link)                                                   # replaced through the link, twice
    assert link.is_symlink() and sorted(p.name for p in (tmp_path / "real").iterdir()) == ["manifest.json", "weights.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]   # nothing left aside
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    pol.save(".")
    np.testing.assert_allclose(ActionPolicy.load(here).coef, pol.coef)

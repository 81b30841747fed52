"""Fusion maths against hand-computed rankings; determinism; ties by passage id."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rag.types import Hit, Passage
from retrievers.fusion import (
    convex_fusion,
    distribution_based_fusion,
    hybrid_convex,
    normalise_scores,
    reciprocal_rank_fusion,
)

P = {i: Passage(i, f"T{i}", f"text {i}") for i in "abcdef"}


def run(*pairs, source="x"):
    return [Hit(P[pid], s, r + 1, source) for r, (pid, s) in enumerate(pairs)]


R1 = run(("a", 10.0), ("b", 8.0), ("c", 1.0))
R2 = run(("c", 0.9), ("a", 0.5), ("d", 0.4))


def ids(hits):
    return [h.passage.id for h in hits]


def test_rrf_hand_computed():
    fused = reciprocal_rank_fusion([R1, R2])
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, d: 1/63
    expected = {"a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61, "b": 1 / 62, "d": 1 / 63}
    assert ids(fused) == ["a", "c", "b", "d"]
    for h in fused:
        assert h.score == pytest.approx(expected[h.passage.id])
    assert [h.rank for h in fused] == [1, 2, 3, 4] and fused[0].source == "rrf"


def test_rrf_weights_and_k():
    fused = reciprocal_rank_fusion([R1, R2], k=2, weights=(1.0, 3.0))
    # c: 1/63 + 3/61 = .0651 ; a: 1/61 + 3/62 = .0648
    assert ids(fused) == ["c", "a"]  # k=2 keeps the top two
    assert [h.score for h in fused] == pytest.approx([1 / 63 + 3 / 61, 1 / 61 + 3 / 62])
    assert ids(reciprocal_rank_fusion([R1, R2], weights=(1.0, 3.0))) == ["c", "a", "d", "b"]  # d: 3/63 > b: 1/62
    assert [h.score for h in reciprocal_rank_fusion([R1, R2], rrf_k=0)] == pytest.approx([1 + 1 / 2, 1 / 3 + 1, 1 / 2, 1 / 3])
    with pytest.raises(ValueError, match="2 weights"):
        reciprocal_rank_fusion([R1], weights=(1, 2))


def test_rrf_ties_break_by_passage_id_whatever_the_input_order():
    x, y = run(("b", 1.0)), run(("a", 1.0))
    assert ids(reciprocal_rank_fusion([x, y])) == ["a", "b"]
    assert ids(reciprocal_rank_fusion([y, x])) == ["a", "b"]


def test_minmax_convex_hand_computed():
    fused = convex_fusion([R1, R2], weights=(0.5, 0.5))
    # R1 minmax: a 1, b 7/9, c 0 ; R2: c 1, a .2, d 0 ; missing -> 0
    expected = {"a": 0.5 * 1 + 0.5 * 0.2, "b": 0.5 * 7 / 9, "c": 0.5 * 0 + 0.5 * 1, "d": 0.0}
    assert ids(fused) == ["a", "c", "b", "d"]
    for h in fused:
        assert h.score == pytest.approx(expected[h.passage.id])


def test_zscore_convex_and_missing_documents_get_run_minimum():
    fused = convex_fusion([R1, R2], normalise="zscore")
    z1 = dict(zip("abc", normalise_scores(np.array([10.0, 8.0, 1.0]), "zscore")))
    z2 = dict(zip("cad", normalise_scores(np.array([0.9, 0.5, 0.4]), "zscore")))
    expected = {"a": z1["a"] + z2["a"], "b": z1["b"] + min(z2.values()), "c": z1["c"] + z2["c"],
                "d": min(z1.values()) + z2["d"]}
    for h in fused:
        assert h.score == pytest.approx(expected[h.passage.id])
    with pytest.raises(ValueError, match="normalise"):
        convex_fusion([R1], normalise="rank")


def test_dbsf_hand_computed():
    s = np.array([10.0, 8.0, 1.0])
    mu, sd = s.mean(), s.std()
    a_expected = (10 - (mu - 3 * sd)) / (6 * sd)
    fused = distribution_based_fusion([R1])
    assert fused[0].passage.id == "a" and fused[0].score == pytest.approx(a_expected)
    # (s - (mu - 3 sd)) / (6 sd) for every hit: b and c sit below a in the same proportion
    assert ids(fused) == ["a", "b", "c"]
    assert [h.score for h in fused] == pytest.approx([(x - (mu - 3 * sd)) / (6 * sd) for x in s])
    assert distribution_based_fusion([run(("a", 1.0), ("b", 1.0))])[0].score == 0.5


def test_default_hybrid_weights_favour_dense_run():
    dense, sparse = run(("a", 0.9), ("b", 0.1)), run(("b", 20.0), ("a", 10.0))
    fused = hybrid_convex([dense, sparse])
    assert ids(fused) == ["a", "b"]  # a: .7*1 + .3*0 = .7 ; b: 0 + .3 = .3
    assert [h.score for h in fused] == pytest.approx([0.7, 0.3])


def test_fusion_is_deterministic_under_shuffled_input():
    rng = random.Random(0)
    runs = [run(*[(p, rng.random()) for p in rng.sample("abcdef", 5)]) for _ in range(3)]
    for fuse in (reciprocal_rank_fusion, convex_fusion, distribution_based_fusion):
        a = [(h.passage.id, h.score) for h in fuse(runs)]
        b = [(h.passage.id, h.score) for h in fuse(list(reversed(runs)))]
        assert [x for x, _ in a] == [x for x, _ in b]
        assert np.allclose([s for _, s in a], [s for _, s in b])


def test_a_run_with_one_hit_or_ties_still_lifts_what_it_found():
    """A one-hit (or all-tied) run normalised every document to its top value, missing ones
    included, so BM25's only hit got no boost at all (and finding more made it count)."""
    from indexes.types import Hit, Passage
    from retrievers.fusion import convex_fusion, distribution_based_fusion

    def h(i, s):
        return Hit(Passage(i, "", ""), s, 1, "x")

    dense, one = [h("a", 0.9), h("b", 0.8), h("c", 0.1)], [h("b", 5.0)]
    for fuse in (lambda r: convex_fusion(r, weights=(0.7, 0.3)),
                 lambda r: convex_fusion(r, weights=(0.7, 0.3), normalise="zscore"),
                 lambda r: distribution_based_fusion(r, weights=(0.7, 0.3))):
        assert [x.passage.id for x in fuse([dense, one])][0] == "b"
        assert [x.passage.id for x in fuse([dense, [h("b", 5.0), h("c", 5.0)]])][:2] == ["b", "a"]
    assert [round(x.score, 4) for x in convex_fusion([dense, one], weights=(0.7, 0.3))] == [0.9125, 0.7, 0.0]


def test_fusion_and_wrapper_arguments_are_checked():
    import math

    from indexes.types import Hit, Passage
    from retrievers.diversity import MMR
    from retrievers.factory import resolve_mode
    from retrievers.fusion import convex_fusion, reciprocal_rank_fusion
    from retrievers.multi import MultiQueryRetriever, rewrites_of

    run = [Hit(Passage(i, "", ""), s, r, "x") for r, (i, s) in enumerate([("a", 2.0), ("b", 1.0)], 1)]
    for k in (0, -1, 1.5, True):   # k=-1 used to drop the last hit, k=0 to return []
        with pytest.raises(ValueError, match=f"k must be an integer >= 1 \\(or None for all\\), got {k!r}"):
            reciprocal_rank_fusion([run], k=k)
    for w in ((math.nan, 1.0), (-0.5, 1.0), (math.inf, 0.0)):
        with pytest.raises(ValueError, match="weights must be finite and >= 0"):
            convex_fusion([run, run], weights=w)
    with pytest.raises(ValueError, match="depth must be >= 1, got 0"):
        MMR(None, None, None, None, depth=0)
    with pytest.raises(ValueError, match="original_weight must be finite and >= 0, got -1"):
        MultiQueryRetriever(None, lambda q: [q], original_weight=-1)
    with pytest.raises(TypeError, match="returned NoneType; it must return a list of strings"):
        rewrites_of(lambda q: None, "who?")
    with pytest.raises(ValueError, match="the index has no retrievable part"):
        resolve_mode([], "auto")

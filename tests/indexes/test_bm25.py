from __future__ import annotations

import re

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from indexes.bm25 import BM25Params, build_bm25, idf_lucene, idf_okapi
from indexes.tokenize import Tokenizer


def texts_of(records):
    return [f"{r['title']} {r['text']}" for r in records]


@pytest.mark.parametrize("tok", [Tokenizer(), Tokenizer(stopwords=None, stemmer=None), Tokenizer(stemmer=None)],
                         ids=["default-stem-stopwords", "plain", "stopwords-only"])
def test_okapi_scores_equal_rank_bm25_on_real_sample(sample_records, dev_questions, tok):
    texts = texts_of(sample_records)
    ours = build_bm25(texts, tok)
    ref = BM25Okapi([tok(t) for t in texts])  # k1=1.5, b=0.75, epsilon=0.25
    queries = [q["question"] for q in dev_questions[:40]] + [sample_records[5]["title"] * 2, "the of and"]
    for q in queries:
        np.testing.assert_allclose(ours.get_scores(q), ref.get_scores(tok(q)), rtol=1e-5, atol=1e-5)


def test_okapi_idf_floor_applies_to_terms_in_over_half_the_docs():
    docs = ["apple banana", "apple cherry", "apple date", "fig"]
    tok = Tokenizer(stopwords=None, stemmer=None)
    ours = build_bm25(docs, tok)
    ref = BM25Okapi([tok(d) for d in docs])
    assert ref.idf["apple"] == pytest.approx(0.25 * ref.average_idf)  # floored
    np.testing.assert_allclose(ours.get_scores("apple"), ref.get_scores(["apple"]), rtol=1e-6)
    idf = idf_okapi(np.array([3, 1, 1, 1, 1]), 4, 0.25)
    assert idf[0] == pytest.approx(0.25 * np.mean([np.log(1.5 / 3.5)] + [np.log(3.5 / 1.5)] * 4))


def test_lucene_idf_is_positive_and_matches_formula():
    df = np.array([1, 50, 99])
    np.testing.assert_allclose(idf_lucene(df, 100), np.log(1 + (100 - df + 0.5) / (df + 0.5)))
    assert (idf_lucene(df, 100) > 0).all()


def test_search_equals_full_sort_of_scores(sample_records, dev_questions):
    idx = build_bm25(texts_of(sample_records))
    queries = [q["question"] for q in dev_questions[:30]]
    scores, rows = idx.search(queries, k=10)
    for q, s, r in zip(queries, scores, rows):
        full = idx.get_scores(q)
        np.testing.assert_allclose(s, full[r], rtol=1e-6)
        expected = np.sort(full[full > 0])[::-1][:10]
        np.testing.assert_allclose(s, expected, rtol=1e-6)


def test_ties_break_by_row_and_repeated_terms_count():
    idx = build_bm25(["red fox", "blue fox", "red fox", "green"], Tokenizer(stopwords=None, stemmer=None))
    _, rows = idx.search(["fox"], k=3)
    assert rows[0].tolist() == [0, 1, 2]
    single, double = idx.get_scores("red"), idx.get_scores("red red")
    np.testing.assert_allclose(double, 2 * single)


def test_unknown_terms_give_no_hits_and_k_beyond_matches():
    idx = build_bm25(["alpha beta", "gamma", "delta", "epsilon zeta"])
    s, r = idx.search(["zzz unknown"], k=5)
    assert len(r[0]) == 0
    s, r = idx.search(["alpha gamma"], k=50)
    assert sorted(r[0].tolist()) == [0, 1]
    with pytest.raises(ValueError, match="k must be"):
        idx.search(["alpha"], k=0)


def test_params_are_checked():
    with pytest.raises(ValueError, match="variant"):
        BM25Params(variant="bm42")
    with pytest.raises(ValueError, match="k1"):
        BM25Params(b=2)


def test_tokenizer_settings_and_round_trip():
    tok = Tokenizer()
    assert tok.tokenize("The U.S.-born runners, running!") == ["u", "born", "runner", "run"]  # "s" is a stopword
    assert Tokenizer.from_dict(tok.to_dict()) == tok
    with pytest.raises(ValueError, match="stemmer"):
        Tokenizer(stemmer="klingon")


def test_accents_and_vowel_signs_stay_inside_words():
    """\\w+ alone split at combining marks: a decomposed 'café' never matched 'café', and a
    Devanagari word fell apart into its consonants, so unrelated Hindi passages matched."""
    tok = Tokenizer(stopwords=None, stemmer=None)
    nfd, nfc = "cafe\u0301", "caf\u00e9"
    assert tok.tokenize(f"Le {nfd} noir") == ["le", nfc, "noir"] and tok.tokenize(nfc) == [nfc]
    assert tok.tokenize("हिन्दी भारत की भाषा है") == ["हिन्दी", "भारत", "की", "भाषा", "है"]
    docs = [f"un {nfd} noir", "हिन्दी भारत की भाषा है", "आज का दिन अच्छा है", "red fox", "blue fox", "green tea"]
    idx = build_bm25(docs, tok)
    assert idx.search([nfc], k=3)[1][0].tolist() == [0]
    assert idx.search(["दिन"], k=3)[1][0].tolist() == [2]   # the Hindi passage without the word ranked second


def test_an_index_built_with_the_old_split_keeps_it():
    """Manifests written before NFC and marks record the pattern \\w+ (or none): their queries are
    split as their passages were."""
    old = {"lowercase": True, "stopwords": None, "stemmer": None, "pattern": r"\w+"}
    for d in (old, {k: v for k, v in old.items() if k != "pattern"}):
        assert Tokenizer.from_dict(d).tokenize("हिन्दी cafe\u0301") == ["ह", "न", "द", "cafe"]
    assert Tokenizer.from_dict(Tokenizer().to_dict()).pattern == r"[\w\p{M}]+"
    bad = r"\S+"
    with pytest.raises(ValueError, match=re.escape(f"tokeniser pattern {bad!r} is not one this version reads")):
        Tokenizer.from_dict({**old, "pattern": bad})


def test_concurrent_searches_match_serial(sample_records, dev_questions):
    """The Snowball stemmer is stateful; 8 threads searching at once must get serial results."""
    from concurrent.futures import ThreadPoolExecutor

    idx = build_bm25(texts_of(sample_records))
    qs = [q["question"] for q in dev_questions[:400]]
    serial = idx.search(qs, 5)[1]
    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(lambda i: idx.search(qs[i::8], 5)[1], range(8)))
    for i, part in enumerate(parts):
        for a, b in zip(part, serial[i::8]):
            assert a.tolist() == b.tolist()


def test_numba_kernel_equals_sparse_product(sample_records, dev_questions):
    """The kernel used for large indexes gives the same rows and scores as the scipy path."""
    from indexes import bm25_kernel

    idx = build_bm25(texts_of(sample_records) * 3)  # duplicated passages: exact ties by row
    qs = [q["question"] for q in dev_questions[:200]] + ["zzzz unknown"]
    for k in (1, 10, 5000):
        ks, kr = bm25_kernel.search(idx.matrix, idx.query_matrix(qs), k)
        ss, sr = idx.search(qs, k)
        for a, b, c, d in zip(ks, ss, kr, sr):
            assert c.tolist() == d.tolist()
            np.testing.assert_array_equal(a, b)


def test_numba_kernel_under_concurrent_callers(sample_records, dev_questions):
    from concurrent.futures import ThreadPoolExecutor

    from indexes import bm25_kernel

    idx = build_bm25(texts_of(sample_records))
    qs = [q["question"] for q in dev_questions[:160]]
    serial = bm25_kernel.search(idx.matrix, idx.query_matrix(qs), 5)[1]
    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(lambda i: bm25_kernel.search(idx.matrix, idx.query_matrix(qs[i::8]), 5)[1],
                              range(8)))
    for i, part in enumerate(parts):
        assert [r.tolist() for r in part] == [r.tolist() for r in serial[i::8]]

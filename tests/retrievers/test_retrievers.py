"""Retrievers on a real 300-passage index: empty-query errors, k beyond the corpus, hybrid,
multi-query, diversity, and the LangChain adapter."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from retrievers.diversity import MMR, TitleDedup, limit_per_title
from retrievers.factory import retriever_for
from retrievers.fusion import FUSERS
from retrievers.multi import MultiQueryRetriever, rewrites_of

Q = "rainbow six siege maps"


@pytest.fixture(scope="module")
def retrievers(small_index, encoder):
    return {m: retriever_for(small_index, m, encoder=encoder) for m in ("bm25", "dense", "hybrid")}


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_empty_query_and_bad_k_are_refused(retrievers, mode):
    r = retrievers[mode]
    with pytest.raises(ValueError, match="query 1 is empty"):
        r.retrieve(["ok", "  "], 5)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        r.retrieve(["ok"], 0)
    with pytest.raises(TypeError, match="list of queries"):
        r.retrieve("ok", 5)
    with pytest.raises(ValueError, match="k must be a positive integer, got True"):
        r.retrieve(["ok"], True)
    ids = [h.passage.id for h in r.retrieve([Q], 3)[0]]
    assert [h.passage.id for h in r.retrieve([Q], np.int64(3))[0]] == ids   # was refused: 'got np.int64(3)'


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_k_larger_than_corpus_returns_every_passage_once(retrievers, mode):
    hits = retrievers[mode].retrieve([Q], 1000)[0]
    assert len(hits) == 300 and len({h.passage.id for h in hits}) == 300
    assert [h.rank for h in hits] == list(range(1, 301))


def test_bm25_k_larger_than_corpus_returns_matching_passages(retrievers, small_index):
    hits = retrievers["bm25"].retrieve([Q], 1000)[0]
    # exactly the passages sharing a term with the query (computed here from the tokens), each once
    tok = small_index.bm25.tokenizer
    qt = set(tok(Q))
    matching = {p.id for p in small_index.store if qt & set(tok(f"{p.title} {p.text}"))}
    assert len(matching) == 7
    assert [h.passage.id for h in hits if h.passage.id in matching] == [h.passage.id for h in hits]
    assert {h.passage.id for h in hits} == matching and len(hits) == len(matching)
    assert all(h.score > 0 for h in hits) and [h.rank for h in hits] == list(range(1, 8))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_results_are_deterministic_and_batched_equals_single(retrievers):
    qs = [Q, "who sang i'm coming out", "capital of australia"]
    for r in retrievers.values():
        batch = r.retrieve(qs, 10)
        again = r.retrieve(qs, 10)
        single = [r.retrieve([q], 10)[0] for q in qs]
        for a, b, c in zip(batch, again, single):
            assert [h.passage.id for h in a] == [h.passage.id for h in b] == [h.passage.id for h in c]


def test_hybrid_finds_the_article(retrievers):
    for mode in ("bm25", "dense", "hybrid"):
        assert retrievers[mode].retrieve([Q], 3)[0][0].passage.title == "Tom Clancy's Rainbow Six Siege"


def test_multi_query_keeps_original_and_fuses(retrievers):
    calls = []

    def rewriter(q):
        calls.append(q)
        return [q, "Rainbow Six Siege gameplay modes", "European exploration of Australia"]

    assert rewrites_of(rewriter, Q) == [Q, "Rainbow Six Siege gameplay modes", "European exploration of Australia"]
    mq = MultiQueryRetriever(retrievers["bm25"], rewriter)
    hits = mq.retrieve([Q], 10)[0]
    plain = retrievers["bm25"].retrieve([Q], 10)[0]
    assert plain[0].passage.id in {h.passage.id for h in hits}  # the original query's top hit survives
    assert "European exploration of Australia" in {h.passage.title for h in hits}  # the rewrite's hit
    assert "European exploration of Australia" not in {h.passage.title for h in plain}
    with pytest.raises(TypeError, match="fuse must take weights= .*'hybrid_convex' does not"):   # was a TypeError
        MultiQueryRetriever(retrievers["bm25"], rewriter, fuse=FUSERS["convex"])      # at the first retrieve
    with pytest.raises(TypeError, match="rewriter must be callable"):
        MultiQueryRetriever(retrievers["bm25"], 42)


def test_title_dedup_and_mmr_diversify(retrievers, small_index, encoder):
    q = "who portrayed darth vader"
    base = retrievers["bm25"].retrieve([q], 10)[0]
    titles = [h.passage.title for h in base]
    assert titles[:2] == ["Darth Vader", "Darth Vader"]  # one article fills the top slots
    dedup = TitleDedup(retrievers["bm25"], max_per_title=1).retrieve([q], 10)[0]
    assert dedup[0].passage.title == "Darth Vader" and dedup[1].passage.title != "Darth Vader"
    assert len({h.passage.title for h in dedup}) == len(dedup)
    assert limit_per_title(base, 2)[0].rank == 1
    mmr = MMR(retrievers["dense"], encoder, small_index.dense, small_index.store, lambda_=0.3)
    diverse = mmr.retrieve([q], 5)[0]
    plain = retrievers["dense"].retrieve([q], 5)[0]
    assert diverse[0].passage.id == plain[0].passage.id
    # the dense top 5 repeats the Darth Vader article; MMR at lambda 0.3 keeps one of its
    # near-duplicate passages and fills the rest with other articles
    assert [h.passage.title for h in plain].count("Darth Vader") == 3
    assert [h.passage.title for h in diverse].count("Darth Vader") == 1
    assert len({h.passage.title for h in diverse}) == 5 and [h.rank for h in diverse] == [1, 2, 3, 4, 5]


def test_langchain_invoke_batch_ainvoke_round_trip(retrievers):
    from langchain_core.retrievers import BaseRetriever

    from rag.integrations.langchain import as_langchain_retriever

    calls = []

    class Counting:
        def retrieve(self, queries, k):
            calls.append(list(queries))
            return retrievers["hybrid"].retrieve(queries, k)

    lc = as_langchain_retriever(Counting(), k=3)
    assert isinstance(lc, BaseRetriever)
    docs = lc.invoke(Q)
    assert len(docs) == 3 and docs[0].metadata["title"] == "Tom Clancy's Rainbow Six Siege"
    top = retrievers["hybrid"].retrieve([Q], 3)[0]
    assert [d.metadata["id"] for d in docs] == [h.passage.id for h in top]
    assert docs[0].metadata["rank"] == 1 and docs[0].page_content == top[0].passage.text
    calls.clear()
    out = lc.batch([Q, "capital of australia"])
    assert calls == [[Q, "capital of australia"]]  # one batched call
    assert [d.metadata["id"] for d in out[0]] == [d.metadata["id"] for d in docs]
    adocs = asyncio.run(lc.ainvoke(Q))
    assert [d.metadata["id"] for d in adocs] == [d.metadata["id"] for d in docs]
    with pytest.raises(TypeError, match="object has no retrieve"):
        as_langchain_retriever(object())


def test_langchain_invoke_takes_k_for_one_call(retrievers):
    """invoke(q, k=1) returned the retriever's k documents: LangChain drops keyword arguments
    that _get_relevant_documents does not name."""
    from rag.integrations.langchain import as_langchain_retriever

    lc = as_langchain_retriever(retrievers["hybrid"], k=3)
    top = [h.passage.id for h in retrievers["hybrid"].retrieve([Q], 5)[0]]
    assert [d.metadata["id"] for d in lc.invoke(Q, k=1)] == top[:1]
    assert [d.metadata["id"] for d in lc.invoke(Q, k=5)] == top
    assert [d.metadata["id"] for d in lc.invoke(Q)] == top[:3]
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match=f"k must be an integer >= 1, got {bad!r}"):
            lc.invoke(Q, k=bad)
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        as_langchain_retriever(retrievers["hybrid"], k=0)



def test_langchain_k_reaches_ainvoke_batch_and_abatch_and_hit_fields_win(retrievers):
    """ainvoke(q, k=2) raised TypeError; batch/abatch(k=2) returned the default k documents; a
    corpus column named "score" or "source" overwrote the hit's."""
    from indexes.types import Hit, Passage
    from rag.integrations.langchain import as_langchain_retriever, hit_to_document

    lc = as_langchain_retriever(retrievers["hybrid"], k=3)
    top = [h.passage.id for h in retrievers["hybrid"].retrieve([Q], 3)[0]]
    assert [d.metadata["id"] for d in asyncio.run(lc.ainvoke(Q, k=2))] == top[:2]
    assert [[d.metadata["id"] for d in docs] for docs in lc.batch([Q, Q], k=2)] == [top[:2]] * 2
    assert [[d.metadata["id"] for d in docs] for docs in asyncio.run(lc.abatch([Q], k=1))] == [top[:1]]
    assert [len(docs) for docs in lc.batch([Q])] == [3]
    import numpy as np

    assert [d.metadata["id"] for d in lc.invoke(Q, k=np.int64(2))] == top[:2]   # as check_queries takes it
    doc = hit_to_document(Hit(Passage("p1", "T", "text", {"score": 0.2, "source": "wikipedia", "year": 1990}),
                              0.56, 1, "bm25"))
    assert doc.metadata == {"id": "p1", "title": "T", "score": 0.56, "rank": 1, "source": "bm25",
                            "passage_score": 0.2, "passage_source": "wikipedia", "year": 1990}


def test_langchain_batch_keeps_each_inputs_result_and_reports_to_callbacks(retrievers):
    """One empty query failed the whole batch ([error, error] with return_exceptions), and a
    batch with callbacks notified none of them."""
    from langchain_core.callbacks import BaseCallbackHandler

    from rag.integrations.langchain import as_langchain_retriever

    lc = as_langchain_retriever(retrievers["hybrid"], k=3)
    good = [d.metadata["id"] for d in lc.invoke(Q)]
    out = lc.batch([Q, ""], return_exceptions=True)
    assert [d.metadata["id"] for d in out[0]] == good
    assert isinstance(out[1], ValueError) and "empty" in str(out[1])
    with pytest.raises(ValueError, match="empty"):
        lc.batch([Q, ""])

    class Seen(BaseCallbackHandler):
        def __init__(self):
            self.ends = 0

        def on_retriever_end(self, documents, **kwargs):
            self.ends += 1

    seen = Seen()
    out = lc.batch([Q, "capital of australia"], config={"callbacks": [seen]})
    assert seen.ends == 2 and [d.metadata["id"] for d in out[0]] == good


def test_core_modules_do_not_import_langchain():
    import pathlib

    root = pathlib.Path(__file__).parents[2]
    offenders = [str(p) for pkg in ("indexes", "retrievers", "readers", "eval", "rag")
                 for p in (root / pkg).rglob("*.py")
                 if "langchain" in p.read_text() and "integrations" not in p.parts]
    assert offenders == []

from __future__ import annotations

from retrievers.factory import retriever_for
from retrievers.multi import MultiQueryRetriever
from retrievers.rewriters import EvidenceInterpretations


def test_evidence_interpretations_use_first_round_titles_and_cache(small_index, encoder):
    calls = []
    bm25 = retriever_for(small_index, "bm25")

    class Counting:
        def retrieve(self, queries, k):
            calls.append(list(queries))
            return bm25.retrieve(queries, k)

    rw = EvidenceInterpretations(Counting(), k=10, max_readings=3)
    q = "who portrayed darth vader"
    out = rw.rewrite(q)
    assert out[0] == q and len(out) == 4
    first_titles = [h.passage.title for h in bm25.retrieve([q], 10)[0]]
    assert first_titles[:3] == ["Darth Vader"] * 3  # one article fills the top of the first round
    distinct = list(dict.fromkeys(t for t in first_titles if t.strip()))  # first-seen order, no blanks
    assert out == [q] + [f"{q} {t}" for t in distinct[:3]]  # 3 readings: the first 3 distinct titles
    assert len({o.lower() for o in out}) == len(out)  # distinct titles only
    assert rw.rewrite(q) == out and calls == [[q]]  # cached: no second retrieval
    hits = MultiQueryRetriever(bm25, rw).retrieve([q], 5)[0]
    assert hits[0].passage.title == "Darth Vader"  # the original query's best hit stays on top

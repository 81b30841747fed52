from __future__ import annotations

import json

from eval.retrieval import covered_ids, evaluate_runs, question_metrics
from rag.types import Hit, Passage


def hits(*texts):
    return [Hit(Passage(str(i), "", t), 1.0, i + 1, "x") for i, t in enumerate(texts)]


REC = {"id": "q", "question": "who won", "annotations": [
    {"type": "multipleQAs", "qaPairs": [{"question": "a", "answer": ["Spain"]},
                                        {"question": "b", "answer": ["Germany", "West Germany"]},
                                        {"question": "c", "answer": ["France"]}]}]}


def test_answer_recall_and_mrecall_hand_computed():
    hs = hits("Spain won in 2010", "nothing here", "West Germany won", "France won in 2018")
    m = question_metrics(REC, hs, [1, 2, 3, 4])
    assert [m[f"recall@{k}"] for k in (1, 2, 3, 4)] == [1, 1, 1, 1]
    # 3 readings: at k=1 one found >= min(3,1)=1; k=2: need 2, found 1; k=3: need 3, found 2; k=4: 3
    assert [m[f"mrecall@{k}"] for k in (1, 2, 3, 4)] == [1, 0, 0, 1]


def test_whole_token_matching_and_normalisation():
    hs = hits("The Spaniards celebrated", "GERMANY, the team")
    m = question_metrics(REC, hs, [2])
    assert m["recall@2"] == 1.0  # case and punctuation are normalised away
    assert question_metrics(REC, hits("germany's"), [1])["recall@1"] == 0.0  # -> "germanys"
    assert question_metrics(REC, hits("Spaniards"), [1])["recall@1"] == 0.0


def test_subsets_and_covered_definition(dev_questions, shared_data):
    cov = covered_ids(dev_questions, shared_data / "ambigqa_passages" / "passage_origin.jsonl")
    assert len(cov) == 893  # SOURCE.md: 893 dev questions have passages here
    res = evaluate_runs(dev_questions[:10], [[] for _ in range(10)], [5], cov)
    assert set(res["summary"]) == {"all", "multi", "covered", "covered_multi"}
    assert res["summary"]["all"]["recall@5"] == 0.0


def test_eval_retrieval_cli_on_small_index(small_index_dir, small_index, dev_questions, shared_data, tmp_path, capsys):
    from rag.cli import main

    out = tmp_path / "r.json"
    assert main(["-q", "eval", "retrieval", str(small_index_dir), "--limit", "30", "-k", "5,20",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| all | bm25 | 30 |" in table and "| covered | hybrid |" in table
    rep = json.loads(out.read_text())
    assert set(rep["modes"]) == {"bm25", "dense", "hybrid"}
    assert rep["n_questions"] == 30 and rep["ks"] == [5, 20]
    # the CLI reports what the library computes for the first 30 dev questions, mode by mode
    from retrievers.factory import retriever_for

    qs = dev_questions[:30]
    cov = covered_ids(dev_questions, shared_data / "ambigqa_passages" / "passage_origin.jsonl")
    for mode in ("bm25", "dense", "hybrid"):
        runs = retriever_for(small_index, mode).retrieve([q["question"] for q in qs], 20)
        assert rep["modes"][mode] == evaluate_runs(qs, runs, [5, 20], cov)["summary"], mode
    assert main(["-q", "eval", "retrieval", str(small_index_dir), "-k", "0"]) == 2
    assert "-k values must be >= 1" in capsys.readouterr().err
    for flags, message in ((["--limit", "-1"], "--limit must be >= 1, got -1"),  # dropped the last question
                           (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
                           (["--rewrite", "nope"], "--rewrite takes a comma-separated subset of")):
        assert main(["-q", "eval", "retrieval", str(small_index_dir), *flags]) == 2
        assert message in capsys.readouterr().err


def test_a_bad_origin_file_is_named(small_index_dir, dev_questions, shared_data, tmp_path, capsys):
    """A missing --origin silently dropped the covered rows; a data file given as --origin was an
    AttributeError traceback, a non-JSON one 'Expecting value' without the file."""
    from rag.cli import main

    base = ["-q", "eval", "retrieval", str(small_index_dir), "--limit", "3", "-k", "5", "--origin"]
    assert main([*base, str(tmp_path / "nope.jsonl")]) == 2
    assert f"--origin {tmp_path / 'nope.jsonl'}: no such file" in capsys.readouterr().err
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    assert main([*base, str(notes)]) == 2
    assert f"{notes}:1: invalid JSON" in capsys.readouterr().err
    assert main([*base, str(shared_data / "ambigqa" / "dev_light.json")]) == 2
    assert "dev_light.json:1: expected a JSON object, got list" in capsys.readouterr().err
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"passage_id": "p1"}\n')
    assert main([*base, str(rows)]) == 2
    assert f"{rows}:1: not a passage-origin row (no question_id or question)" in capsys.readouterr().err


def test_runs_that_cannot_happen_fail_before_any_retrieval(sample_corpus, dev_questions, shared_data, tmp_path, capsys):
    """A BM25-only index ran bm25 first and then failed on dense with a hint (--mode auto) this
    command refuses; --subset covered with an origin file covering nothing reported 0 questions
    and null metrics, exit 0."""
    import indexes
    from rag.cli import main

    bm25_only = indexes.build(sample_corpus, tmp_path / "bm25", dense=False, progress=False)
    assert main(["-q", "eval", "retrieval", str(bm25_only), "--limit", "2", "-k", "5"]) == 2
    err = capsys.readouterr().err
    assert "the index has only bm25: it cannot run --mode dense,hybrid; use --mode bm25" in err
    assert "retrieving" not in err
    empty = tmp_path / "origin.jsonl"
    empty.write_text("")
    assert main(["-q", "eval", "retrieval", str(bm25_only), "--mode", "bm25", "--subset", "covered",
                 "--origin", str(empty), "--json", str(tmp_path / "r.json")]) == 2
    assert f"0 of the {len(dev_questions)} questions of AmbigQA dev are covered by {empty}" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()

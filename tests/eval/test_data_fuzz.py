"""Property tests of the dataset loaders and the prediction-file loaders of ``eval score``: any
file either scores or raises ValueError / FileNotFoundError naming the file; no KeyError,
TypeError, IndexError, UnicodeDecodeError or AttributeError escapes, only the given files are
read, and nothing hangs."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from eval.score import score_file

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
junk = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=6)
strs = st.lists(st.text(max_size=10), max_size=3)


def maybe(valid):
    """Mostly well-formed values, sometimes any JSON value in their place."""
    return st.one_of(valid, valid, junk)


def record(**fields):
    return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()})


qa_pair = record(question=st.text(max_size=10), answer=strs)
annotation = st.one_of(record(type=st.just("singleAnswer"), answer=strs),
                       record(type=st.just("multipleQAs"), qaPairs=st.lists(maybe(qa_pair), max_size=2)))
ambigqa = record(id=st.sampled_from(["q0", "q1"]), question=st.text(max_size=10),
                 annotations=st.lists(maybe(annotation), max_size=2))
ramdocs = record(id=st.sampled_from(["0", "1"]), question=st.text(max_size=10), documents=st.lists(junk, max_size=2),
                 disambig_entity=strs, gold_answers=strs, wrong_answers=strs)
document = record(title=st.none() | st.text(max_size=10), answer=st.text(max_size=10))
ambigdocs = st.one_of(
    record(id=st.sampled_from(["0", "1"]), question=st.text(max_size=10), ambiguous_entity=st.text(max_size=8),
           documents=st.lists(maybe(document), max_size=2)),
    record(example_id=st.sampled_from(["0", "1"]), question=st.text(max_size=10),
           metadata=maybe(st.fixed_dictionaries({"extra": maybe(st.fixed_dictionaries({"ambiguous_entity": st.text(max_size=5)}))})),
           gold=maybe(st.fixed_dictionaries({"multi_answers": strs}))))
answers = st.one_of(strs, st.text(max_size=10), st.lists(maybe(record(question=st.text(max_size=5), answer=st.text(max_size=5))), max_size=2))
preds = st.one_of(st.dictionaries(st.sampled_from(["q0", "q1", "0", "1"]), maybe(answers), max_size=3),
                  st.lists(maybe(st.text(max_size=10)), max_size=3), junk)
encodings = st.sampled_from(["json", "jsonl", "raw"])


def _dump(path: Path, value, how: str, raw: bytes) -> None:
    if how == "raw":
        path.write_bytes(raw)
    elif how == "jsonl" and isinstance(value, list):
        path.write_text("".join(json.dumps(v) + "\n" for v in value))
    else:
        path.write_text(json.dumps(value))


@given(dataset=st.sampled_from(["ambigqa", "ramdocs", "ambigdocs"]), data=st.data(),
       how=encodings, raw=st.binary(max_size=60))
@example(dataset="ambigqa", data=None, how="raw", raw=b"\xff\xfe[]")            # UnicodeDecodeError escaped
@example(dataset="ramdocs", data=None, how="raw", raw=b"[" * 100000)            # RecursionError escaped
@example(dataset="ambigdocs", data=None, how="raw", raw=b'{"gold": 1, "question": "q"}')  # KeyError/TypeError
def test_score_file_scores_or_raises_value_error_naming_the_file(dataset, data, how, raw, guarded):
    gold_values = {"ambigqa": ambigqa, "ramdocs": ramdocs, "ambigdocs": ambigdocs}[dataset]
    gold = data.draw(st.lists(maybe(gold_values), max_size=3)) if data is not None else None
    pred = data.draw(preds) if data is not None else {"q0": ["x"], "0": "x"}
    with tempfile.TemporaryDirectory() as d:
        gpath = Path(d) / ("gold.json" if dataset == "ambigqa" and how != "jsonl" else "gold.jsonl")
        ppath = Path(d) / "pred.json"
        _dump(gpath, gold, how, raw)
        ppath.write_text(json.dumps(pred))
        with guarded(Path(d)) as opened:
            try:
                result = score_file(dataset, gpath, ppath)
            except (ValueError, FileNotFoundError) as err:
                assert str(gpath) in str(err) or str(ppath) in str(err), err
                result = None
        assert set(opened) <= {str(gpath), str(ppath)}
    if result is not None:
        assert result["summary"]["n"] == len(result["rows"]) > 0


def test_directory_as_gold_file_is_a_value_error(tmp_path):
    (tmp_path / "pred.json").write_text("{}")
    try:
        score_file("ambigqa", tmp_path, tmp_path / "pred.json")
    except ValueError as err:
        assert "not a regular file" in str(err) and str(tmp_path) in str(err)
    else:
        raise AssertionError("a directory was accepted as a gold file")

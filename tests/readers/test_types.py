"""Answer.from_dict refuses malformed dicts with a ValueError, as its docstring says (a reading
without a label raised KeyError('label'); a span with an unknown field, TypeError)."""

from __future__ import annotations

import pytest

from readers.types import Answer, Reading, SpanLog

OK = Answer("clarify", (Reading("A", "x", ("p1",), 1.0, (SpanLog("p1", "x", 0, 1, 0.5),)), Reading("B", "y")),
            clarifying_question="A or B?", text="A or B?").to_dict()


@pytest.mark.parametrize("change, message", [
    (lambda d: d["readings"][0].pop("label"), r"readings\[0\] needs field 'label'"),
    (lambda d: d["readings"][0]["spans"][0].update(colour="red"), r"malformed span readings\[0\].spans\[0\]"),
    (lambda d: d.update(readings=["x"]), r"readings\[0\] must be an object, got str"),
    (lambda d: d.update(passages=[{"id": "p1"}]), r"passages\[0\] needs field 'text'"),
    (lambda d: d.update(turn="1"), r"turn must be an integer >= 0, got '1'"),   # a TypeError in reply()
    (lambda d: d.update(turn=None), r"turn must be an integer >= 0, got None"),
    (lambda d: d.update(turn=-1), r"turn must be an integer >= 0, got -1"),
    # these were accepted: a string split into characters ("p1" -> "p", "1"), a crash in reply()
    (lambda d: d["readings"][0].update(citations="p1"), r"readings\[0\].citations must be a list, got str"),
    (lambda d: d.update(sources="p12"), r"sources must be a list, got str"),
    (lambda d: d["readings"][1].update(label=None), r"readings\[1\].label must be a string, got NoneType"),
    (lambda d: d.update(readings=[]), r"a clarify Answer needs its readings"),   # min() of nothing in reply()
    (lambda d: d.pop("clarifying_question"), r"a clarify Answer needs its readings .* and its clarifying_question"),
    (lambda d: d.update(text=3), r"text must be a string, got int"),
    (lambda d: d.update(passages=[{"id": "p1", "text": "t", "meta": []}]), r"passages\[0\].meta must be an object"),
])
def test_malformed_parts_are_value_errors(change, message):
    d = {**OK, "readings": [dict(r, spans=[dict(s) for s in r["spans"]]) for r in OK["readings"]]}
    assert Answer.from_dict(d) == Answer.from_dict(OK)
    change(d)
    with pytest.raises(ValueError, match=message):
        Answer.from_dict(d)


def test_to_dict_copies_passage_meta():
    """Editing the dict edited the frozen Answer's passage (``meta`` was shared)."""
    from indexes.types import Passage

    a = Answer("clarify", (Reading("A", "x", ("p1",)),), clarifying_question="A?",
               passages=(Passage("p1", "A", "x", {"url": "https://a"}),))
    d = a.to_dict()
    d["passages"][0]["meta"]["url"] = "changed"
    assert a.passages[0].meta == {"url": "https://a"} and Answer.from_dict(a.to_dict()) == a

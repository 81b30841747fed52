"""Answer.from_dict refuses malformed dicts with a ValueError, as its docstring says (a reading
without a label raised KeyError('label'); a span with an unknown field, TypeError)."""

from __future__ import annotations

import pytest

from readers.types import Answer, Reading, SpanLog

OK = Answer("clarify", (Reading("A", "x", ("p1",), 1.0, (SpanLog("p1", "x", 0, 1, 0.5),)), Reading("B", "y")),
            clarifying_question="A or B?", text="A or B?").to_dict()


@pytest.mark.parametrize("change, message", [
    (lambda d: d["readings"][0].pop("label"), r"readings and passages need field 'label'"),
    (lambda d: d["readings"][0]["spans"][0].update(colour="red"), "malformed reading, span or passage"),
    (lambda d: d.update(readings=["x"]), "malformed reading, span or passage"),
    (lambda d: d.update(passages=[{"id": "p1"}]), r"readings and passages need field 'text'"),
    (lambda d: d.update(turn="1"), r"turn must be an integer >= 0, got '1'"),   # a TypeError in reply()
    (lambda d: d.update(turn=None), r"turn must be an integer >= 0, got None"),
    (lambda d: d.update(turn=-1), r"turn must be an integer >= 0, got -1"),
])
def test_malformed_parts_are_value_errors(change, message):
    d = {**OK, "readings": [dict(r, spans=[dict(s) for s in r["spans"]]) for r in OK["readings"]]}
    assert Answer.from_dict(d) == Answer.from_dict(OK)
    change(d)
    with pytest.raises(ValueError, match=message):
        Answer.from_dict(d)

"""Property tests of the question and ``k`` validators (rag/validation.py): any value either
passes (a stripped, non-empty question of at most MAX_QUESTION_CHARS; an int k >= 1) or raises
ValueError whose message names the argument; nothing else is raised."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from rag.validation import MAX_QUESTION_CHARS, validate_k, validate_question

anything = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
                        | st.binary(max_size=10), lambda c: st.lists(c, max_size=3) | st.dictionaries(
                            st.text(max_size=5), c, max_size=3) | st.tuples(c), max_leaves=5)
questions = (st.text() | st.text(st.sampled_from(" \t\n\r\x0b\x0c\x1c\u2028\u3000\xa0x"), max_size=30)
             | st.integers(MAX_QUESTION_CHARS - 2, MAX_QUESTION_CHARS + 2).map(lambda n: " " + "q" * n + " ")
             | anything)


@given(question=questions, what=st.sampled_from(["question", "question 7", "reply"]))
@example(question="\ud800", what="question")
@example(question="q" * 10**6, what="question")
@example(question=10**5000, what="question")  # repr() of a 5,000-digit int raised its own ValueError
@example(question=[[10**5000]], what="reply")
def test_validate_question_passes_or_names_the_argument(question, what):
    try:
        text = validate_question(question, what=what)
    except ValueError as e:
        assert str(e).startswith(what + " "), e
        assert not isinstance(question, str) or not question.strip() or len(question.strip()) > MAX_QUESTION_CHARS \
            or not any(ch.isalnum() for ch in question)
        return
    assert isinstance(question, str) and text == question.strip() and 0 < len(text) <= MAX_QUESTION_CHARS
    assert any(ch.isalnum() for ch in text)


@given(k=anything | st.integers() | st.sampled_from([True, False, 1.0, 2**64, -0, "3", float("nan")]))
@example(k=-(10**5000))  # the message failed to format: Python's 4,300-digit limit
def test_validate_k_passes_or_names_k(k):
    try:
        got = validate_k(k)
    except ValueError as e:
        assert str(e).startswith("k (passages retrieved and read) must be an integer >= 1, got "), e
        assert isinstance(k, bool) or not isinstance(k, int) or k < 1
        return
    assert got is k and type(k) is int and k >= 1

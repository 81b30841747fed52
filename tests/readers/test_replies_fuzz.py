"""Property tests of the clarification reply matcher: any reply text to any clarify Answer (built
by hand from the real types) gives a ReplyMatch that is consistent with the readings, and the
next turn (``follow_up``) is an Answer of the right kind; nothing else is raised, nothing hangs.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from hypothesis import example, given, settings
from hypothesis import strategies as st

from indexes.types import Passage
from readers.clarify import clarifying_question, follow_up
from readers.replies import How, ReplyMatch, match_reply
from readers.types import Answer, Reading

FOOTBALL = Reading("Bobby Carpenter (American football)", "2006", ("bc-football",), 2.0)
HOCKEY = Reading("Bobby Carpenter (ice hockey)", "1981", ("bc-hockey",), 1.0)
POET = Reading("Bobby Carpenter (American poet)", "1950", (), 0.5)
PASSAGES = (Passage("bc-football", "Bobby Carpenter (American football)",
                    "Carpenter was drafted by the Miami Dolphins in the first round of the 2006 NFL Draft."),
            Passage("bc-hockey", "Bobby Carpenter (ice hockey)",
                    "He was drafted by the Washington Capitals in 1981, the first American-born centre."))

# Words the matcher acts on, so that generated replies reach numbers, negation and "all" cues.
CUES = ("1 2 3 4 11 0 2nd #2 no. 3 (2) one two three first second last latter former middle penultimate option "
        "number the a not no never n't don't isn't other than rather instead of except anything but both all "
        "either any neither none whichever , ; . ? ! I mean hockey football poet american ice hokey centre "
        "linebacker drafted 1981 2006 capitals dolphins").split()
words = st.sampled_from(CUES) | st.text(max_size=8)
replies = (st.lists(words, max_size=12).map(" ".join) | st.text(max_size=200)
           | st.sampled_from(["", " ", "\x00", "\ud800", "é" * 5000, "not " * 2000, "2" * 5000, "(" * 3000]))
labels = st.sampled_from(["Bobby Carpenter (ice hockey)", "Mercury (planet)", "Mercury", "", "(", "()", "a (b) (c)"]) \
    | st.text(max_size=20)
readings = st.builds(Reading, labels, st.text(max_size=10), st.lists(st.sampled_from(["bc-football", "bc-hockey", "x"]),
                                                                        max_size=2).map(tuple))
states = st.one_of(
    st.just(Answer("clarify", (FOOTBALL, HOCKEY), question="When was Bobby Carpenter drafted?",
                   sources=("bc-football", "bc-hockey"), passages=PASSAGES)),
    st.just(Answer("clarify", (FOOTBALL, HOCKEY, POET), question="Who is Bobby Carpenter?", passages=PASSAGES)),
    st.builds(lambda rs, q: Answer("clarify", tuple(rs), question=q, passages=PASSAGES),
              st.lists(readings, min_size=2, max_size=5), st.text(max_size=30)),
)


def _check(m: ReplyMatch, n: int) -> None:
    assert isinstance(m, ReplyMatch) and m.how in get_args(How) and isinstance(m.detail, str)
    assert all(0 <= i < n for i in m.candidates)
    if m.index is not None:
        assert 0 <= m.index < n and m.candidates == (m.index,)
    if m.how == "all":
        assert m.candidates == tuple(range(n))


@given(reply=replies, state=states, question_words=st.booleans())
@example(reply="\ud800 the second", state=Answer("clarify", (FOOTBALL, HOCKEY)), question_words=True)
@example(reply="2" * 5000, state=Answer("clarify", (FOOTBALL, HOCKEY)), question_words=False)
def test_any_reply_gives_a_consistent_match_and_turn(reply, state, question_words, guarded):
    texts = {p.id: f"{p.title}. {p.text}" for p in state.passages}
    with guarded(Path("/")):  # the 20 s alarm: a hang fails
        m = match_reply(reply, state.readings, passages=texts, question=state.question if question_words else "")
        _check(m, len(state.readings))
        assert match_reply(reply, state.readings, passages=texts, question=state.question if question_words else "") == m
        asked = clarifying_question(state.readings)
        ans, attempts = follow_up(asked, state.readings, reply, attempts=0, passages=texts, question=state.question)
    assert isinstance(ans, Answer)
    if m.index is not None:
        assert (ans.kind, ans.readings, attempts) == ("single", (state.readings[m.index],), 0)
    elif m.how == "all":
        assert (ans.kind, ans.readings) == ("multi", tuple(state.readings[i] for i in m.candidates))
    else:
        assert (ans.kind, ans.clarifying_question, attempts) == ("clarify", asked, 1)


@settings(max_examples=max(10, settings.default.max_examples // 4))  # MiniLM encodes most replies
@given(reply=replies)
def test_any_reply_with_the_embedding_fallback(reply, encoder):
    m = match_reply(reply, (FOOTBALL, HOCKEY, POET), encoder)
    _check(m, 3)


def test_known_replies():
    rs = (FOOTBALL, HOCKEY)
    assert [match_reply(r, rs).index for r in ("the hockey one", "option 2", "not the football player", "2nd")] == [
        1, 1, 1, 1]
    assert [match_reply(r, rs).how for r in ("", "both", "option 7", "I don't know")] == [
        "empty", "all", "out_of_range", "non_answer"]

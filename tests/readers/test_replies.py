"""Replies to a clarifying question, over real multi-reading questions.

Readings are built at run time from the example corpus and from RAMDocs questions whose correct
documents name different entities ("Down Home (Zoot Sims album)" ...): one reading per
"Name (descriptor)" document lead, citing those documents. Nothing from ../shared/data is
stored in the repository.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.types import Answer, Reading
from readers.clarify import clarifying_question, follow_up, match_reply
from readers.evidence import descriptor_label
from readers.reply_words import tokens

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bobby_carpenter.jsonl"
RAMDOCS = {"down": 'Who is the artist of the album "Down Home"?',
           "crit": "When was the Criterion Theatre built?",
           "hk": "What sport is the Hong Kong Open associated with?"}


def _example():
    rows = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]
    sport = {"Bobby Carpenter (American football)": "American football", "Bobby Carpenter (ice hockey)": "ice hockey"}
    readings = [Reading(t, a, tuple(r["id"] for r in rows if r["title"] == t)) for t, a in sport.items()]
    return "What sport is Bobby Carpenter associated with?", readings, {r["id"]: f"{r['title']}. {r['text']}" for r in rows}


def _ramdocs(record: dict):
    """One reading per descriptor-labelled correct document group, citing those documents."""
    groups: dict[str, list[tuple[str, dict]]] = {}
    for j, d in enumerate(record["documents"]):
        label = descriptor_label(d["text"])
        if d["type"] == "correct" and label and label.split(" (")[0] in " ".join(record["disambig_entity"]):
            groups.setdefault(label, []).append((f"doc{j}", d))
    readings = [Reading(lab, ds[0][1]["answer"], tuple(i for i, _ in ds)) for lab, ds in groups.items()]
    return record["question"], readings, {i: d["text"] for ds in groups.values() for i, d in ds}


@pytest.fixture(scope="module")
def cases(shared_data):
    with open(shared_data / "ramdocs" / "RAMDocs_dev.jsonl", encoding="utf-8") as f:
        records = {r["question"]: r for r in map(json.loads, f)}
    out = {"bc": _example(), **{k: _ramdocs(records[q]) for k, q in RAMDOCS.items()}}
    assert [[r.label for r in rs] for _, rs, _ in out.values()] == [
        ["Bobby Carpenter (American football)", "Bobby Carpenter (ice hockey)"],
        ["Down Home (Joey Baron album)", "Down Home (Zoot Sims album)", "Down Home (Chet Atkins album)"],
        ["Criterion Theatre (Bar Harbor, Maine)", "Criterion Theatre (Coventry)", "Criterion Theatre (Sydney)"],
        ["Hong Kong Open (golf)", "Hong Kong Open (tennis)"]]
    return out


# (question, reply, a word of the expected reading's label, how it is matched)
PICKS = [
    ("bc", "2", "hockey", "number"), ("bc", "(2)", "hockey", "number"), ("bc", "option 2", "hockey", "number"),
    ("bc", "number two", "hockey", "number"), ("bc", "#1", "football", "number"),
    ("bc", "the second", "hockey", "number"), ("bc", "the last one", "hockey", "number"),
    ("bc", "The first one, please.", "football", "number"), ("bc", "the former", "football", "number"),
    ("bc", "I mean number 2, the hockey player", "hockey", "number"),
    ("bc", "the hockey one", "hockey", "words"), ("bc", "hockey", "hockey", "words"),
    ("bc", "I mean the hockey player", "hockey", "words"), ("bc", "the footballer", "football", "words"),
    ("bc", "the linebacker", "football", "words"), ("bc", "the centre", "hockey", "words"),
    ("bc", "the Cowboys one", "football", "words"), ("bc", "the Stanley Cup winner", "hockey", "words"),
    ("bc", "the former NHL player", "hockey", "words"), ("bc", "isn't it the football guy?", "football", "words"),
    ("bc", "hockey, not football", "hockey", "words"),
    ("bc", "not the football player", "hockey", "negation"), ("bc", "not the football one", "hockey", "negation"),
    ("bc", "no, not hockey", "football", "negation"),
    ("bc", "the one who isn't a hockey player", "football", "negation"),
    ("bc", "go with 2", "hockey", "number"), ("bc", "the 2nd one", "hockey", "number"),
    ("bc", "hokey", "hockey", "words"), ("bc", "the NFL linebacker", "football", "words"),
    ("bc", "the assistant coach", "hockey", "words"), ("bc", "anything but football", "hockey", "negation"),
    ("bc", "the one on skates", "hockey", "embedding"), ("bc", "quarterback", "football", "embedding"),
    ("down", "3", "Chet", "number"), ("down", "the third one", "Chet", "number"),
    ("down", "the last one", "Chet", "number"), ("down", "the middle one", "Zoot", "number"),
    ("down", "second to last", "Zoot", "number"), ("down", "the second album", "Zoot", "number"),
    ("down", "the drummer", "Joey", "words"), ("down", "the saxophonist", "Zoot", "words"),
    ("down", "the guitarist", "Chet", "words"), ("down", "Zoot Sims", "Zoot", "words"),
    ("down", "the Chet Atkins album", "Chet", "words"), ("down", "the 1997 recording", "Joey", "words"),
    ("down", "not Joey Baron or Zoot Sims", "Chet", "negation"),
    ("crit", "option 1", "Maine", "number"), ("crit", "the second theatre", "Coventry", "number"),
    ("crit", "the one in Maine", "Maine", "words"), ("crit", "Sydney", "Sydney", "words"), ("crit", "Sidney", "Sydney", "words"),
    ("crit", "the Australian one", "Sydney", "words"), ("crit", "Coventry", "Coventry", "words"),
    ("crit", "the art deco one", "Maine", "words"), ("crit", "the demolished one", "Sydney", "words"),
    ("crit", "the Methodist church one", "Coventry", "words"),
    ("hk", "the golf one", "golf", "words"), ("hk", "tennis", "tennis", "words"),
    ("hk", "the WTA one", "tennis", "words"), ("hk", "the golfer", "golf", "words"),
    ("hk", "the European Tour event", "golf", "words"), ("hk", "not golf", "tennis", "negation"),
    ("hk", "not the tennis one", "golf", "negation"), ("hk", "not the first", "tennis", "negation"),
    ("hk", "the one with rackets", "tennis", "embedding"), ("hk", "the women's tournament", "tennis", "embedding"),
]

# (question, reply, why it is asked again, the readings still in question)
AGAIN = [
    ("bc", "banana", "none", ()), ("bc", "the other one", "none", ()), ("bc", "Bobby Carpenter", "none", ()),
    ("bc", "the one", "none", ()), ("bc", "I don't know", "non_answer", ()), ("bc", "neither", "non_answer", ()),
    ("bc", "option 3", "out_of_range", ()), ("bc", "1 or 2", "tie", (0, 1)),
    ("bc", "2 - the football one", "conflict", (0, 1)), ("bc", "", "empty", ()), ("bc", " ?! ", "empty", ()),
    ("bc", "hockey, not hockey", "conflict", (1,)),
    ("down", "the jazz one", "tie", (0, 1)), ("down", "not Chet Atkins", "none", (0, 1)),
    ("down", "not the first one", "none", (1, 2)),
    ("crit", "the fourth", "out_of_range", ()), ("crit", "the English one", "none", ()),
    ("hk", "the third one", "out_of_range", ()), ("hk", "the middle one", "none", ()),
    # numbers out of range among several were dropped and the rest picked; "-1" was option 1
    ("bc", "1 or 3", "out_of_range", ()), ("bc", "0 or 1", "out_of_range", ()), ("bc", "1.0", "out_of_range", ()),
    ("bc", "-1", "out_of_range", ()), ("bc", "-2", "out_of_range", ()),
    # a negated "both" is no request for every reading (it gave the complete answer)
    ("bc", "not both", "none", ()), ("bc", "I don't want both", "none", ()),
]


@pytest.mark.parametrize(("key", "reply", "expected", "how"), PICKS, ids=[f"{k}:{r}" for k, r, _, _ in PICKS])
def test_a_reply_picks_its_reading(cases, encoder, key, reply, expected, how):
    question, readings, passages = cases[key]
    m = match_reply(reply, readings, encoder, passages=passages, question=question)
    assert m.index is not None, m
    assert expected in readings[m.index].label, m
    assert m.how == how, m


@pytest.mark.parametrize(("key", "reply", "how", "left"), AGAIN, ids=[f"{k}:{r}" for k, r, _, _ in AGAIN])
def test_an_unclear_reply_picks_nothing(cases, encoder, key, reply, how, left):
    question, readings, passages = cases[key]
    m = match_reply(reply, readings, encoder, passages=passages, question=question)
    assert (m.index, m.how, m.candidates) == (None, how, left), m


def test_the_table_covers_what_the_issue_asks_for():
    assert len(PICKS) >= 40 and len({k for k, *_ in PICKS}) >= 3
    assert {h for *_, h in PICKS} == {"number", "words", "negation", "embedding"}


def test_one_is_a_number_only_when_the_reply_is_essentially_that(cases):
    _, readings, passages = cases["bc"]
    assert match_reply("the hockey one", readings, passages=passages).index == 1
    assert match_reply("one", readings).index == match_reply("option one", readings).index == 0
    assert match_reply("that one", readings).how == "none"
    assert tokens("No. 2, isn't it?") == ["number", "2", ",", "is", "not", "it", "?"]


def test_evidence_words_need_the_passages_and_shared_words_carry_nothing(cases):
    question, readings, passages = cases["bc"]
    assert match_reply("the linebacker", readings).how == "none"  # not in the labels
    assert match_reply("the linebacker", readings, passages=passages).index == 0
    # "sport" is the question's word: it cannot pick a reading through one passage's text
    assert match_reply("the sport", readings, passages=passages, question=question).how == "none"


def test_without_an_encoder_words_still_work_and_meaning_is_not_guessed(cases):
    _, readings, passages = cases["hk"]
    assert match_reply("the golf one", readings, passages=passages).index == 0
    assert match_reply("the one with rackets", readings, passages=passages).how == "none"


def test_both_asks_for_the_complete_answer_and_a_miss_asks_again_naming_the_options(cases, encoder):
    question, readings, passages = cases["down"]
    asked = clarifying_question(readings)
    ans, turns = follow_up(asked, readings, "both of them", passages=passages, question=question)
    assert (ans.kind, len(ans.readings), turns) == ("multi", 3, 0)
    for reply in ("either is fine", "I don't mind", "any of them"):
        assert match_reply(reply, readings).how == "all", reply
    ans, turns = follow_up(asked, readings, "the jazz one", passages=passages, question=question, encoder=encoder)
    assert ans.kind == "clarify" and turns == 1
    assert ans.text == ("Sorry, I could not tell which one you mean ('jazz' fits (1) and (2) equally). "
                        "Which do you mean: (1) Down Home, Joey Baron album, (2) Down Home, Zoot Sims album "
                        "or (3) Down Home, Chet Atkins album?")
    ans, turns = follow_up(asked, readings, "the saxophonist", attempts=turns, passages=passages, question=question)
    assert ans.kind == "single" and ans.readings[0].answer == "Zoot Sims"
    assert ans.reason == "reply matched (2) by words: 'saxophonist' fits (2) best"
    ans, turns = follow_up(asked, readings, "no idea", attempts=1, passages=passages, question=question)
    assert ans.kind == "multi" and turns == 2 and "no option" in ans.reason


def test_a_clarify_state_survives_a_json_round_trip(cases):
    from rag.types import Passage

    question, readings, passages = cases["bc"]
    state = Answer("clarify", tuple(readings), clarifying_question=clarifying_question(readings), question=question,
                   text=clarifying_question(readings), sources=tuple(passages), turn=1, p_ambiguous=0.7,
                   passages=tuple(Passage(i, "", t) for i, t in passages.items()))
    back = Answer.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back == state and back.passages == state.passages and isinstance(back.readings[0].citations, tuple)
    from rag.types import SpanLog

    logged = Answer("single", (Reading("X", "y", ("p",), 1.0, (SpanLog("p", "y", 3, 4, 0.9),)),), model_version="m1")
    assert Answer.from_dict(json.loads(json.dumps(logged.to_dict()))) == logged
    with pytest.raises(ValueError, match="unknown Answer fields"):
        Answer.from_dict({**state.to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="kind"):
        Answer.from_dict({**state.to_dict(), "kind": "maybe"})


def test_a_tie_names_each_readings_own_words(cases, encoder):
    """'hockey and football' was explained as "'hockey' fits (1) and (2) equally"."""
    question, readings, passages = cases["bc"]
    m = match_reply("hockey and football", readings, encoder, passages=passages, question=question)
    assert (m.index, m.how) == (None, "tie")
    fits = dict(re.findall(r"'(\w+)' fits \((\d)\)", m.detail))
    assert {w: readings[int(i) - 1].label for w, i in fits.items()} == {
        "football": "Bobby Carpenter (American football)", "hockey": "Bobby Carpenter (ice hockey)"}


def test_replies_in_other_scripts_and_with_accents_are_matched():
    """Tokens were [a-z]+: "река" was 'the reply is empty', "élément" became 'l' and 'ment', and
    "París" matched nothing."""
    from readers.replies import match_reply
    from readers.reply_words import tokens

    assert tokens("élément, París et हिन्दी") == ["élément", ",", "parís", "et", "हिन्दी"]
    assert tokens("Pari\u0301s") == ["parís"]   # decomposed accents are composed first
    moscow = [Reading("Москва (город)", "a"), Reading("Москва (река)", "b")]
    assert (match_reply("река", moscow).index, match_reply("город", moscow).index) == (1, 0)
    paris = [Reading("París (Francia)", "a"), Reading("Paris (Texas)", "b")]
    assert match_reply("la de Francia", paris).index == 0


def test_a_decimal_is_no_option_and_named_whole(cases, encoder):
    """ "1.5" was read as options 1 and 5: "there is no option 5"."""
    question, readings, passages = cases["bc"]
    m = match_reply("1.5", readings, encoder, passages=passages, question=question)
    assert (m.index, m.how, m.detail) == (None, "out_of_range", "there is no option 1.5; the options are 1 to 2")


def test_options_joined_by_and_get_those_readings(cases, encoder):
    """ "1 and 3" asked the clarifying question again (a tie), where "both" gets every reading."""
    from readers.clarify import follow_up

    question, readings, passages = cases["down"]
    m = match_reply("1 and 3", readings, encoder, passages=passages, question=question)
    assert (m.index, m.how, m.candidates) == (None, "all", (0, 2)) and m.detail == "the reply asks for options 1 and 3"
    ans, attempts = follow_up("Which do you mean?", readings, "options 1 and 3", encoder=encoder,
                              passages=passages, question=question)
    assert ans.kind == "multi" and ans.readings == (readings[0], readings[2]) and attempts == 0
    assert match_reply("1 or 3", readings, encoder, passages=passages, question=question).how == "tie"
    assert match_reply("both 1 and 3", readings, encoder, passages=passages, question=question).candidates == (0, 2)
    for negated in ("not 1 and 3", "anything but 1 and 3", "not the first and the third"):   # the one left
        m = match_reply(negated, readings, encoder, passages=passages, question=question)
        assert (m.index, m.how) == (1, "negation"), negated


def test_numbers_with_separators_or_decimals_are_quantities_not_options():
    """ "25,000" was options 25 and 0 ("there is no option 25"), "2.1 million" options 2 and 1 (a
    tie), and a reply copying an answer-labelled option, "3,559", was "there is no option 3"."""
    towns = [Reading("Broken Bow (Nebraska)", "3,559"), Reading("Broken Bow (Oklahoma)", "4,120")]
    assert [match_reply(r, towns).index for r in ("3,559", "the 4,120 one", "2")] == [0, 1, 1]
    cities = [Reading("Paris (France)", "2.1 million"), Reading("Paris (Texas)", "25,000"),
              Reading("Paris (Ontario)", "12,000")]
    m = match_reply("I meant the 2.1 million one", cities)
    assert (m.index, m.how, m.detail) == (0, "words", "'2.1, million' fits (1) best")
    assert (match_reply("about 25,000 people", cities).index, match_reply("12,000", cities).index) == (1, 2)
    assert tokens("options 1,2 or 2.5 million, option 2.") == [
        "options", "1", ",", "2", "or", "2.5", "million", ",", "option", "2", "."]
    assert match_reply("1,2", cities).how == "tie"   # two options, not one thousand-ish number
    m = match_reply("option 1.5 please", cities)
    assert (m.index, m.how, m.detail) == (None, "out_of_range", "there is no option 1.5; the options are 1 to 3")


@pytest.mark.parametrize("labels, reply, index, how", [
    (("Toy Story 4", "Toy Story 3", "Toy Story 2", "Toy Story"), "Toy Story 3", 1, "words"),   # was option 3
    (("Toy Story 4", "Toy Story 3", "Toy Story 2", "Toy Story"), "Toy Story", 3, "words"),     # all of (4), only
    (("Toy Story 4", "Toy Story 3", "Toy Story 2", "Toy Story"), "3", None, "conflict"),       # position or name
    (("Toy Story 4", "Toy Story 3", "Toy Story 2", "Toy Story"), "option 3", 2, "number"),
    (("Top Gun: Maverick", "Top Gun"), "Top Gun", 1, "words"),                                 # was "top" = 1
    (("The Last Samurai", "Seven Samurai"), "The Last Samurai", 0, "words"),                   # was "last" = 2
    (("The Last Samurai", "Seven Samurai"), "the last one", 1, "number"),
    (("Elizabeth II", "Elizabeth I"), "Elizabeth the second", 0, "words"),                     # was option 2
    (("Elizabeth II", "Elizabeth I"), "Elizabeth I", 1, "words"),
    (("Neil Armstrong", "First Man (film)"), "First Man", 1, "words"),                         # was option 1
    (("Neil Armstrong", "First Man (film)"), "the first", 0, "number"),
    (("Apollo 13", "Apollo 1"), "Apollo 1", 1, "words"),                                       # was option 1
    (("Apollo 13", "Apollo 1"), "Apollo 13", 0, "words"),                                      # was no match
    (("Windows 7", "Windows 10"), "Windows 10", 1, "words"),                                   # was "no option 10"
    (("Windows 7", "Windows 10"), "7", 0, "words"),
])
def test_a_number_or_ordinal_in_an_options_name_is_a_word_of_that_name(labels, reply, index, how):
    """A position word that is part of a title was read as the option's position, and the wrong
    reading was answered without a word ("Toy Story 3" got Toy Story 2)."""
    m = match_reply(reply, [Reading(label, "x") for label in labels])
    assert (m.index, m.how) == (index, how), m.detail


def test_a_number_in_an_answer_next_to_its_unit_names_that_answer():
    """ "8 million" was "there is no option 8"."""
    rs = [Reading("8 million", "8 million"), Reading("12 million", "12 million")]
    assert [match_reply(r, rs).index for r in ("8 million", "12 million", "2")] == [0, 1, 1]
    paris = [Reading("Paris (France)", "2 million"), Reading("Paris (Texas)", "25,000")]
    assert [match_reply(r, paris).index for r in ("the 2 million one", "2")] == [0, 1]   # answers are not options


@pytest.mark.parametrize("reply, index", [
    ("hockey isn't right", 0), ("the football one is wrong", 1), ("the hockey one's wrong", 0),
    ("hockey is not correct", 0), ("without the football", 1),                 # each picked the reading ruled out
    ("the football one is wrong, I meant hockey", 1), ("it's hockey, isn't it?", 1), ("hockey is right", 1),
])
def test_a_verdict_after_the_words_rules_them_out(reply, index):
    rs = [Reading("Bobby Carpenter (American football)", "American football"),
          Reading("Bobby Carpenter (ice hockey)", "ice hockey")]
    assert match_reply(reply, rs).index == index

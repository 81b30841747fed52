"""Reading detection, the decision policy and clarification on constructed evidence tables."""

from __future__ import annotations

import pytest

from readers.clarify import clarifying_question, follow_up, match_reply
from readers.policy import Policy, decide
from readers.readings import Evidence, group_evidence, split_title

FB, HK = "Bobby Carpenter (American football)", "Bobby Carpenter (ice hockey)"


def test_two_entities_make_a_multi_answer_with_citations():
    g = group_evidence([Evidence("d1", FB, "American football"), Evidence("d2", FB, "american football"),
                        Evidence("d3", HK, "ice hockey")])
    a = decide(g, numbering={"d1": 1, "d2": 2, "d3": 3})
    assert a.kind == "multi" and [r.label for r in a.readings] == [FB, HK]
    assert a.text == (f"For {FB}: American football [1][2]. For {HK}: ice hockey [3].")
    # by default the cited passages are numbered in order of first citation, not by hit rank
    assert decide(g).text == a.text
    assert decide(g, numbering={"d1": 4, "d2": 2, "d3": 1}).text == f"For {FB}: American football [4][2]. For {HK}: ice hockey [1]."


def test_misinformation_is_outvoted_but_a_close_split_is_a_conflict():
    outvoted = group_evidence([Evidence("a", "Lahu Ke Do Rang (1979 film)", "Mahesh Bhatt"),
                               Evidence("b", "Lahu Ke Do Rang (1979 film)", "Mahesh Bhatt"),
                               Evidence("c", "Lahu Ke Do Rang (1979 film)", "Mahesh Bhatt"),
                               Evidence("d", "Lahu Ke Do Rang (1979 film)", "Raj Kapoor")])
    a = decide(outvoted)
    assert a.kind == "single" and a.readings[0].answer == "Mahesh Bhatt"
    assert [e.passage_id for e in outvoted.dropped] == ["d"]
    split = group_evidence([Evidence("a", "X", "3,559 people"), Evidence("b", "X", "10,000 people")])
    b = decide(split)
    assert b.kind == "abstain"
    assert b.reason == "conflicting evidence for X: '10,000 people' (support 1.00) vs '3,559 people' (support 1.00)"
    titleless = decide(group_evidence([Evidence("a", "John Smith", "John Smith"), Evidence("b", "B", "y")]),
                       p_ambiguous=0.9, numbering={"a": 2, "b": 1})
    assert titleless.text == "For B: y [1]. John Smith [2]."   # was '... For John Smith: John Smith [2].'
    surfaced = decide(split, policy=Policy(abstain_on_conflict=False))
    assert surfaced.kind == "single" and "Note: conflicting evidence" in surfaced.text


def test_no_evidence_abstains_with_a_reason():
    a = decide(group_evidence([]))
    assert a.kind == "abstain" and a.reason == "no supporting evidence in the retrieved passages"
    weak = group_evidence([Evidence("a", "X", "y", score=0.2)])
    w = decide(weak)  # support 0.2 is below the policy's minimum: treated as no evidence
    assert (w.kind, w.readings, w.reason) == ("abstain", (), "no supporting evidence in the retrieved passages")


def test_same_answer_under_two_labels_is_one_reading():
    g = group_evidence([Evidence("a", "List of Harry Potter cast members", "James and Oliver Phelps"),
                        Evidence("b", "James and Oliver Phelps", "James and Oliver Phelps")])
    assert len(g.readings) == 1 and set(g.readings[0].citations) == {"a", "b"}
    assert g.readings[0].support == 2.0


def test_clarify_only_when_interactive_and_probably_ambiguous():
    g = group_evidence([Evidence("d1", FB, "American football"), Evidence("d3", HK, "ice hockey")])
    assert decide(g, interactive=False, p_ambiguous=0.9).kind == "multi"
    # one name with two qualifiers is ambiguity the evidence shows, whatever the classifier says
    assert decide(g, interactive=True, p_ambiguous=0.2).kind == "clarify"
    # answers under unrelated titles: the calibrated probability decides
    u = group_evidence([Evidence("d1", "Super Bowl LII", "Eagles"), Evidence("d2", "Super Bowl LIII", "Patriots")])
    assert decide(u, interactive=True, p_ambiguous=0.2).kind == "multi"
    assert decide(u, interactive=True, p_ambiguous=0.8).kind == "clarify"
    assert decide(u, interactive=True).kind == "clarify"  # unknown probability: ask
    c = decide(g, interactive=True, p_ambiguous=0.9)
    assert c.kind == "clarify"
    assert c.clarifying_question == ("Which do you mean: (1) Bobby Carpenter, American football or "
                                     "(2) Bobby Carpenter, ice hockey?")


def test_reply_matching_by_number_ordinal_words_and_embedding(encoder):
    g = group_evidence([Evidence("d1", FB, "American football"), Evidence("d3", HK, "ice hockey")])
    rs = g.readings
    assert match_reply("2", rs).index == 1 and match_reply("(1)", rs).index == 0
    assert match_reply("the second one", rs).index == 1
    assert match_reply("the hockey player", rs).index == 1
    assert match_reply("football", rs).index == 0
    assert match_reply("banana", rs).index is None
    assert match_reply("the NHL guy", rs, encoder=encoder).index == 1


def test_clarification_round_trip_asks_again_once_then_answers_completely():
    g = group_evidence([Evidence("d1", FB, "American football"), Evidence("d3", HK, "ice hockey")])
    q = clarifying_question(g.readings)
    ans, tries = follow_up(q, g.readings, "hockey")
    assert ans.kind == "single" and ans.readings[0].answer == "ice hockey" and tries == 0
    ans, tries = follow_up(q, g.readings, "no idea")
    assert ans.kind == "clarify" and tries == 1
    assert ans.text == f"Sorry, I could not tell which one you mean (the reply chooses no option). {q}"
    ans, tries = follow_up(q, g.readings, "still no idea", attempts=tries)
    assert ans.kind == "multi" and ans.reason == "the reply matched no option (the reply chooses no option)"
    assert [(r.label, r.answer) for r in ans.readings] == [(FB, "American football"), (HK, "ice hockey")]


def test_options_are_exactly_the_readings():
    with pytest.raises(ValueError, match="at least two"):
        clarifying_question(group_evidence([Evidence("a", "X", "y")]).readings)
    assert split_title("Mercury (planet)") == ("Mercury", "planet")
    assert split_title("Mercury") == ("Mercury", None)

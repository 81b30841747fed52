from __future__ import annotations

from readers.describe import describe_readings, needs_description, question_name
from readers.types import Reading

Q = "What sport is Keith Jennings associated with?"
TEXTS = {
    "fb": "Keith Jennings played tight end for the Chicago Bears in the National Football League.",
    "bb": "Keith Jennings was a point guard for the Golden State Warriors; Basketball Reference lists him.",
    "cr": "Jennings bowled for Somerset County Cricket Club in one-day Cricket, born in March.",
}


def _readings():
    return [Reading("Football", "Football", ("fb",)), Reading("Basketball", "Basketball", ("bb",)),
            Reading("Cricket", "Cricket", ("cr",))]


def test_each_reading_gets_phrases_only_its_passages_have_and_no_answer_words():
    labels = [r.label for r in describe_readings(_readings(), TEXTS, Q)]
    assert labels == ["Keith Jennings (Chicago Bears)",
                      "Keith Jennings (Golden State Warriors)", "Keith Jennings (Somerset County)"]
    # "Basketball Reference" and "Somerset County Cricket Club" share a word with an answer: never shown,
    # nor are the question's words ("Keith Jennings") or a month ("March")
    for label, r in zip(labels, _readings()):
        assert r.answer.lower() not in label.lower().replace("national football league", "")


def test_readings_keep_answers_citations_and_order():
    out = describe_readings(_readings(), TEXTS, Q)
    assert [(r.answer, r.citations) for r in out] == [(r.answer, r.citations) for r in _readings()]


def test_a_phrase_in_another_readings_passage_is_not_distinctive():
    texts = {"a": "Smith played for Leeds United in 1990.", "b": "Smith played for Leeds United in 1995."}
    rs = [Reading("1990", "1990", ("a",)), Reading("1995", "1995", ("b",))]
    assert [r.label for r in describe_readings(rs, texts, "When did Smith join?")] == ["1990", "1995"]


def test_titled_readings_and_single_readings_are_left_alone():
    titled = [Reading("Bobby Carpenter (ice hockey)", "ice hockey", ("a",)), Reading("Washington", "Washington", ("b",))]
    texts = {"a": "He played for the Washington Capitals.", "b": "Bobby Carpenter moved to Seattle Seahawks camp."}
    out = describe_readings(titled, texts, "Which team did Bobby Carpenter play for?")
    assert [r.label for r in out] == ["Bobby Carpenter (ice hockey)", "Bobby Carpenter (Seattle Seahawks)"]
    one = [Reading("Football", "Football", ("fb",))]
    assert describe_readings(one, TEXTS, Q) == one


def test_needs_description_and_question_name():
    assert needs_description(Reading("3,559 people", "3,559 People"))
    assert needs_description(Reading("Henry Ford", "Henry Ford"))   # a title that is the answer
    assert not needs_description(Reading("Bobby Carpenter (American football)", "American football"))
    assert not needs_description(Reading("Lincoln, Nebraska", "Lincoln"))   # a title containing it
    assert not needs_description(Reading("Broken Bow, Nebraska", "3,559"))
    assert question_name("Who is the artist of the album \"Lazy Afternoon\"?") == "Lazy Afternoon"
    assert question_name("When was Bobby Carpenter's first game?") == "Bobby Carpenter"


def test_missing_passage_text_keeps_the_label():
    rs = [Reading("1990", "1990", ("gone",)), Reading("1995", "1995", ("b",))]
    out = describe_readings(rs, {"b": "Smith joined Leeds United."}, "When did Smith join?")
    assert [r.label for r in out] == ["1990", "Smith (Leeds United)"]


def test_no_answer_leaks_through_a_word_the_name_or_a_word_inside_a_word():
    """'B-52 Stratofortress' named the answer '52'; the name 'Australia Sydney' named 'Sydney';
    'eBay' gave the phrase 'Bay'; 'In Nebraska' lost 'Nebraska' to the stopword 'In'."""
    texts = {"a": "The B-52 Stratofortress flew from Andersen Base; 52 crews.",
             "b": "The B-1 Lancer flew from Ellsworth Base; 7 crews."}
    rs = [Reading("52", "52", ("a",)), Reading("7", "7", ("b",))]
    assert [r.label for r in describe_readings(rs, texts, "How many crews?")] == ["Andersen Base", "Ellsworth Base, B-1 Lancer"]
    texts = {"s": "Sydney is in New South Wales.", "c": "Canberra is in the Australian Capital Territory."}
    rs = [Reading("Sydney", "Sydney", ("s",)), Reading("Canberra", "Canberra", ("c",))]
    labels = [r.label for r in describe_readings(rs, texts, "Is the capital of Australia Sydney or Canberra?")]
    assert labels == ["New South Wales", "Canberra"]   # "Capital" is the question's: nothing left to say
    texts = {"1": "In Nebraska, it sold on eBay for 3,559.", "2": "In Oklahoma, it sold for 4,120."}
    rs = [Reading("3,559", "3,559", ("1",)), Reading("4,120", "4,120", ("2",))]
    assert [r.label for r in describe_readings(rs, texts, "What did Broken Bow sell for?")] == [
        "Broken Bow (Nebraska)", "Broken Bow (Oklahoma)"]


def test_a_conflict_still_points_at_its_reading_after_describing():
    """Relabelling after grouping hid the top reading's conflict from the decision: a complete
    answer instead of the abstention."""
    from indexes.types import Hit, Passage
    from readers.reader import AmbigReader
    from readers.readings import Evidence

    ps = [Passage("p1", "Henry Ford", "Henry Ford founded the Ford Motor Company in Dearborn, Michigan."),
          Passage("p2", "Henry Ford", "Some call Alexander Malcomson its founder, at Mack Avenue."),
          Passage("p3", "Ford of Britain", "Percival Perry founded Ford of Britain at Trafford Park.")]
    table = [Evidence("p1", "Henry Ford", "Henry Ford", 1.0), Evidence("p2", "Henry Ford", "Alexander Malcomson", 0.8),
             Evidence("p3", "Ford of Britain", "Percival Perry", 0.9)]

    class Fixed:
        version = "fixed"

        def extract(self, question, hits):
            return table

    a = AmbigReader(Fixed()).read("Who founded Ford?", [Hit(p, 1.0, i, "x") for i, p in enumerate(ps, 1)])
    assert a.kind == "abstain" and "conflicting evidence" in a.reason

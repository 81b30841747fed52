"""Follow-ups made to stand on their own (retrievers/followup.py): hand-written cases, one per rule."""

from __future__ import annotations

import pytest

from retrievers.followup import contextualize, is_question, strip_preamble, subject_of

PREV = "Which team drafted Bobby Carpenter?"


@pytest.mark.parametrize("question, subject", [
    ("Which team drafted Bobby Carpenter?", "Bobby Carpenter"),
    ("Who won New Hampshire in 2016?", "New Hampshire"),
    ("What was Bobby Carpenter's first team?", "Bobby Carpenter"),      # possessive dropped
    ("When did the Capitals draft Bobby Carpenter?", "Bobby Carpenter"),  # the longest run
    ("Who was the Prince of Wales in 1900?", "Prince of Wales"),        # "of" joins a run
    ("Who is the president of France?", "France"),                      # ... but does not end one
    ("Who played the weasley brothers in harry potter?", None),         # nothing capitalised
    ("Who sang it?", None),                                             # a question word is no subject
    ("During the war, who led France?", "France"),                      # a sentence's first word ...
    ("Please tell me who founded Apple.", "Apple"),
    ("Bobby Carpenter was drafted by which team?", "Bobby Carpenter"),  # ... unless a name goes on
    ("Which team was in St. Louis in 1990?", "St. Louis"),              # a run goes on after "St."
    ("What did John F. Kennedy say in Berlin?", "John F. Kennedy"),     # ... keeping its stop
    ("Who did Martin Luther King Jr. marry?", "Martin Luther King Jr."),
    ("When was Bobby Carpenter drafted.", "Bobby Carpenter"),           # a sentence's stop goes
    ('Who is the artist of the song "It\'s Raining"?', "It's Raining"),  # a quoted title, whole
    ("Who recorded \u201cI Will Follow\u201d?", "I Will Follow"),           # curly quotes too
    ('Who said "no comment" to Bobby Carpenter?', "Bobby Carpenter"),  # ... if it starts a name
    ("How many clubs does the Boys & Girls Club have?", "Boys & Girls Club"),
    ("Who founded AT&T?", "AT&T"),                                      # was "AT & T"
    ("Who founded IBM.", "IBM"),                                        # a sentence's stop, not an abbreviation's
    ('When did Taylor Swift release "Love Story"?', "Taylor Swift"),   # a longer or earlier name beats a title
    ('What year did Martin Luther King Jr. give the "I Have a Dream" speech?', "Martin Luther King Jr."),
])
def test_subject_is_the_longest_capitalised_run(question, subject):
    assert subject_of(question) == subject


@pytest.mark.parametrize("followup, asked", [
    ("No, I meant when was he drafted", "when was Bobby Carpenter drafted?"),   # "?" added: a question
    ("actually, I meant: what position did he play?", "what position did Bobby Carpenter play?"),
    ("He was drafted by whom?", "Bobby Carpenter was drafted by whom?"),
    ("where was his brother born?", "where was Bobby Carpenter's brother born?"),
    ("what did she name her son?", "what did Bobby Carpenter name her son?"),   # only the first pronoun
    ("who drafted her?", "who drafted Bobby Carpenter?"),                       # object "her"
    ("was her father a player?", "was Bobby Carpenter's father a player?"),     # possessive "her"
    ("Thanks. When was he drafted?", "Thanks. When was Bobby Carpenter drafted?"),  # a sentence's first word
])
def test_pronouns_take_the_previous_subject(followup, asked):
    assert contextualize(followup, PREV) == asked


@pytest.mark.parametrize("followup, asked", [
    ("thanks!", "thanks!"),                                          # no pronoun
    ("who drafted him at Ohio State?", "who drafted him at Ohio State?"),  # names its own entity
    ("is it true?", "is it true?"),                                  # "it" is left alone
    ("I meant the hockey player", "I meant the hockey player"),      # no question after the preamble
    ("no, I meant who drafted Mario Lemieux", "who drafted Mario Lemieux?"),  # preamble dropped only
])
def test_what_the_rules_leave_alone(followup, asked):
    assert contextualize(followup, PREV) == asked


@pytest.mark.parametrize("text, question", [
    ("when was he drafted", True), ("In which year was he drafted?", True), ("tell me his team", True),
    ("the hockey player", False), ("in hockey", False), ("the other one", False), ("", False),
])
def test_is_question(text, question):
    assert is_question(text) is question


def test_strip_preamble_keeps_text_without_one():
    assert strip_preamble("No, I meant the hockey player") == "the hockey player"
    assert strip_preamble("  the hockey player ") == "the hockey player"
    assert strip_preamble("no, I meant") == "no, I meant"


def test_no_subject_in_the_previous_question_leaves_the_pronoun():
    assert contextualize("no, I meant when did he die", "who wrote the book of mormon") == "when did he die?"


def test_i_is_never_a_subject_nor_makes_the_word_before_it_a_name():
    """'I' was taken as the subject ('when was I drafted?'), and made 'Thanks' / 'No' / 'Hmm'
    before it a name, so the follow-up was left unrewritten."""
    assert subject_of("no, I meant the hockey player") is None
    assert contextualize("when was he drafted?", "no, I meant the hockey player") == "when was he drafted?"
    prev = "Which team drafted Bobby Carpenter?"
    assert contextualize("Thanks, I see. When was he drafted?", prev) == "Thanks, I see. When was Bobby Carpenter drafted?"
    assert contextualize("No, I meant his brother", prev) == "No, I meant Bobby Carpenter's brother"
    assert contextualize("Hmm I wonder where he was born", prev) == "Hmm I wonder where Bobby Carpenter was born"
    assert subject_of("Who succeeded Charles I of England?") == "Charles I of England"   # a regnal "I" stays
    assert subject_of("When did World War I end?") == "World War I"


def test_a_possessive_ends_the_subject():
    assert subject_of("Was James Cameron's Titanic a hit?") == "James Cameron"
    assert contextualize("where was he born?", "Was James Cameron's Titanic a hit?") == "where was James Cameron born?"


def test_a_pronoun_follows_the_person_not_a_quoted_title():
    """A quoted title returned first: "where was he born?" after a question about Martin Luther
    King's "I Have a Dream" speech became "where was I Have a Dream born?"."""
    assert contextualize("where was he born?", 'What year did Martin Luther King Jr. give the "I Have a Dream" '
                         "speech?") == "where was Martin Luther King Jr. born?"
    assert contextualize("how old was she then?", 'When did Taylor Swift release "Love Story"?') == \
        "how old was Taylor Swift then?"
    assert contextualize("when was he born?", "Name the founder of IBM.") == "when was IBM born?"


def test_capitals_only_name_nobody_but_the_pronoun_still_follows():
    """Typed with caps lock, every word looked like a name: "WHO WON NEW HAMPSHIRE IN 2016?" had
    the subject "WON NEW HAMPSHIRE IN", and "WHEN DID HE DIE?" seemed to name its own entity, so
    its "HE" was never replaced."""
    assert subject_of("WHO WON NEW HAMPSHIRE IN 2016?") is None
    assert contextualize("when did he die?", "WHO WON NEW HAMPSHIRE IN 2016?") == "when did he die?"
    assert contextualize("WHEN DID HE DIE?", PREV) == "WHEN DID Bobby Carpenter DIE?"
    assert contextualize("WHERE WAS HIS BROTHER BORN?", PREV) == "WHERE WAS Bobby Carpenter's BROTHER BORN?"
    assert subject_of("Who founded NASA?") == "NASA"          # one acronym in a cased question stays

from __future__ import annotations

import pytest

from eval.abstention import AbstentionItem, abstention_metrics, auroc, ramdocs_noise_only
from eval.clarification import Conversation, SimulatedUser, clarify_f1, conversation_recovered


def test_auroc_with_ties_matches_hand_count():
    # pairs (pos, neg): (0.8,0.4) win, (0.8,0.8) tie, (0.3,0.4) loss, (0.3,0.8) loss -> 1.5/4
    assert auroc([0.8, 0.3, 0.4, 0.8], [True, True, False, False]) == pytest.approx(0.375)
    assert auroc([0.1, 0.2], [True, True]) is None


def test_abstention_metrics():
    items = [AbstentionItem(True, False, True, 0.9), AbstentionItem(True, False, False, 0.6),
             AbstentionItem(False, True, False, 0.1), AbstentionItem(False, False, False, 0.5)]
    m = abstention_metrics(items)
    assert m["coverage"] == 0.75 and m["risk"] == pytest.approx(2 / 3)
    assert m["abstain_precision"] == 1.0 and m["abstain_recall"] == 0.5
    assert m["auroc"] == 1.0


def test_ramdocs_noise_only_is_deterministic(shared_data):
    from eval.data import load_ramdocs

    recs = load_ramdocs()
    a, b = ramdocs_noise_only(recs), ramdocs_noise_only(recs)
    assert a == b
    # one item per question that has a noise document (counted here from the raw records)
    with_noise = [r for r in recs if any(d["type"] == "noise" for d in r["documents"])]
    assert len(a) == len(with_noise) == 272
    assert [x["id"] for x in a] == [f"{r['id']}-noise" for r in with_noise]
    assert [x["documents"] for x in a] == [[d for d in r["documents"] if d["type"] == "noise"] for r in with_noise]
    assert {x["answerable"] for x in a} == {False}


def test_recovery_and_leak_rule():
    ok = Conversation(("Spain",), "Which year, 2010 or 2014?", "2010", ("Spain",))
    leak = Conversation(("Spain",), "Do you mean Spain or Germany?", "Spain", ("Spain",))
    half_leak = Conversation(("Spain",), "Do you mean Spain or Germany?", "the 2010 one", ("Spain",))
    assert conversation_recovered(ok) and not conversation_recovered(leak)
    assert conversation_recovered(half_leak)  # leaked only in the question, not in both
    wrong = Conversation(("Germany",), "Which year?", "2014", ("Spain",))
    assert clarify_f1([ok, wrong]) == pytest.approx(0.5)


def test_simulated_user_picks_closest_option(encoder):
    user = SimulatedUser(encoder)
    opts = ["Bobby Carpenter the American football linebacker", "Bobby Carpenter the ice hockey centre"]
    assert user.reply("What sport is Bobby Carpenter associated with?",
                      "What sport is Bobby Carpenter, the NHL hockey player, associated with?", opts) == opts[1]
    assert user.reply("Who won the world cup?", "Who won the world cup in 2010?") == "in 2010"

"""What sends a conversation to a person, through the REST API of the real
binary with the demo bot: the customer asking, a flow's handoff step, taking
up the bot's offer after two misses, a strongly negative message, a bot.yml
routing rule (VIP tier >= 2 asking about a loan goes to the loans queue), and
what must not (plain questions, a single miss).  /v1/stats and /metrics count
each reason; containment counts conversations that ended without a person.
"""
import re

import pytest

ADMIN = {"Authorization": "Bearer adm-" + "7" * 40}


@pytest.fixture
def k(start_kefu, tmp_path):
    return start_kefu("--data-dir", tmp_path / "data", "--admin-token", ADMIN["Authorization"][7:])


def create(k, **profile):
    body = {"language": "en", **profile}
    r = k.post("/v1/conversations", json=body)
    assert r.status_code == 201, r.text
    return r.json()["conversation_id"]


def say(k, cid, text):
    r = k.post(f"/v1/conversations/{cid}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    return r.json()


def stats(k):
    r = k.get("/v1/stats", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


def handoff(answer):
    return (answer.get("handoff") or {}).get("skill")


def queued(answer):
    return [m["text"] for m in answer["replies"] if m["from"] == "system" and "Position in queue" in m["text"]]


def test_customer_request_goes_to_the_general_queue(k):
    cid = create(k, name="Ann")
    a = say(k, cid, "I want to talk to a human agent")
    assert handoff(a) == "general", a
    assert queued(a), a
    s = stats(k)
    assert s["handoffs"]["by_reason"]["customer_request"] == 1
    assert [q["waiting"] for q in s["queues"] if q["skill"] == "general"] == [1]
    # the bot is silent now: stored and acked, no reply
    b = say(k, cid, "hello?")
    assert b["replies"] == [], b


def test_strongly_negative_message_goes_to_complaints(k):
    cid = create(k)
    a = say(k, cid, "This is the worst bank ever, your service is terrible and useless")
    assert handoff(a) == "complaints", a
    assert queued(a)
    assert stats(k)["handoffs"]["by_reason"]["complaint"] == 1


def test_routing_rule_vip_loan_goes_to_loans(k):
    vip = create(k, user_id="vip-1", vip_tier=2)
    a = say(k, vip, "I would like to apply for a personal loan")
    assert a["intent"] == "loan_inquiry", a
    assert handoff(a) == "loans", a
    regular = create(k, user_id="reg-1", vip_tier=0)
    b = say(k, regular, "I would like to apply for a personal loan")
    assert b["intent"] == "loan_inquiry"
    assert not b["handoff"], b  # the bot answers a regular customer's loan question
    assert stats(k)["handoffs"]["by_reason"]["rule"] == 1


def test_two_misses_then_taking_the_offer_is_a_fallback_handoff(k):
    cid = create(k)
    first = say(k, cid, "qwzx plorb vrrt")
    assert not first["handoff"], first
    second = say(k, cid, "blorf zzkq mnnw")
    assert not second["handoff"], second  # the bot offers; the customer chooses
    offer = second["replies"][-1]
    assert [q["payload"] for q in offer["quick_replies"]] == ["/human_agent"], second
    third = say(k, cid, offer["quick_replies"][0]["payload"])
    assert handoff(third) == "general", third
    assert stats(k)["handoffs"]["by_reason"]["fallback"] == 1


def test_flow_handoff_step_after_retries(k):
    cid = create(k)
    say(k, cid, "I want to change my phone number")
    a = None
    for bad in ("banana", "not a number", "still no digits here"):
        a = say(k, cid, bad)
        if handoff(a):
            break
    assert handoff(a) == "accounts", a
    assert stats(k)["handoffs"]["by_reason"]["flow"] == 1


def test_plain_questions_stay_with_the_bot_and_count_as_contained(k):
    cid = create(k)
    for text in ("What are your opening hours?", "How do I reset my password?", "thanks"):
        assert not say(k, cid, text)["handoff"]
    r = k.post(f"/v1/conversations/{cid}/close", json={"csat": 4})
    assert r.status_code == 200, r.text
    other = create(k)
    say(k, other, "I want to talk to a human agent")
    assert k.post(f"/v1/conversations/{other}/close", json={}).status_code == 200
    s = stats(k)
    assert s["conversations"]["contained"] == 1 and s["conversations"]["escalated"] == 1, s
    assert s["conversations"]["containment_rate"] == pytest.approx(0.5)
    assert s["csat"] == {"count": 1, "average": 4}
    assert all(q["waiting"] == 0 for q in s["queues"]), s  # the customer who left is out of the queue
    m = k.get("/metrics").text
    assert re.search(r'^kefu_conversations_ended_total\{outcome="contained"\} 1$', m, re.M), m
    assert re.search(r'^kefu_handoffs_total\{reason="customer_request"\} 1$', m, re.M)
    assert re.search(r"^kefu_containment_ratio 0\.5000$", m, re.M)
    assert re.search(r"^kefu_csat_average 4\.000$", m, re.M)


def test_stats_needs_a_credential_off_loopback_rules(k):
    # with an admin token configured, loopback alone is not enough
    assert k.get("/v1/stats").status_code == 401
    assert k.get("/v1/stats", headers={"Authorization": "Bearer kfa_forged"}).status_code == 401

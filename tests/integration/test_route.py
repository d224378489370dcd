"""POST /v1/route with the demo bot and model: a VIP's loan question goes to
the loans queue with a higher priority than a regular customer's, a
complaint or strongly negative message goes to complaints with the reason, an
FAQ-able question stays with the bot; 422 on bad input; the route and its
schemas are in /openapi.json."""
import pytest

WEIGHTS = {"vip", "value", "complexity", "sentiment", "failures", "contacts", "rules"}


def route(k, query, vip=0, lang="en", **extra):
    body = {"profile": {"vip_tier": vip, "language": lang}, "query": query}
    body["profile"].update(extra.pop("profile", {}))
    body.update(extra)
    r = k.post("/v1/route", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc["weights"]) == WEIGHTS
    assert doc["priority"] == pytest.approx(sum(doc["weights"].values()), abs=0.05)
    assert doc["reason"]
    return doc


def test_vip_loan_goes_to_loans_with_higher_priority(kefu):
    q = "I would like to apply for a personal loan"
    regular = route(kefu, q)
    vip = route(kefu, q, vip=3)
    assert vip["intent"] == "loan_inquiry", vip
    assert vip["target"] == {"kind": "skill", "skill": "loans"}, vip
    assert vip["weights"]["vip"] == 60 and vip["weights"]["rules"] == 50
    assert vip["priority"] > regular["priority"] + 100
    assert "rule 1" in vip["reason"] and "loans" in vip["reason"]
    assert "no agent free" in vip["reason"]


def test_complaint_and_negative_go_to_complaints(kefu):
    doc = route(kefu, "This is unacceptable, the worst bank ever, a total scam")
    assert doc["target"] == {"kind": "skill", "skill": "complaints"}, doc
    assert doc["negativity"] == 1 and doc["weights"]["sentiment"] == 30
    assert "negative" in doc["reason"] or "person handles" in doc["reason"]
    zh = route(kefu, "服务太差了，我要投诉你们", lang="zh")
    assert zh["target"] == {"kind": "skill", "skill": "complaints"}, zh


def test_faq_question_stays_with_the_bot(kefu):
    doc = route(kefu, "what are your opening hours")
    assert doc["target"] == {"kind": "bot"}, doc
    assert doc["reason"].startswith("the bot keeps it")


def test_failures_value_and_session_are_used(kefu):
    doc = route(kefu, "my card does not arrive", failures=2, session_id="ab" * 16,
                profile={"user_id": "u1", "customer_value": 999, "earlier_contacts": 3})
    assert doc["target"]["kind"] == "skill", doc
    assert doc["weights"]["failures"] == 20 and doc["weights"]["contacts"] == 6
    assert doc["weights"]["value"] == pytest.approx(15, abs=0.01)  # 5 · log10(1000)
    assert doc["session_id"] == "ab" * 16
    again = route(kefu, "my card does not arrive", failures=2, session_id="ab" * 16,
                  profile={"user_id": "u1", "customer_value": 999, "earlier_contacts": 3})
    assert again == doc, "deciding changes nothing: the same question gets the same answer"


@pytest.mark.parametrize("body,loc", [
    ({"query": "hi"}, ["body", "profile"]),
    ({"profile": {"vip_tier": 10, "language": "en"}, "query": "hi"}, ["body", "profile", "vip_tier"]),
    ({"profile": {"vip_tier": 1, "language": "fr"}, "query": "hi"}, ["body", "profile", "language"]),
    ({"profile": {"vip_tier": 1}, "query": "hi"}, ["body", "profile", "language"]),
    ({"profile": {"vip_tier": 1, "language": "en"}, "query": ""}, ["body", "query"]),
    ({"profile": {"vip_tier": 1, "language": "en"}, "query": "x" * 2001}, ["body", "query"]),
    ({"profile": {"vip_tier": 1, "language": "en", "customer_value": -1}, "query": "hi"},
     ["body", "profile", "customer_value"]),
    ({"profile": {"vip_tier": 1, "language": "en"}, "query": "hi", "session_id": "XYZ"}, ["body", "session_id"]),
])
def test_bad_input_is_422(kefu, body, loc):
    r = kefu.post("/v1/route", json=body)
    assert r.status_code == 422, r.text
    assert loc in [e["loc"] for e in r.json()["detail"]], r.json()


def test_in_openapi(kefu):
    doc = kefu.get("/openapi.json").json()
    op = doc["paths"]["/v1/route"]["post"]
    assert op["operationId"] == "routeQuery"
    schemas = doc["components"]["schemas"]
    assert {"RouteRequest", "RouteProfile", "RouteDecision", "RouteWeights", "RouteTarget"} <= set(schemas)
    assert schemas["RouteTarget"]["properties"]["kind"]["enum"] == ["bot", "skill", "agent"]

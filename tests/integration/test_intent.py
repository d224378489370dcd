"""POST /v1/intent with the demo model: the answer's shape, English and
Chinese card intents, entities with code-point spans, out-of-scope."""
import glob
import os
import re

import pytest

from conftest import REPO, SESSION, intent_body

KEYS = {"intent", "confidence", "alternatives", "entities", "out_of_scope", "session_id", "model_version"}


def demo_intents():
    names = set()
    for f in glob.glob(os.path.join(REPO, "bots", "demo", "intents", "*.yml")):
        with open(f, encoding="utf-8") as fh:
            names.update(re.findall(r"^\s*-\s*name:\s*([A-Za-z0-9_]+)\s*$", fh.read(), re.M))
    assert names, "no intents found in bots/demo/intents"
    return names


def card_intent():
    """The demo bot's lost/stolen card intent, read from its file."""
    with open(os.path.join(REPO, "bots", "demo", "intents", "cards.yml"), encoding="utf-8") as fh:
        names = re.findall(r"^\s*-\s*name:\s*([A-Za-z0-9_]+)\s*$", fh.read(), re.M)
    lost = [n for n in names if "lost" in n or "stolen" in n]
    assert len(lost) == 1, names
    return lost[0]


def classify(k, query, **extra):
    r = k.post("/v1/intent", json=intent_body(query, **extra))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def check_shape(doc, intents):
    assert set(doc) == KEYS, set(doc) ^ KEYS
    assert doc["intent"] in intents, doc["intent"]
    assert isinstance(doc["confidence"], (int, float)) and 0.0 <= doc["confidence"] <= 1.0
    alts = doc["alternatives"]
    assert isinstance(alts, list) and len(alts) <= 3
    for a in alts:
        assert set(a) == {"intent", "confidence"}
        assert a["intent"] in intents
        assert 0.0 <= a["confidence"] <= 1.0
    confs = [a["confidence"] for a in alts]
    assert confs == sorted(confs, reverse=True), confs
    assert len({a["intent"] for a in alts}) == len(alts), "an intent listed twice"
    assert isinstance(doc["entities"], list)
    assert isinstance(doc["out_of_scope"], bool)
    assert doc["out_of_scope"] == (doc["intent"] == "oos")
    assert isinstance(doc["model_version"], str) and doc["model_version"]


@pytest.fixture(scope="module")
def intents():
    return demo_intents()


@pytest.mark.parametrize("query", ["I lost my card", "my credit card was stolen yesterday",
                                   "please block my debit card, I can't find it"])
def test_english_lost_card(kefu, intents, query):
    doc = classify(kefu, query)
    check_shape(doc, intents)
    assert doc["intent"] == card_intent(), doc
    assert doc["out_of_scope"] is False
    assert doc["session_id"] == SESSION
    assert doc["alternatives"][0]["intent"] == doc["intent"]
    assert doc["confidence"] >= max(a["confidence"] for a in doc["alternatives"][1:])


@pytest.mark.parametrize("query", ["我的信用卡丢了", "银行卡被偷了，帮我冻结"])
def test_chinese_lost_card(kefu, intents, query):
    doc = classify(kefu, query)
    check_shape(doc, intents)
    assert doc["intent"] == card_intent(), doc
    assert doc["out_of_scope"] is False


def test_other_intents_are_told_apart(kefu, intents):
    got = {q: classify(kefu, q)["intent"] for q in
           ["what is my account balance", "I want to transfer money to my friend", "hello there", "我的余额是多少"]}
    assert got["what is my account balance"] == "check_balance", got
    assert got["我的余额是多少"] == "check_balance", got
    assert got["I want to transfer money to my friend"] == "transfer_money", got
    assert got["hello there"] == "greeting", got


def test_session_id_echoed_and_context_accepted(kefu, intents):
    sid = "fedcba9876543210fedcba9876543210"
    doc = classify(kefu, "I lost my card", session_id=sid, context={"channel": "app", "tier": [1, 2]})
    check_shape(doc, intents)
    assert doc["session_id"] == sid


def test_model_version_is_stable(kefu):
    versions = {classify(kefu, q)["model_version"] for q in ["hi", "I lost my card", "你好"]}
    assert len(versions) == 1


def test_same_query_same_answer(kefu):
    a = classify(kefu, "block my card please")
    b = classify(kefu, "block my card please")
    assert a == b


def spans_ok(query, entities):
    for e in entities:
        assert {"type", "value", "text", "start", "end"} <= set(e), e
        assert isinstance(e["start"], int) and isinstance(e["end"], int)
        assert 0 <= e["start"] < e["end"] <= len(query), e
        # spans count Unicode code points (Python str indices), not bytes
        assert query[e["start"]:e["end"]] == e["text"], (e, query[e["start"]:e["end"]])


def by_type(entities):
    out = {}
    for e in entities:
        out.setdefault(e["type"], []).append(e)
    return out


def test_entities_english(kefu, intents):
    q = "transfer ¥500 to alice@example.com from card 4111 1111 1111 1111 please"
    doc = classify(kefu, q)
    check_shape(doc, intents)
    spans_ok(q, doc["entities"])
    ents = by_type(doc["entities"])
    money = ents["money"][0]
    assert money["text"] == "¥500"
    assert "500" in money["value"] and "CNY" in money["value"]
    assert [e["value"] for e in ents["email"]] == ["alice@example.com"]
    assert [e["value"] for e in ents["card_number"]] == ["4111111111111111"]
    assert ents["card_number"][0]["text"] == "4111 1111 1111 1111"
    assert doc["intent"] == "transfer_money", doc


def test_entities_chinese_spans_are_code_points(kefu, intents):
    # multi-byte characters before every entity: byte offsets would differ
    q = "我要转账500元给张三，邮箱是 zhang@example.cn，卡号 6222 0212 3456 7890 128"
    doc = classify(kefu, q)
    check_shape(doc, intents)
    spans_ok(q, doc["entities"])
    ents = by_type(doc["entities"])
    assert ents["money"][0]["text"] == "500元"
    assert "500" in ents["money"][0]["value"]
    email = ents["email"][0]
    assert email["value"] == "zhang@example.cn"
    assert email["start"] == q.index("zhang@")
    assert "card_number" in ents


def test_no_entities_in_plain_text(kefu):
    assert classify(kefu, "I lost my card")["entities"] == []


@pytest.mark.parametrize("query", ["asdkjh qwpoeiru zxcmvn", "what's the weather like on mars",
                                   "怎么做红烧肉", "who won the football world cup in 1998"])
def test_out_of_scope(kefu, intents, query):
    doc = classify(kefu, query)
    check_shape(doc, intents)
    assert doc["intent"] == "oos", doc
    assert doc["out_of_scope"] is True


def test_intent_over_http2_equals_http1(kefu, curl):
    import json
    import subprocess
    body = json.dumps(intent_body("I lost my card"))
    p = subprocess.run([curl, "-sS", "--max-time", "10", "--http2-prior-knowledge", "-H",
                        "Content-Type: application/json", "--data-binary", body, kefu.url("/v1/intent")],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == classify(kefu, "I lost my card")


@pytest.mark.parametrize("query", [
    'my "card" \\ is lost\t\n',
    "😀😀 transfer ¥500 😀 to a@b.com",      # astral-plane code points before the entities
    "\u0007\u001f\u007f control characters, card lost",
    "ｆｕｌｌｗｉｄｔｈ ＬＯＳＴ ＣＡＲＤ",
])
def test_unusual_text_gives_valid_answer(kefu, intents, query):
    r = kefu.post("/v1/intent", json=intent_body(query))
    assert r.status_code == 200, r.text
    doc = r.json()  # valid JSON whatever the input
    check_shape(doc, intents)
    spans_ok(query, doc["entities"])


def test_astral_spans(kefu):
    q = "😀😀 transfer ¥500 😀 to a@b.com"
    ents = by_type(classify(kefu, q)["entities"])
    assert ents["money"][0]["start"] == q.index("¥")
    assert ents["email"][0]["start"] == q.index("a@b.com")

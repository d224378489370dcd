"""The conversation REST API against the real binary: create (with and
without a profile), messages (the block-card flow in English and Chinese with
a local webhook receiver, FAQ, resend, validation and error statuses),
transcript paging, close with CSAT, the admin list, OpenAPI, and durability:
`kill -9` right after each acknowledged message, then a restart on the same
data dir finds every acknowledged message and reply."""
import http.server
import json
import re
import signal
import threading
import time

import pytest
import requests
from h2mini import DATA, END_STREAM, H2Conn

HEX32 = re.compile(r"^[0-9a-f]{32}$")
JSON = {"content-type": "application/json"}


class Receiver:
    """A webhook backend: answers every POST with a block reference."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                bodies.append(json.loads(self.rfile.read(n) or b"null"))
                out = json.dumps({"reference": "BLK-777", "status": "blocked"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/block"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def srv(start_kefu, tmp_path, receiver):
    return start_kefu("--data-dir", tmp_path / "data", "--webhook-override", receiver.url)


def create(k, body=None, status=201):
    r = k.post("/v1/conversations", json=body) if body is not None else k.post("/v1/conversations")
    assert r.status_code == status, r.text
    return r.json()


def say(k, cid, text, client_msg_id=None, status=200):
    body = {"text": text}
    if client_msg_id:
        body["client_msg_id"] = client_msg_id
    r = k.post(f"/v1/conversations/{cid}/messages", json=body)
    assert r.status_code == status, r.text
    return r.json()


def texts(answer):
    return " | ".join(m["text"] for m in answer["replies"])


# ---- create ---------------------------------------------------------------

def test_create_without_a_body(srv):
    doc = create(srv)
    assert HEX32.match(doc["conversation_id"])
    assert doc["messages"] == []


def test_create_with_a_profile_greets_in_its_language(srv):
    doc = create(srv, {"user_id": "u-1", "name": "李雷", "vip_tier": 3, "language": "zh"})
    assert len(doc["messages"]) == 1
    m = doc["messages"][0]
    assert m["seq"] == 1 and m["from"] == "bot" and "您好" in m["text"]
    assert all(set(q) == {"title", "payload"} for q in m["quick_replies"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", m["created_at"])


@pytest.mark.parametrize("body,field", [
    ({"vip_tier": 10}, "vip_tier"), ({"language": "fr"}, "language"), ({"name": ""}, "name"),
    ({"user_id": 5}, "user_id")])
def test_create_validation(srv, body, field):
    r = srv.post("/v1/conversations", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", field]


def test_create_needs_json(srv):
    r = srv.post("/v1/conversations", data="x=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


# ---- messages -------------------------------------------------------------

def test_block_card_in_english(srv, receiver):
    cid = create(srv)["conversation_id"]
    a = say(srv, cid, "I lost my card")
    assert a["intent"] == "lost_or_stolen_card" and a["lang"] == "en" and a["seq"] == 1
    assert [m["seq"] for m in a["replies"]] == [2] and "last 4 digits" in texts(a)
    a = say(srv, cid, "1234")
    assert "Block the card ending 1234?" in texts(a)
    assert a["replies"][0]["quick_replies"][0]["payload"] == "/affirm"
    a = say(srv, cid, "/affirm")
    assert "reference number is BLK-777" in texts(a)
    assert a["handoff"] is None
    assert receiver.bodies == [{"card_last4": "1234"}]


def test_block_card_in_chinese(srv, receiver):
    cid = create(srv, {"language": "zh"})["conversation_id"]
    a = say(srv, cid, "我的银行卡被偷了")
    assert a["lang"] == "zh" and "卡号后四位" in texts(a)
    a = say(srv, cid, "尾号8765")
    assert "确认冻结尾号 8765 的银行卡吗" in texts(a)
    a = say(srv, cid, "是的")
    assert "参考编号：BLK-777" in texts(a)
    assert receiver.bodies == [{"card_last4": "8765"}]


def test_block_card_backend_down_hands_off(start_kefu, tmp_path):
    k = start_kefu("--data-dir", tmp_path / "d2", "--webhook-override", "http://127.0.0.1:9/block")
    cid = create(k)["conversation_id"]
    say(k, cid, "I lost my card")
    say(k, cid, "my card ending in 4321")
    a = say(k, cid, "yes")
    assert a["handoff"] == {"skill": "cards"}
    assert "couldn't block the card" in texts(a)


def test_faq_and_fallbacks(srv):
    cid = create(srv)["conversation_id"]
    a = say(srv, cid, "which phones does the banking app support")
    assert "App Store or Google Play" in texts(a)
    a = say(srv, cid, "手机银行老是闪退")
    assert a["lang"] == "zh" and "闪退" in texts(a)
    say(srv, cid, "asdf qwer zxcv")
    a = say(srv, cid, "blorp flarp zzzt")
    assert any(q["payload"] == "/human_agent" for m in a["replies"] for q in m["quick_replies"])
    a = say(srv, cid, "/human_agent")
    assert a["handoff"] == {"skill": "general"} and a["intent"] == "human_agent" and a["confidence"] == 1


def test_masked_card_number_and_entities(srv):
    cid = create(srv)["conversation_id"]
    a = say(srv, cid, "my card 4111 1111 1111 1111 was stolen")
    assert "4111" not in json.dumps(a["entities"])
    assert any(e["type"] == "card_number" for e in a["entities"])
    msgs = srv.get(f"/v1/conversations/{cid}/messages").json()["messages"]
    assert "**** **** **** 1111" in msgs[0]["text"] and "4111 1111" not in msgs[0]["text"]


def test_resend_is_answered_once(srv):
    cid = create(srv)["conversation_id"]
    a = say(srv, cid, "what are your opening hours", client_msg_id="web:1.a_b-c")
    b = say(srv, cid, "what are your opening hours", client_msg_id="web:1.a_b-c")
    assert a["duplicate"] is False and b["duplicate"] is True
    assert b["seq"] == a["seq"]
    assert [(m["seq"], m["text"]) for m in b["replies"]] == [(m["seq"], m["text"]) for m in a["replies"]]
    msgs = srv.get(f"/v1/conversations/{cid}/messages").json()["messages"]
    assert len(msgs) == 1 + len(a["replies"])
    assert msgs[0]["client_msg_id"] == "web:1.a_b-c"


@pytest.mark.parametrize("body,field", [
    ({"text": ""}, "text"), ({"text": "x" * 2001}, "text"), ({}, "text"),
    ({"text": "hi", "client_msg_id": "bad id"}, "client_msg_id"),
    ({"text": "hi", "client_msg_id": "x" * 65}, "client_msg_id")])
def test_message_validation(srv, body, field):
    cid = create(srv)["conversation_id"]
    r = srv.post(f"/v1/conversations/{cid}/messages", json=body)
    assert r.status_code == 422, r.text
    assert ["body", field] in [e["loc"] for e in r.json()["detail"]]


def test_message_errors(srv):
    r = srv.post("/v1/conversations/0123456789abcdef0123456789abcdef/messages", json={"text": "hi"})
    assert r.status_code == 404
    r = srv.post("/v1/conversations/NOT-HEX/messages", json={"text": "hi"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "conversation_id"]
    cid = create(srv)["conversation_id"]
    r = srv.post(f"/v1/conversations/{cid}/messages", data="text=hi")
    assert r.status_code == 415
    r = srv.post(f"/v1/conversations/{cid}/messages", data=json.dumps({"text": "x" * 70000}), headers=JSON)
    assert r.status_code == 413
    say(srv, cid, "2000 code points are fine: " + "好" * 1960)
    srv.post(f"/v1/conversations/{cid}/close", json={})
    r = srv.post(f"/v1/conversations/{cid}/messages", json={"text": "hello?"})
    assert r.status_code == 409 and "ended" in r.json()["detail"]


def test_busy_conversation_answers_503_with_retry_after(srv):
    """60 messages to one conversation arrive in one read (HTTP/2 streams
    whose bodies come in a single write): the conversation queues
    KF_CONV_MAX_PENDING (32) of them, the rest get 503 (with Retry-After) at once,
    and every answered one is in the transcript in order."""
    cid = create(srv)["conversation_id"]
    c = H2Conn(srv.host, srv.port)
    try:
        hdr = {"content-type": "application/json"}
        bodies = [json.dumps({"text": f"what are your opening hours {i}"}).encode() for i in range(60)]
        sids = [c.send_request("POST", f"/v1/conversations/{cid}/messages", body=b, headers=hdr) for b in bodies]
        c.sock.sendall(b"".join(c._frame(DATA, END_STREAM, sid, b) for sid, b in zip(sids, bodies)))
        got = c.collect(sids)
    finally:
        c.close()
    answered = [json.loads(b) for _, b in got.values() if b"\"seq\"" in b]
    busy = [b for _, b in got.values() if b"Service Unavailable" in b]
    assert len(answered) + len(busy) == 60
    assert len(answered) == 32 and len(busy) == 28, (len(answered), len(busy))
    msgs = srv.get(f"/v1/conversations/{cid}/messages?limit=1000").json()["messages"]
    assert sorted(a["seq"] for a in answered) == [m["seq"] for m in msgs if m["from"] == "customer"]
    # the order of the calls is the order of the seqs
    by_stream = [json.loads(got[s][1])["seq"] for s in sids if b"\"seq\"" in got[s][1]]
    assert by_stream == sorted(by_stream)


# ---- transcript -----------------------------------------------------------

def test_transcript_paging(srv):
    cid = create(srv, {"language": "en"})["conversation_id"]
    for t in ["hello", "what are your opening hours", "thanks"]:
        say(srv, cid, t)
    full = srv.get(f"/v1/conversations/{cid}/messages").json()
    seqs = [m["seq"] for m in full["messages"]]
    assert seqs == list(range(1, len(seqs) + 1)) and full["last_seq"] == seqs[-1]
    assert full["messages"][0]["from"] == "bot" and full["messages"][1]["from"] == "customer"
    assert full["messages"][1]["intent"] == "greeting" and full["messages"][0]["intent"] is None
    page = srv.get(f"/v1/conversations/{cid}/messages", params={"after_seq": 2, "limit": 2}).json()
    assert [m["seq"] for m in page["messages"]] == [3, 4]
    rest = srv.get(f"/v1/conversations/{cid}/messages", params={"after_seq": seqs[-1]}).json()
    assert rest["messages"] == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"after_seq": -1}, {"after_seq": "x"}):
        assert srv.get(f"/v1/conversations/{cid}/messages", params=bad).status_code == 422
    assert srv.get("/v1/conversations/0123456789abcdef0123456789abcdef/messages").status_code == 404


# ---- close and list -------------------------------------------------------

def test_close_with_csat_and_list(srv):
    cid = create(srv, {"user_id": "u-9", "name": "Ann", "vip_tier": 2})["conversation_id"]
    say(srv, cid, "hello")
    for bad in ({"csat": 0}, {"csat": 6}, {"comment": "x" * 1001}, {"csat": "great"}):
        assert srv.post(f"/v1/conversations/{cid}/close", json=bad).status_code == 422
    r = srv.post(f"/v1/conversations/{cid}/close", json={"csat": 5, "comment": "very helpful"})
    assert r.status_code == 200 and r.json() == {"conversation_id": cid, "status": "closed"}
    r = srv.post(f"/v1/conversations/{cid}/close")  # again, no body: still closed
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert srv.post("/v1/conversations/0123456789abcdef0123456789abcdef/close", json={}).status_code == 404
    other = create(srv)["conversation_id"]
    lst = srv.get("/v1/conversations", params={"status": "closed"}).json()
    mine = [c for c in lst["conversations"] if c["conversation_id"] == cid]
    assert mine and mine[0]["csat"] == 5 and mine[0]["user_id"] == "u-9" and mine[0]["vip_tier"] == 2
    assert mine[0]["ended_at"] and mine[0]["last_seq"] >= 2
    assert all(c["status"] == "closed" for c in lst["conversations"])
    opened = srv.get("/v1/conversations", params={"status": "open"}).json()["conversations"]
    assert other in [c["conversation_id"] for c in opened] and cid not in [c["conversation_id"] for c in opened]
    p1 = srv.get("/v1/conversations", params={"limit": 1}).json()
    assert len(p1["conversations"]) == 1 and p1["next_cursor"]
    p2 = srv.get("/v1/conversations", params={"limit": 1, "cursor": p1["next_cursor"]}).json()
    assert p2["conversations"][0]["conversation_id"] != p1["conversations"][0]["conversation_id"]
    assert srv.get("/v1/conversations", params={"status": "nope"}).status_code == 422


def test_list_is_admin_only(start_kefu, tmp_path):
    k = start_kefu("--data-dir", tmp_path / "d3", "--admin-token", "s3cret")
    assert k.get("/v1/conversations").status_code == 401
    r = k.get("/v1/conversations", headers={"authorization": "Bearer s3cret"})
    assert r.status_code == 200 and r.json()["next_cursor"] is None


def test_openapi_lists_the_routes(srv):
    doc = srv.get("/openapi.json").json()
    paths = doc["paths"]
    assert "post" in paths["/v1/conversations"] and "get" in paths["/v1/conversations"]
    assert paths["/v1/conversations"]["post"]["requestBody"]["required"] is False
    assert "post" in paths["/v1/conversations/{conversation_id}/messages"]
    assert "get" in paths["/v1/conversations/{conversation_id}/messages"]
    assert "post" in paths["/v1/conversations/{conversation_id}/close"]
    assert "MessageAnswer" in doc["components"]["schemas"]


# ---- durability -----------------------------------------------------------

def test_kill_9_after_each_answer_loses_nothing(start_kefu, tmp_path):
    """SIGKILL right after each 200: the restarted server has the message and
    its replies exactly as acknowledged, and the conversation, whose live
    session died with the process, is ended (expired)."""
    data = tmp_path / "durable"
    acked = []
    for i, text in enumerate(["I lost my card", "我的卡丢了", "what are your opening hours"]):
        k = start_kefu("--data-dir", data)
        cid = create(k, {"language": "en"})["conversation_id"]
        a = say(k, cid, text, client_msg_id=f"m{i}")
        k.signal(signal.SIGKILL)
        k.wait_exit(10)
        acked.append((cid, a))
    k = start_kefu("--data-dir", data)
    for cid, a in acked:
        msgs = {m["seq"]: m for m in k.get(f"/v1/conversations/{cid}/messages").json()["messages"]}
        assert msgs[a["seq"]]["from"] == "customer" and msgs[a["seq"]]["client_msg_id"]
        for rep in a["replies"]:
            assert msgs[rep["seq"]]["text"] == rep["text"]
    cid, a = acked[0]
    assert k.post(f"/v1/conversations/{cid}/messages", json={"text": "hello"}).status_code == 409
    lst = k.get("/v1/conversations", params={"status": "expired"}).json()["conversations"]
    assert cid in [c["conversation_id"] for c in lst]


def test_kill_9_under_load_keeps_every_acknowledged_message(start_kefu, tmp_path):
    data = tmp_path / "load"
    k = start_kefu("--data-dir", data)
    cids = [create(k)["conversation_id"] for _ in range(8)]
    acked, stop = [], threading.Event()

    def sender(cid):
        s = requests.Session()
        n = 0
        while not stop.is_set():
            try:
                r = s.post(k.url(f"/v1/conversations/{cid}/messages"),
                           json={"text": f"what are your opening hours {n}", "client_msg_id": f"c{n}"}, timeout=5)
            except requests.RequestException:
                return
            if r.status_code == 200:
                acked.append((cid, r.json()))
            n += 1

    threads = [threading.Thread(target=sender, args=(c,)) for c in cids]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    k.signal(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(10)
    k.wait_exit(10)
    assert len(acked) >= 50
    k2 = start_kefu("--data-dir", data)
    for cid in cids:
        msgs = {m["seq"]: m for m in k2.get(f"/v1/conversations/{cid}/messages?limit=1000").json()["messages"]}
        for c, a in acked:
            if c != cid:
                continue
            assert msgs[a["seq"]]["from"] == "customer"
            assert [msgs[r["seq"]]["text"] for r in a["replies"]] == [r["text"] for r in a["replies"]]

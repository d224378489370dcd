"""The customer WebSocket channel, GET /v1/ws, against the real binary.

Protocol (README.md, "Customer WebSocket"): JSON text frames with a "type".
Every exchange below is synchronised with an application ping: the server
answers frames of one connection in order, so everything sent because of the
frames before a ping arrives before its pong.  That makes "no more frames"
assertions exact instead of timing-based.
"""
import http.server
import json
import re
import signal
import socket
import struct
import threading
import time

import pytest
import requests

from wsclient import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WSClient, WSClosed

ID_RE = re.compile(r"^[0-9a-f]{32}$")


class Chat(WSClient):
    """A WSClient speaking the chat protocol."""

    def __init__(self, kefu, timeout=15.0, **kw):
        super().__init__(kefu.host, kefu.port, "/v1/ws", timeout=timeout, **kw)

    def send(self, **frame):
        self.send_text(json.dumps(frame, ensure_ascii=False))

    def recv(self):
        return json.loads(self.recv_text())

    def sync(self):
        """Every frame before the pong of a ping sent now."""
        self.send(type="ping")
        out = []
        while True:
            f = self.recv()
            if f["type"] == "pong":
                return out
            out.append(f)

    def hello(self, **kw):
        self.send(type="hello", **kw)
        w = self.recv()
        assert w["type"] == "welcome", w
        return w

    def start(self, language="en"):
        """A new conversation: (welcome, greeting frames)."""
        w = self.hello(profile={"user_id": "u1", "name": "Ana", "vip_tier": 0, "language": language})
        assert ID_RE.match(w["conversation_id"]) and w["resumed"] is False
        greet = self.sync()
        assert all(f["type"] == "message" for f in greet), greet
        assert [f["seq"] for f in greet] == list(range(1, w["last_seq"] + 1))
        return w, greet

    def turn(self, text, cmid):
        """Sends one message; returns (ack, the frames that followed it up to the pong)."""
        self.send(type="message", text=text, client_msg_id=cmid)
        ack = self.recv()
        assert ack["type"] == "ack", ack
        assert ack["client_msg_id"] == cmid
        return ack, self.sync()


def replies(frames):
    return [f for f in frames if f["type"] == "message"]


def expect_closed(ws, code):
    with pytest.raises(WSClosed) as e:
        for _ in range(100):
            ws.recv_message()
    assert e.value.code == code


# ---- hello, message, ack ------------------------------------------------------------------

def test_hello_welcome_and_greeting(kefu):
    ws = Chat(kefu)
    try:
        w, greet = ws.start()
        assert w["last_seq"] >= 1, "a profile with a language gets the greeting"
        for f in greet:
            assert f["from"] == "bot" and f["text"] and isinstance(f["quick_replies"], list)
            assert isinstance(f["created_at"], int) and f["created_at"] > 1_600_000_000_000
    finally:
        ws.close()


def test_hello_without_profile(kefu):
    ws = Chat(kefu)
    try:
        w = ws.hello()
        assert ID_RE.match(w["conversation_id"]) and w["last_seq"] == 0 and w["resumed"] is False
        assert ws.sync() == []
    finally:
        ws.close()


def test_message_is_acked_then_answered(kefu):
    ws = Chat(kefu)
    try:
        w, _ = ws.start()
        ack, after = ws.turn("hello", "m-1")
        assert ack["seq"] == w["last_seq"] + 1 and ack["duplicate"] is False
        got = replies(after)
        assert got, "the bot answers"
        assert [f["seq"] for f in got] == list(range(ack["seq"] + 1, ack["seq"] + 1 + len(got)))
        assert all(f["from"] in ("bot", "system", "agent") and f["text"] for f in got)
    finally:
        ws.close()


def test_duplicate_client_msg_id_acked_without_second_reply(kefu):
    ws = Chat(kefu)
    try:
        ws.start()
        ack, after = ws.turn("what are your opening hours?", "dup:1")
        assert replies(after)
        ack2, after2 = ws.turn("what are your opening hours?", "dup:1")
        assert ack2["duplicate"] is True and ack2["seq"] == ack["seq"]
        assert after2 == [], f"a resend's replies are not sent again: {after2}"
        ack3, after3 = ws.turn("thanks", "dup:2")
        assert ack3["duplicate"] is False and ack3["seq"] > max(f["seq"] for f in replies(after))
        assert replies(after3)
    finally:
        ws.close()


def test_pipelined_messages_keep_their_order(kefu):
    ws = Chat(kefu)
    try:
        ws.start()
        for i in range(10):
            ws.send(type="message", text=f"hello {i}", client_msg_id=f"p{i}")
        frames = ws.sync()
        acks = [f for f in frames if f["type"] == "ack"]
        assert [a["client_msg_id"] for a in acks] == [f"p{i}" for i in range(10)]
        seqs = [f["seq"] for f in frames if f["type"] in ("ack", "message")]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        # each message's replies come after its ack and before the next ack
        for a, b in zip(acks, acks[1:]):
            between = frames[frames.index(a) + 1:frames.index(b)]
            assert between and all(a["seq"] < f["seq"] < b["seq"] for f in between)
    finally:
        ws.close()


def test_too_many_waiting_messages_get_busy(kefu):
    ws = Chat(kefu)
    try:
        ws.hello()
        # one write, so the server reads all 40 before any answer can complete
        ws.sock.sendall(b"".join(
            ws.encode_frame(OP_TEXT, json.dumps({"type": "message", "text": f"hello {i}",
                                                 "client_msg_id": f"q{i}"}).encode())
            for i in range(40)))
        out = ws.sync()
        answers = {}
        for f in out:
            if f["type"] in ("ack", "error"):
                assert f["client_msg_id"] not in answers, f
                answers[f["client_msg_id"]] = f
        assert set(answers) == {f"q{i}" for i in range(40)}
        busy = sorted(int(k[1:]) for k, f in answers.items() if f["type"] == "error")
        assert all(answers[k]["code"] == "busy" for k in answers if answers[k]["type"] == "error")
        assert busy == list(range(32, 40)), busy
        acks = [f["client_msg_id"] for f in out if f["type"] == "ack"]
        assert acks == [f"q{i}" for i in range(32)]
    finally:
        ws.close()


# ---- resume ---------------------------------------------------------------------------------

def test_resume_replays_exactly_what_was_missed(kefu):
    a = Chat(kefu)
    w, greet = a.start()
    cid = w["conversation_id"]
    ack1, r1 = a.turn("hi there", "r-1")
    known = max(f["seq"] for f in replies(r1))
    # the client sends a second message and loses the connection before any answer
    a.send(type="message", text="what are your opening hours?", client_msg_id="r-2")
    a.sock.close()

    b = Chat(kefu)
    try:
        w2 = b.hello(conversation_id=cid, resume_after_seq=known)
        assert w2["conversation_id"] == cid and w2["resumed"] is True
        replay = b.sync()
        # resend what was never acked: acked again as a duplicate if it had been stored
        b.send(type="message", text="what are your opening hours?", client_msg_id="r-2")
        rest = b.sync()
        acks = [f for f in rest if f["type"] == "ack"]
        assert len(acks) == 1 and acks[0]["client_msg_id"] == "r-2"
        got = [f for f in replay + rest if f["type"] == "message"]
        seqs = [f["seq"] for f in got]
        assert len(seqs) == len(set(seqs)), f"nothing twice: {seqs}"
        assert seqs == sorted(seqs)
        # nothing lost: every bot message after `known` arrived; the customer's own
        # message arrives either in the replay (with its client_msg_id) or as the ack
        last = max(seqs + [acks[0]["seq"]])
        customer = [f for f in got if f["from"] == "customer"]
        assert all(f["client_msg_id"] == "r-2" for f in customer)
        have = set(seqs) | {acks[0]["seq"]}
        assert have == set(range(known + 1, last + 1))
        assert any(f["from"] == "bot" and f["seq"] > acks[0]["seq"] for f in got), "the reply to r-2"
    finally:
        b.close()

    # a third connection resuming from 0 sees the whole conversation once, in order
    c = Chat(kefu)
    try:
        w3 = c.hello(conversation_id=cid, resume_after_seq=0)
        full = c.sync()
        assert [f["seq"] for f in full] == list(range(1, w3["last_seq"] + 1))
        assert full[0]["text"] == greet[0]["text"]
        mine = full[ack1["seq"] - 1]
        assert mine["from"] == "customer" and mine["text"] == "hi there" and mine["client_msg_id"] == "r-1"
        assert all("client_msg_id" not in f for f in full if f["from"] != "customer")
    finally:
        c.close()


def test_attach_without_resume_replays_nothing(kefu):
    a = Chat(kefu)
    w, _ = a.start()
    a.turn("hello", "x1")
    a.close()
    b = Chat(kefu)
    try:
        w2 = b.hello(conversation_id=w["conversation_id"])
        assert w2["resumed"] is True and w2["last_seq"] > w["last_seq"]
        assert b.sync() == []
        ack, after = b.turn("thanks", "x2")
        assert ack["seq"] == w2["last_seq"] + 1 and replies(after)
    finally:
        b.close()


# ---- the block-card flow ------------------------------------------------------------------------

def block_card_flow(kefu, language, lost, digits, deny, expect):
    ws = Chat(kefu)
    try:
        ws.start(language)
        _, r = ws.turn(lost, "b1")
        assert any(expect["ask"] in f["text"] for f in replies(r)), r
        _, r = ws.turn(digits, "b2")
        confirm = replies(r)[-1]
        assert "1234" in confirm["text"], confirm
        titles = [q["title"] for q in confirm["quick_replies"]]
        assert titles == expect["buttons"], confirm
        payloads = {q["title"]: q["payload"] for q in confirm["quick_replies"]}
        _, r = ws.turn(payloads[deny], "b3")
        assert any(expect["not_blocked"] in f["text"] for f in replies(r)), r
    finally:
        ws.close()


def test_block_card_flow_english(kefu):
    block_card_flow(kefu, "en", "I lost my credit card", "1234", "No",
                    {"ask": "last 4 digits", "buttons": ["Yes, block it", "No"],
                     "not_blocked": "haven't blocked the card ending 1234"})


def test_block_card_flow_chinese(kefu):
    block_card_flow(kefu, "zh", "我的信用卡丢了", "1234", "不用了",
                    {"ask": "后四位", "buttons": ["确认冻结", "不用了"], "not_blocked": "尾号 1234 的卡没有冻结"})


@pytest.fixture
def card_backend():
    """A stand-in for the bank's card backend (the flow's block_card webhook)."""
    calls = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            calls.append(json.loads(body))
            out = json.dumps({"reference": "BLK-7788"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/block", calls
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("language,lost,yes,done", [
    ("en", "I lost my card", "Yes, block it", "Your reference number is BLK-7788"),
    ("zh", "我的银行卡丢了", "确认冻结", "参考编号：BLK-7788"),
])
def test_block_card_confirmed_calls_the_backend(start_kefu, card_backend, language, lost, yes, done):
    url, calls = card_backend
    kefu = start_kefu("--webhook-override", url)
    ws = Chat(kefu)
    try:
        ws.start(language)
        ws.turn(lost, "c1")
        _, r = ws.turn("1234", "c2")
        payload = {q["title"]: q["payload"] for q in replies(r)[-1]["quick_replies"]}[yes]
        _, r = ws.turn(payload, "c3")
        assert any(done in f["text"] for f in replies(r)), r
        assert not [f for f in r if f["type"] == "handoff"]
        assert calls and calls[-1].get("card_last4") == "1234"
    finally:
        ws.close()


def queued(ws, ack, frames):
    """A handoff's turn without its queue frame, which is pushed from the event bus
    after the answers: before the turn's pong or just after it."""
    rest = [f for f in frames if f["type"] != "queue"]
    if len(rest) == len(frames):
        assert ws.recv()["type"] == "queue"
    return ack, rest


def test_handoff_frames(start_kefu):
    # the card backend is down (nothing listens on port 1): the flow hands off to the cards team
    kefu = start_kefu("--webhook-override", "http://127.0.0.1:1/block")
    ws = Chat(kefu)
    try:
        ws.start()
        _, r = queued(ws, *ws.turn("I want to talk to a human", "h1"))
        assert replies(r) and r[-1] == {"type": "handoff", "skill": "general"}
        # queued (test_handoff.py has the rest): the bot is silent from now on,
        # so the flow runs in a second conversation
    finally:
        ws.close()
    ws = Chat(kefu)
    try:
        ws.start()
        ws.turn("I lost my card", "h2")
        ws.turn("1234", "h3")
        _, r = queued(ws, *ws.turn("/affirm", "h4"))
        assert replies(r) and r[-1] == {"type": "handoff", "skill": "cards"}
        # a resend is acked, and neither its replies nor its handoff come again
        ack, r = ws.turn("/affirm", "h4")
        assert ack["duplicate"] is True and r == []
    finally:
        ws.close()


# ---- bad input ------------------------------------------------------------------------------------

def test_first_frame_not_hello_is_closed_1008(kefu):
    ws = Chat(kefu)
    ws.send(type="message", text="hi", client_msg_id="a")
    f = ws.recv()
    assert f["type"] == "error" and f["code"] == "bad_frame"
    expect_closed(ws, 1008)


def test_first_frame_not_json_is_closed_1008(kefu):
    ws = Chat(kefu)
    ws.send_text("{nope")
    assert ws.recv()["code"] == "bad_frame"
    expect_closed(ws, 1008)


def test_oversize_frame_is_closed_1009(kefu):
    ws = Chat(kefu)
    ws.hello()
    ws.send(type="message", text="x" * 9000, client_msg_id="big")
    expect_closed(ws, 1009)


def test_text_over_2000_characters_is_too_large(kefu):
    ws = Chat(kefu)
    try:
        ws.hello()
        ws.send(type="message", text="好" * 2001, client_msg_id="long")  # 6 KiB: under the frame limit
        f = ws.recv()
        assert f == {**f, "type": "error", "code": "too_large", "client_msg_id": "long"}
        assert ws.sync() == []
    finally:
        ws.close()


def test_invalid_json_keeps_the_socket(kefu):
    ws = Chat(kefu)
    try:
        ws.hello()
        for bad in ["{not json", "[1,2]", "\"str\"", "{\"no_type\":1}", "{\"type\":5}"]:
            ws.send_text(bad)
            f = ws.recv()
            assert f["type"] == "error" and f["code"] == "bad_frame", (bad, f)
        ws.send_frame(OP_BINARY, b"\x00\x01")
        assert ws.recv()["code"] == "bad_frame"
        ws.send(type="shout")
        assert ws.recv()["code"] == "unknown_type"
        ack, after = ws.turn("hello", "still-ok")
        assert ack["duplicate"] is False and replies(after)
    finally:
        ws.close()


@pytest.mark.parametrize("frame,cmid", [
    ({"type": "message", "text": "hi"}, None),
    ({"type": "message", "text": "hi", "client_msg_id": ""}, None),
    ({"type": "message", "text": "hi", "client_msg_id": "has space"}, None),
    ({"type": "message", "text": "hi", "client_msg_id": "x" * 65}, None),
    ({"type": "message", "text": "", "client_msg_id": "e1"}, "e1"),
    ({"type": "message", "text": 5, "client_msg_id": "e2"}, "e2"),
    ({"type": "typing", "on": "yes"}, None),
    ({"type": "rate", "csat": 6}, None),
    ({"type": "rate", "csat": 4.5}, None),
    ({"type": "rate", "csat": 3, "comment": 7}, None),
    ({"type": "hello"}, None),
    ({"type": "resume"}, None),
])
def test_invalid_frames_answered_with_invalid(kefu, frame, cmid):
    ws = Chat(kefu)
    try:
        ws.hello()
        ws.send(**frame)
        f = ws.recv()
        assert f["type"] == "error" and f["code"] == "invalid", f
        assert f.get("client_msg_id") == cmid
        assert ws.sync() == []
    finally:
        ws.close()


def test_text_frame_not_utf8_is_closed_1007(kefu):
    ws = Chat(kefu)
    ws.hello()
    ws.send_frame(OP_TEXT, b'{"type":"ping","x":"\xff"}')  # RFC 6455 8.1: fail the connection
    expect_closed(ws, 1007)


def test_typing_gets_no_reply(kefu):
    ws = Chat(kefu)
    try:
        ws.hello()
        ws.send(type="typing", on=True)
        ws.send(type="typing", on=False)
        assert ws.sync() == []
    finally:
        ws.close()


@pytest.mark.parametrize("cid,code", [("0" * 32, "not_found"), ("NOT-AN-ID", "invalid"), ("0" * 31, "invalid")])
def test_unknown_conversation(kefu, cid, code):
    ws = Chat(kefu)
    try:
        ws.send(type="hello", conversation_id=cid, resume_after_seq=0)
        f = ws.recv()
        assert f["type"] == "error" and f["code"] == code
        ws.send(type="message", text="hi", client_msg_id="m")
        assert ws.recv()["code"] == "invalid", "no conversation yet"
        w = ws.hello()  # the socket is still usable for a good hello
        assert ID_RE.match(w["conversation_id"])
    finally:
        ws.close()


def test_rate_ends_the_conversation(kefu):
    ws = Chat(kefu)
    try:
        w, _ = ws.start()
        ws.turn("hello", "a1")
        ws.send(type="rate", csat=5, comment="很好 great")
        assert ws.recv() == {"type": "rated", "csat": 5}
        assert ws.recv() == {"type": "ended", "status": "closed"}
        ws.send(type="message", text="are you there?", client_msg_id="after")
        f = ws.recv()
        assert f["type"] == "error" and f["code"] == "closed" and f["client_msg_id"] == "after"
        assert ws.sync() == []
    finally:
        ws.close()
    # attaching to the ended conversation: welcome, replay, then ended
    b = Chat(kefu)
    try:
        w2 = b.hello(conversation_id=w["conversation_id"], resume_after_seq=w["last_seq"])
        frames = b.sync()
        assert frames[-1] == {"type": "ended", "status": "closed"}
        assert [f["seq"] for f in frames[:-1]] == list(range(w["last_seq"] + 1, w2["last_seq"] + 1))
        b.send(type="message", text="hello?", client_msg_id="late")
        assert b.recv()["code"] == "closed"
    finally:
        b.close()


def test_expired_conversation_says_ended_expired(start_kefu):
    kefu = start_kefu("--session-ttl", "1")
    ws = Chat(kefu, timeout=20)
    try:
        ws.start()
        ws.turn("hello", "e1")
        # told when it happens (the sweep runs every second), without sending anything
        t0 = time.monotonic()
        assert ws.recv() == {"type": "ended", "status": "expired"}
        assert time.monotonic() - t0 < 10
        ws.send(type="message", text="still there?", client_msg_id="e2")
        f = ws.recv()
        assert f["type"] == "error" and f["code"] == "closed" and f["client_msg_id"] == "e2", f
        assert ws.sync() == []
    finally:
        ws.close()


def test_ping_pong_and_ws_ping(kefu):
    ws = Chat(kefu)
    try:
        ws.hello()
        ws.send(type="ping")
        assert ws.recv() == {"type": "pong"}
        ws.send_frame(OP_PING, b"k")
        assert ws.recv_frame() == (True, OP_PONG, b"k")
    finally:
        ws.close()


# ---- health: keep-alive, slow readers, shutdown, many connections -----------------------------------

def test_server_pings_and_drops_silent_clients(start_kefu):
    kefu = start_kefu(env={"KEFU_WS_PING_INTERVAL": "1", "KEFU_WS_IDLE_TIMEOUT": "3"})
    live, dead = Chat(kefu), Chat(kefu)
    live.hello()
    dead.hello()
    # the live client answers pings (recv_message does); it is still open after 5 s
    t0 = time.monotonic()
    pings = 0
    while time.monotonic() - t0 < 5:
        fin, op, payload = live.recv_frame()
        if op == OP_PING:
            pings += 1
            live.send_frame(OP_PONG, payload)
    assert pings >= 2  # one a second, give or take the sweep
    assert live.sync() == []
    live.close()
    # the other one never answered: closed with 1001 after ~3 s of silence
    saw_ping = False
    with pytest.raises(WSClosed) as e:
        while True:
            fin, op, payload = dead.recv_frame()
            saw_ping |= op == OP_PING
            if op == OP_CLOSE:
                raise WSClosed(struct.unpack("!H", payload[:2])[0], payload[2:].decode())
    assert saw_ping and e.value.code == 1001 and "idle" in e.value.reason


def test_slow_reader_is_disconnected(kefu):
    ws = Chat(kefu)
    w, _ = ws.start()
    for i in range(15):
        _, after = ws.turn(f"hello number {i} " + "padding " * 20, f"s{i}")
    per_resume = max(f["seq"] for f in replies(after))  # message frames in one full replay
    # a client that keeps asking for the whole conversation and never reads
    sc = Chat(kefu, timeout=20, rcvbuf=4096)
    sc.send(type="hello", conversation_id=w["conversation_id"])
    frame = json.dumps({"type": "resume", "after_seq": 0}).encode()
    sent = 0
    try:
        for _ in range(4000):
            sc.send_frame(OP_TEXT, frame)
            sent += 1
    except OSError:
        pass  # the server already cut the connection
    # now read: the connection ends (EOF or reset) long before 4000 replays arrive
    got = 0
    try:
        while True:
            sc.recv_message()
            got += 1
    except (ConnectionError, OSError, WSClosed):
        pass
    assert got < sent * per_resume / 4, (got, sent)
    m = kefu.metrics()
    count = [l for l in m.splitlines() if l.startswith("kefu_ws_chat_slow_readers_total ")]
    assert count and int(count[0].split()[1]) >= 1
    ws.close()


def test_sigterm_closes_with_1001(kefu):
    ws = Chat(kefu)
    ws.start()
    kefu.signal(signal.SIGTERM)
    expect_closed(ws, 1001)
    ws.sock.close()
    assert kefu.wait_exit(15) == 0


def test_many_concurrent_connections_each_complete_a_turn(kefu):
    conns = [Chat(kefu, timeout=30) for _ in range(200)]
    try:
        for c in conns:
            c.send(type="hello")
        ids = {c.recv()["conversation_id"] for c in conns}
        assert len(ids) == 200
        for i, c in enumerate(conns):
            c.send(type="message", text=f"hello from {i}", client_msg_id=f"c{i}")
        for i, c in enumerate(conns):
            ack = c.recv()
            assert ack["type"] == "ack" and ack["client_msg_id"] == f"c{i}" and ack["seq"] == 1, ack
            assert replies(c.sync())
    finally:
        for c in conns:
            c.close()


def test_disconnect_with_answers_pending(kefu):
    """Completions for a connection that is gone are dropped (run this binary under
    ASan to see a use-after-free; here a crash would fail the health check)."""
    for i in range(40):
        ws = Chat(kefu)
        ws.send(type="hello")
        if i % 2:
            ws.recv()
            for j in range(5):
                ws.send(type="message", text=f"hello {j}", client_msg_id=f"g{j}")
        ws.sock.close()  # no close handshake: the TCP connection just ends
    assert kefu.get("/health").status_code == 200
    ws = Chat(kefu)
    try:
        ws.hello()
        ack, after = ws.turn("hello", "after-storm")
        assert replies(after)
    finally:
        ws.close()


def test_metrics_and_openapi_list_the_channel(kefu):
    ws = Chat(kefu)
    ws.hello()
    ws.sync()
    ws.close()
    m = kefu.metrics()
    assert re.search(r"^kefu_ws_chat_frames_in_total [1-9]", m, re.M)
    doc = requests.get(kefu.url("/openapi.json"), timeout=10).json()
    assert "/v1/ws" in doc["paths"]

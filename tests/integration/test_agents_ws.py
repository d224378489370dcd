"""The agent console WebSocket (GET /v1/agents/ws) against the real binary.

Upgrade auth (missing, forged, admin-token, expired, disabled → 401 before
any upgrade; a session that ends while connected → `unauthorized` + 1008),
the welcome and queues frames, bad frames (error, socket stays open), and the
desk end to end: a customer on /v1/ws asks for a person → the connected
agent gets an offer and a queues frame with the customer's facts → accept →
assigned + transcript → messages both ways → an internal note the customer
never sees (live, GET messages, WS resume) → who may act (forbidden; an
admin may) → transfer to another skill (released for one agent, an offer for
the other) → reject → close (released; the customer is asked to rate).

Every wait is for a frame, bounded by the socket timeout; nothing asserts on
how long anything took."""
import json
import os
import subprocess
import time

import pytest
import requests

from conftest import KEFU_BIN, REPO, clean_env
from wsclient import OP_BINARY, WSClient, WSClosed

ADMIN_TOKEN = "adm-" + "9" * 40
PASSWORDS = {"alice": "alice-pass-123", "bob": "bob-pass-4567", "carol": "carol-pass-890", "dave": "dave-pass-4321",
             "root": "root-pass-8901"}
BOT = os.path.join(REPO, "bots", "demo")
UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def add_agent(data_dir, agent_id, *extra):
    r = subprocess.run([KEFU_BIN, "agent", "add", "--data-dir", str(data_dir), "--id", agent_id, "--name",
                        agent_id.title(), *extra], input=PASSWORDS[agent_id] + "\n", capture_output=True, text=True,
                       timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    # distinct skills, so which console gets an offer is decided by skill alone
    add_agent(d, "alice", "--skills", "general", "--languages", "en,zh", "--max-chats", "3", "--bot", BOT)
    add_agent(d, "bob", "--skills", "loans", "--languages", "en")
    add_agent(d, "carol", "--skills", "cards", "--languages", "en,zh")
    add_agent(d, "dave", "--skills", "general", "--languages", "en")
    add_agent(d, "root", "--role", "admin")
    return d


@pytest.fixture
def srv(start_kefu, data_dir):
    return start_kefu("--data-dir", data_dir, "--admin-token", ADMIN_TOKEN)


def login(k, agent_id):
    r = k.post("/v1/agents/login", json={"agent_id": agent_id, "password": PASSWORDS[agent_id]})
    assert r.status_code == 200, r.text
    return r.json()["token"]


class Frames(WSClient):
    """JSON frames over a WSClient: send(**frame), recv(), until(pred)."""

    def send(self, **frame):
        self.send_text(json.dumps(frame, ensure_ascii=False))

    def recv(self):
        return json.loads(self.recv_text())

    def until(self, pred, what, limit=200):
        """Frames up to and including the first pred accepts (pushed frames come when they come)."""
        seen = []
        for _ in range(limit):
            f = self.recv()
            seen.append(f)
            if pred(f):
                return seen
        raise AssertionError(f"no {what} in {seen}")

    def sync(self, ref="sync"):
        """Every frame up to the pong: the answers to all frames sent before it."""
        self.send(type="ping", ref=ref)
        return self.until(lambda f: f["type"] == "pong" and f.get("ref") == ref, "pong")[:-1]


class Console(Frames):
    def __init__(self, k, token=None, cookie=None):
        headers = {"Authorization": "Bearer " + token} if token else {"Cookie": "kefu_agent=" + cookie}
        super().__init__(k.host, k.port, "/v1/agents/ws", timeout=15.0, headers=headers)
        self.welcome = self.recv()
        assert self.welcome["type"] == "welcome", self.welcome
        self.first_queues = self.recv()
        assert self.first_queues["type"] == "queues", self.first_queues

    def do(self, ref, **frame):
        """Sends a frame with ref; returns its answer (the first error/ok/... frame with that ref)."""
        self.send(ref=ref, **frame)
        return self.until(lambda f: f.get("ref") == ref, f"answer to {ref}")[-1]


class Customer(Frames):
    def __init__(self, k):
        super().__init__(k.host, k.port, "/v1/ws", timeout=15.0)

    def sync(self, ref=None):
        self.send(type="ping")  # the customer channel's pong carries no ref
        return self.until(lambda f: f["type"] == "pong", "pong")[:-1]

    def start(self, user, name, vip=0):
        self.send(type="hello", profile={"user_id": user, "name": name, "vip_tier": vip, "language": "en"})
        w = self.recv()
        assert w["type"] == "welcome", w
        self.sync()
        return w["conversation_id"]

    def say(self, cmid, text):
        self.send(type="message", text=text, client_msg_id=cmid)
        return self.until(lambda f: f["type"] == "ack" and f["client_msg_id"] == cmid, "ack")

    def ask_for_human(self, cmid):
        self.send(type="message", text="I want to talk to a person", client_msg_id=cmid)
        return self.until(lambda f: f["type"] == "queue", "queue frame")


def waiting_ids(queues_frame):
    return {i["conversation_id"] for q in queues_frame["skills"] for i in q["waiting"]}


def queued_customer(k, user="u1", name="Ann", vip=2):
    c = Customer(k)
    cid = c.start(user, name, vip)
    c.say("m0", "I lost my card")
    c.ask_for_human("m1")
    return c, cid


def offered(console, cid):
    return console.until(lambda f: f["type"] == "offer" and f["conversation_id"] == cid, "offer")[-1]


def offer_and_queues(console, cid):
    """The offer and a queues frame listing the customer, in whichever order they come."""
    got = {}

    def note(f):
        if f["type"] == "offer" and f["conversation_id"] == cid:
            got["offer"] = f
        elif f["type"] == "queues" and cid in waiting_ids(f):
            got["queues"] = f
        return len(got) == 2

    console.until(note, "offer and queues frame")
    return got["offer"], got["queues"]


def accept(console, cid, ref="acc"):
    """accept → assigned, then transcript (both with the ref)."""
    console.send(type="accept", conversation_id=cid, ref=ref)
    got = console.until(lambda f: f["type"] in ("transcript", "error") and f.get("ref") == ref, "transcript")
    assert got[-1]["type"] == "transcript", got
    assigned = [f for f in got if f["type"] == "assigned" and f["conversation_id"] == cid]
    assert len(assigned) == 1 and assigned[0].get("ref") == ref, got
    return assigned[0], got[-1]


# ---- upgrade ---------------------------------------------------------------------------------------------


def refused(k, headers):
    r = requests.get(k.url("/v1/agents/ws"), headers={**UPGRADE, **headers}, timeout=10)
    assert r.status_code == 401, (headers, r.status_code, r.text)
    assert isinstance(r.json()["detail"], str) and r.json()["detail"], r.text
    return r


def test_upgrade_needs_a_live_session(srv):
    refused(srv, {})
    refused(srv, {"Authorization": "Bearer kfa_" + "A" * 43})
    refused(srv, {"Cookie": "kefu_agent=kfa_forged"})
    refused(srv, {"Authorization": "Bearer " + ADMIN_TOKEN})  # the admin token is no agent
    with pytest.raises(AssertionError, match="401"):
        WSClient(srv.host, srv.port, "/v1/agents/ws", timeout=10)
    token = login(srv, "bob")
    r = srv.post("/v1/admin/agents/bob/disable", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    assert r.status_code == 200, r.text
    refused(srv, {"Authorization": "Bearer " + token})
    # a live one, by cookie as the console sends it
    c = Console(srv, cookie=login(srv, "carol"))
    assert c.welcome["agent"]["id"] == "carol"
    c.close()


def test_expired_token_is_refused(start_kefu, data_dir):
    k = start_kefu("--data-dir", data_dir, "--agent-token-ttl", "1")
    token = login(k, "alice")
    time.sleep(1.3)
    refused(k, {"Authorization": "Bearer " + token})


def test_token_expiring_while_connected_closes_1008(start_kefu, data_dir):
    k = start_kefu("--data-dir", data_dir, "--agent-token-ttl", "2")
    c = Console(k, token=login(k, "alice"))
    seen = []
    with pytest.raises(WSClosed) as e:  # quiet console: the sweep notices the expiry
        while True:
            seen.append(c.recv())
    assert e.value.code == 1008
    assert seen and seen[-1]["type"] == "error" and seen[-1]["code"] == "unauthorized", seen


def test_session_ending_while_connected_closes_1008(srv):
    token = login(srv, "alice")
    c = Console(srv, token=token)
    assert srv.post("/v1/agents/logout", headers={"Authorization": "Bearer " + token}).status_code in (200, 204)
    c.send(type="ping", ref="after-logout")
    with pytest.raises(WSClosed) as e:
        c.until(lambda f: False, "close")
    assert e.value.code == 1008


def test_disabled_while_connected_is_closed_by_the_sweep(srv):
    c = Console(srv, token=login(srv, "carol"))
    r = srv.post("/v1/admin/agents/carol/disable", headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    assert r.status_code == 200, r.text
    seen = []
    with pytest.raises(WSClosed) as e:  # no frame from us: the periodic check finds it
        while True:
            seen.append(c.recv())
    assert e.value.code == 1008
    assert seen and seen[-1]["type"] == "error" and seen[-1]["code"] == "unauthorized", seen


# ---- frames ----------------------------------------------------------------------------------------------


def test_welcome_queues_and_bad_frames(srv):
    c = Console(srv, token=login(srv, "alice"))
    w = c.welcome
    assert w["agent"] == {"id": "alice", "name": "Alice", "role": "agent", "skills": ["general"],
                          "languages": ["en", "zh"], "max_chats": 3, "status": "online"}
    assert "general" in w["skills"] and "cards" in w["skills"], w["skills"]
    assert {"alice", "bob", "carol", "root"} <= {a["id"] for a in w["agents"]}
    assert w["conversations"] == []
    assert isinstance(w["canned"], list)
    for item in w["canned"]:
        assert item["id"] and item["title"] and "en" in item["text"], item
    q = c.first_queues
    assert isinstance(q["now"], (int, float)) and [s["skill"] for s in q["skills"]] == ["general"], q

    assert c.do("p", type="ping") == {"type": "pong", "ref": "p"}
    c.send_text("not json")
    assert c.recv()["code"] == "bad_frame"
    c.send_text("[1, 2]")
    assert c.recv()["code"] == "bad_frame"
    c.send_frame(OP_BINARY, b"\x00\x01")
    assert c.recv()["code"] == "bad_frame"
    assert c.do("t", type="dance")["code"] == "unknown_type"
    assert c.do("n", kind="accept")["code"] == "bad_frame"
    assert c.do("i", type="accept")["code"] == "invalid"
    assert c.do("i2", type="accept", conversation_id="NOT-AN-ID")["code"] == "invalid"
    c.send(type="ping", ref="x" * 65)
    assert c.recv()["code"] == "invalid"
    assert c.do("s", type="status", status="sleeping")["code"] == "invalid"
    assert c.do("tr", type="transfer", conversation_id="0" * 32)["code"] == "invalid"  # neither skill nor agent
    assert c.do("tr2", type="transfer", conversation_id="0" * 32, skill="cards", agent_id="bob")["code"] == "invalid"
    too_long = "x" * 2001
    assert c.do("long", type="message", conversation_id="0" * 32, text=too_long)["code"] == "invalid"
    assert c.do("empty", type="note", conversation_id="0" * 32, text="")["code"] == "invalid"
    # not the agent's: forbidden, whether or not it exists
    assert c.do("f", type="message", conversation_id="0" * 32, text="hi")["code"] == "forbidden"
    assert c.do("rj", type="reject", conversation_id="0" * 32)["code"] == "state"
    # status, and still open after all that
    assert c.do("away", type="status", status="away") == {"type": "status", "ref": "away", "status": "away"}
    assert c.do("on", type="status", status="online")["status"] == "online"
    assert c.do("last", type="ping")["type"] == "pong"
    assert "kefu_ws_agents_frames_in_total" in srv.metrics()


# ---- the desk end to end ---------------------------------------------------------------------------------


def test_offer_accept_messages_and_private_note(srv):
    alice = Console(srv, token=login(srv, "alice"))
    cust, cid = queued_customer(srv, "u1", "Ann", vip=2)

    offer, q = offer_and_queues(alice, cid)
    assert offer["skill"] == "general" and offer["expires_in_s"] > 0 and offer["sticky"] is False, offer
    item = [i for s in q["skills"] for i in s["waiting"] if i["conversation_id"] == cid][0]
    assert item["vip_tier"] == 2 and item["customer_name"] == "Ann", item
    assert item["intent"] and item["reason"] == "customer_request" and "person" in item["summary"], item

    assigned, transcript = accept(alice, cid)
    assert assigned["state"] == "assigned" and assigned["skill"] == "general", assigned
    msgs = transcript["messages"]
    said = [m for m in msgs if m["from"] == "customer"]
    assert [m["text"] for m in said] == ["I lost my card", "I want to talk to a person"], msgs
    assert all(m.get("intent") for m in said), said
    assert transcript["customer"]["name"] == "Ann"
    joined = cust.until(lambda f: f["type"] == "message" and f["from"] == "system" and "Alice" in f["text"], "joined")
    assert joined

    ok = alice.do("m1", type="message", conversation_id=cid, text="Hi Ann, Alice here")
    assert ok["type"] == "ok" and isinstance(ok["seq"], int), ok
    got = cust.until(lambda f: f["type"] == "message" and f["from"] == "agent", "agent message")[-1]
    assert got["text"] == "Hi Ann, Alice here" and got["seq"] == ok["seq"]
    echo = alice.until(lambda f: f["type"] == "message" and f["seq"] == ok["seq"], "own message event")[-1]
    assert echo["conversation_id"] == cid and echo["from"] == "agent"

    cust.say("m2", "thanks, my card number ends 1234")
    heard = alice.until(lambda f: f["type"] == "message" and f["from"] == "customer", "customer message")[-1]
    assert heard["conversation_id"] == cid and "thanks" in heard["text"]

    note = alice.do("n1", type="note", conversation_id=cid, text="SECRET-NOTE: verify identity first")
    assert note["type"] == "ok" and isinstance(note["seq"], int), note
    ev = alice.until(lambda f: f["type"] == "note", "note event")[-1]
    assert ev["conversation_id"] == cid and ev["seq"] == note["seq"] and ev["agent_id"] == "alice", ev
    assert ev["text"].startswith("SECRET-NOTE")

    # a later message proves the customer's stream went past the note's seq without it
    ok2 = alice.do("m3", type="message", conversation_id=cid, text="One moment please")
    live = cust.until(lambda f: f["type"] == "message" and f.get("seq") == ok2["seq"], "later message")
    assert not any("SECRET-NOTE" in f.get("text", "") for f in live), live
    assert not any(f.get("seq") == note["seq"] for f in live), live
    # not in the customer's read of the history …
    r = srv.get(f"/v1/conversations/{cid}/messages")
    assert r.status_code == 200, r.text
    assert "SECRET-NOTE" not in r.text
    # … nor in a resume
    again = Customer(srv)
    again.send(type="hello", conversation_id=cid, resume_after_seq=0)
    replay = again.sync()
    assert replay[0]["type"] == "welcome" and len(replay) > 3, replay
    assert not any("SECRET-NOTE" in f.get("text", "") for f in replay), replay
    # the agent's transcript has it, as a note
    t = alice.do("t", type="transcript", conversation_id=cid)
    notes = [m for m in t["messages"] if m["from"] == "note"]
    assert len(notes) == 1 and notes[0]["text"].startswith("SECRET-NOTE"), t["messages"]

    # a reloaded console picks its conversation up
    alice2 = Console(srv, token=login(srv, "alice"))
    assert [i["conversation_id"] for i in alice2.welcome["conversations"]] == [cid]
    cust.say("m4", "are you there?")
    alice2.until(lambda f: f["type"] == "message" and f.get("text") == "are you there?", "message on reload")


def test_only_the_assigned_agent_or_an_admin_may_act(srv):
    alice = Console(srv, token=login(srv, "alice"))
    bob = Console(srv, token=login(srv, "bob"))  # loans: never offered a general customer
    cust, cid = queued_customer(srv, "u2", "Ben", vip=0)
    offered(alice, cid)
    # not waiting in bob's skills: he can neither take it nor read it
    assert bob.do("a", type="accept", conversation_id=cid)["code"] == "forbidden"
    assert bob.do("t0", type="transcript", conversation_id=cid)["code"] == "forbidden"
    accept(alice, cid)
    for kind, extra in (("message", {"text": "hi"}), ("note", {"text": "x"}), ("handback", {}), ("close", {}),
                        ("transfer", {"skill": "cards"}), ("transcript", {})):
        answer = bob.do("b-" + kind, type=kind, conversation_id=cid, **extra)
        assert answer["type"] == "error" and answer["code"] == "forbidden", (kind, answer)
    # taken: another agent's accept is refused
    assert bob.do("late", type="accept", conversation_id=cid)["code"] in ("forbidden", "state")
    root = Console(srv, token=login(srv, "root"))
    ok = root.do("r", type="message", conversation_id=cid, text="A supervisor here")
    assert ok["type"] == "ok", ok
    cust.until(lambda f: f["type"] == "message" and f.get("text") == "A supervisor here", "admin message")
    assert root.do("rt", type="transcript", conversation_id=cid)["type"] == "transcript"
    # the admin's action did not take it from alice
    assert alice.do("still", type="message", conversation_id=cid, text="still mine")["type"] == "ok"


def test_transfer_and_close(srv):
    alice = Console(srv, token=login(srv, "alice"))
    carol = Console(srv, token=login(srv, "carol"))  # cards
    cust, cid = queued_customer(srv, "u3", "Cy", vip=1)
    offered(alice, cid)
    accept(alice, cid)

    ok = alice.do("tx", type="transfer", conversation_id=cid, skill="cards")
    assert ok == {"type": "ok", "ref": "tx"}, ok
    rel = alice.until(lambda f: f["type"] == "released", "released")[-1]
    assert rel == {"type": "released", "conversation_id": cid, "reason": "transferred"}, rel
    assert alice.do("gone", type="message", conversation_id=cid, text="hello?")["code"] == "forbidden"

    offer = offered(carol, cid)
    assert offer["skill"] == "cards" and offer["reason"] == "transfer", offer
    assigned, transcript = accept(carol, cid, "take")
    assert any(m["from"] == "system" for m in transcript["messages"]), transcript  # the transfer notice
    cust.until(lambda f: f["type"] == "message" and "Carol" in f.get("text", ""), "carol joined")

    ok = carol.do("bye", type="close", conversation_id=cid)
    assert ok == {"type": "ok", "ref": "bye"}, ok
    rel = carol.until(lambda f: f["type"] == "released", "released")[-1]
    assert rel == {"type": "released", "conversation_id": cid, "reason": "closed"}, rel
    ended = cust.until(lambda f: f["type"] == "ended", "ended")
    assert any(f["type"] == "message" and "rate" in f.get("text", "") for f in ended), ended
    assert carol.do("closed", type="message", conversation_id=cid, text="x")["code"] == "forbidden"
    # nothing else came for it: exactly one released each
    rest = carol.sync("end") + alice.sync("end")
    assert not any(f["type"] == "released" for f in rest), rest


def test_reject_goes_to_the_next_agent(srv):
    alice = Console(srv, token=login(srv, "alice"))
    cust, cid = queued_customer(srv, "u6", "Fay")
    offered(alice, cid)
    dave = Console(srv, token=login(srv, "dave"))  # general too, on duty only once alice has the offer
    assert dave.do("early", type="accept", conversation_id=cid)["code"] == "state"  # offered to alice
    assert alice.do("no", type="reject", conversation_id=cid) == {"type": "ok", "ref": "no"}
    assert alice.do("again", type="reject", conversation_id=cid)["code"] == "state"
    offer = offered(dave, cid)
    assert offer["agent_id"] == "dave", offer
    # alice may still pick it from the queue? no: it is offered to dave now
    assert alice.do("late", type="accept", conversation_id=cid)["code"] == "state"
    accept(dave, cid)
    ok = dave.do("hi", type="message", conversation_id=cid, text="Dave here")
    cust.until(lambda f: f["type"] == "message" and f.get("seq") == ok["seq"], "dave's message")


def test_handback_and_customer_leaving(srv):
    alice = Console(srv, token=login(srv, "alice"))
    cust, cid = queued_customer(srv, "u4", "Di")
    offered(alice, cid)
    accept(alice, cid)
    assert alice.do("hb", type="handback", conversation_id=cid) == {"type": "ok", "ref": "hb"}
    rel = alice.until(lambda f: f["type"] == "released", "released")[-1]
    assert rel["reason"] == "handed_back" and rel["conversation_id"] == cid

    cust2, cid2 = queued_customer(srv, "u5", "Ed")
    offered(alice, cid2)
    accept(alice, cid2, "acc2")
    cust2.send(type="rate", csat=4)  # the customer ends it
    rel = alice.until(lambda f: f["type"] == "released", "released")[-1]
    assert rel == {"type": "released", "conversation_id": cid2, "reason": "ended"}, rel

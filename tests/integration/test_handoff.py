"""Human handoff end to end against the real binary: a customer on the
WebSocket asks for a person and is queued (queue frame + system notice), a
second customer queues behind, the bot stays silent while waiting, an agent
created with `kefu agent add` accepts over the agent REST API (the customer
sees "joined", the one behind moves up), writes, hands back (the bot answers
again) and closes (the customer is asked to rate); agents cannot act on a
conversation that is not theirs, an admin can."""
import json
import os
import subprocess
import time

import pytest

from conftest import KEFU_BIN, REPO, clean_env
from wsclient import WSClient

ADMIN_TOKEN = "adm-" + "5" * 40
PASSWORDS = {"alice": "alice-pass-123", "bob": "bob-pass-4567"}
BOT = os.path.join(REPO, "bots", "demo")


def add_agent(data_dir, agent_id, *extra):
    r = subprocess.run([KEFU_BIN, "agent", "add", "--data-dir", str(data_dir), "--id", agent_id, "--name",
                        agent_id.title(), *extra], input=PASSWORDS[agent_id] + "\n", capture_output=True, text=True,
                       timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr


class Chat(WSClient):
    def __init__(self, kefu):
        super().__init__(kefu.host, kefu.port, "/v1/ws", timeout=15.0)

    def send(self, **frame):
        self.send_text(json.dumps(frame, ensure_ascii=False))

    def recv(self):
        return json.loads(self.recv_text())

    def until(self, pred, what, timeout=10.0):
        """Frames up to and including the first that pred accepts (pushed frames come when they come)."""
        seen, end = [], time.time() + timeout
        while time.time() < end:
            f = self.recv()
            seen.append(f)
            if pred(f):
                return seen
        raise AssertionError(f"no {what} in {seen}")

    def sync(self):
        self.send(type="ping")
        return self.until(lambda f: f["type"] == "pong", "pong")[:-1]

    def start(self, user, vip=0):
        self.send(type="hello", profile={"user_id": user, "name": user, "vip_tier": vip, "language": "en"})
        w = self.recv()
        assert w["type"] == "welcome", w
        self.sync()
        return w["conversation_id"]

    def ask_for_human(self, cmid):
        self.send(type="message", text="I want to talk to a person", client_msg_id=cmid)
        return self.until(lambda f: f["type"] == "queue", "queue frame")


@pytest.fixture
def srv(start_kefu, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    add_agent(d, "alice", "--skills", "general,cards", "--languages", "en,zh", "--max-chats", "3", "--bot", BOT)
    add_agent(d, "bob", "--skills", "general", "--languages", "en")
    return start_kefu("--data-dir", d, "--admin-token", ADMIN_TOKEN)


def token(k, agent_id):
    r = k.post("/v1/agents/login", json={"agent_id": agent_id, "password": PASSWORDS[agent_id]})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


def test_handoff_queue_agent_handback_close(srv):
    alice, bob = token(srv, "alice"), token(srv, "bob")
    c1, c2 = Chat(srv), Chat(srv)
    id1, id2 = c1.start("u1"), c2.start("u2")

    frames = c1.ask_for_human("m1")
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "ack" and "handoff" in kinds, frames
    notice = [f for f in frames if f["type"] == "message" and f["from"] == "system"]
    assert len(notice) == 1 and "Position in queue: 1" in notice[0]["text"], frames
    assert frames[-1]["position"] == 1 and frames[-1]["eta_s"] > 0, frames
    seqs = [f["seq"] for f in frames if f["type"] == "message"]
    assert len(seqs) == len(set(seqs)), "a message was sent twice: " + str(frames)

    frames2 = c2.ask_for_human("m1")
    assert frames2[-1]["position"] == 2, frames2
    assert any("Position in queue: 2" in f.get("text", "") for f in frames2), frames2

    # waiting: stored and acked, never answered by the bot
    c1.send(type="message", text="what are your opening hours?", client_msg_id="m2")
    assert [f["type"] for f in c1.sync()] == ["ack"]

    # nobody may act on a conversation that is not theirs; no token at all is 401
    r = srv.post(f"/v1/agents/conversations/{id1}/messages", json={"text": "hi"}, headers=bob)
    assert r.status_code == 403, r.text
    assert srv.post(f"/v1/agents/conversations/{id1}/messages", json={"text": "hi"}).status_code == 401

    r = srv.post("/v1/agents/me/accept", json={"conversation_id": id1}, headers=alice)
    assert r.status_code == 200, r.text
    assert "Alice joined" in r.json()["text"]
    joined = c1.until(lambda f: f["type"] == "message" and f["from"] == "system", "joined notice")
    assert "Alice joined" in joined[-1]["text"]
    moved = c2.until(lambda f: f["type"] == "queue", "queue update")
    assert moved[-1]["position"] == 1, moved
    assert srv.post("/v1/agents/me/accept", json={"conversation_id": id1}, headers=bob).status_code == 409

    r = srv.post(f"/v1/agents/conversations/{id1}/messages", json={"text": "Hi, this is Alice"}, headers=alice)
    assert r.status_code == 200, r.text
    got = c1.until(lambda f: f["type"] == "message" and f["from"] == "agent", "agent message")
    assert got[-1]["text"] == "Hi, this is Alice" and got[-1]["seq"] == r.json()["seq"]
    assert srv.post(f"/v1/agents/conversations/{id1}/handback", headers=bob).status_code == 403
    r = srv.post(f"/v1/agents/conversations/{id1}/messages", json={"text": "admin here"},
                 headers={"Authorization": "Bearer " + ADMIN_TOKEN})
    assert r.status_code == 200, r.text
    c1.until(lambda f: f.get("text") == "admin here", "admin message")

    r = srv.post(f"/v1/agents/conversations/{id1}/handback", headers=alice)
    assert r.status_code == 200, r.text
    c1.until(lambda f: f["type"] == "message" and f["from"] == "system", "hand-back notice")
    c1.send(type="message", text="I lost my card", client_msg_id="m3")
    after = c1.sync()
    assert after[0]["type"] == "ack" and any(f["type"] == "message" and f["from"] == "bot" for f in after), after

    # the second customer: taken, closed, asked to rate
    assert srv.post("/v1/agents/me/accept", json={"conversation_id": id2}, headers=alice).status_code == 200
    r = srv.post(f"/v1/agents/conversations/{id2}/close", headers=alice)
    assert r.status_code == 200, r.text
    end = c2.until(lambda f: f["type"] == "ended", "ended")
    assert any(f["type"] == "message" and "rate" in f["text"] for f in end), end
    c2.send(type="rate", csat=5)
    assert c2.until(lambda f: f["type"] == "rated", "rated")[-1]["csat"] == 5
    hist = srv.get(f"/v1/conversations/{id2}/messages").json()["messages"]
    assert [m["seq"] for m in hist] == list(range(1, len(hist) + 1))
    assert srv.post(f"/v1/agents/conversations/{id2}/messages", json={"text": "x"}, headers=alice).status_code == 403
    c1.close()
    c2.close()

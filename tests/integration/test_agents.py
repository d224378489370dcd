"""Agent accounts and sessions against the real binary: `kefu agent` into the
server's data dir, login (token + cookie flags), me/status/heartbeat,
logout, expiry, forged and missing tokens, roles on admin routes, admin
creation over the API, disabling (CLI and API), the failed-login limit, and
that no password, hash or token ever reaches the log."""
import json
import os
import subprocess
import time

import pytest
import requests

from conftest import KEFU_BIN, REPO, clean_env

ADMIN_TOKEN = "adm-" + "7" * 40
PASSWORDS = {"alice": "alice-pass-123", "bob": "bob-pass-4567", "root": "root-pass-8901"}
BOT = os.path.join(REPO, "bots", "demo")


def agent_cli(*args, password=None):
    return subprocess.run([KEFU_BIN, "agent"] + [str(a) for a in args], input=password,
                          capture_output=True, text=True, timeout=60, env=clean_env())


def add_agent(data_dir, agent_id, *extra):
    r = agent_cli("add", "--data-dir", data_dir, "--id", agent_id, "--name", agent_id.title(),
                  *extra, password=PASSWORDS[agent_id] + "\n")
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    add_agent(d, "alice", "--skills", "cards,loans", "--languages", "en,zh", "--max-chats", "3", "--bot", BOT)
    add_agent(d, "bob", "--skills", "general")
    add_agent(d, "root", "--role", "admin")
    return d


@pytest.fixture
def srv(start_kefu, data_dir):
    return start_kefu("--data-dir", data_dir, "--admin-token", ADMIN_TOKEN, "--agent-heartbeat-timeout", "2")


def login(k, agent_id, password=None):
    return k.post("/v1/agents/login", json={"agent_id": agent_id, "password": password or PASSWORDS[agent_id]})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_cli_add_list_and_bad_input(data_dir):
    r = agent_cli("list", "--data-dir", data_dir, "--json")
    assert r.returncode == 0, r.stderr
    agents = {a["id"]: a for a in json.loads(r.stdout)}
    assert set(agents) == {"alice", "bob", "root"}
    assert agents["alice"]["skills"] == ["cards", "loans"] and agents["alice"]["languages"] == ["en", "zh"]
    assert agents["root"]["role"] == "admin" and agents["alice"]["max_chats"] == 3
    assert "hash" not in r.stdout and "argon2" not in r.stdout
    table = agent_cli("list", "--data-dir", data_dir)
    assert "alice" in table.stdout and "cards,loans" in table.stdout
    dup = agent_cli("add", "--data-dir", data_dir, "--id", "alice", "--name", "A", password="another-pass\n")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    bad_skill = agent_cli("add", "--data-dir", data_dir, "--id", "carol", "--name", "C", "--skills", "astrology",
                          "--bot", BOT, password="carol-pass-1\n")
    assert bad_skill.returncode == 2 and "astrology" in bad_skill.stderr
    short = agent_cli("add", "--data-dir", data_dir, "--id", "carol", "--name", "C", password="short\n")
    assert short.returncode == 2
    no_argv_password = agent_cli("add", "--data-dir", data_dir, "--id", "carol", "--name", "C", "--password", "x")
    assert no_argv_password.returncode == 2
    assert agent_cli("disable", "--data-dir", data_dir, "--id", "nobody").returncode == 1


def test_login_token_and_cookie(srv):
    r = login(srv, "alice")
    assert r.status_code == 200, r.text
    body = r.json()
    token = body["token"]
    assert token.startswith("kfa_") and len(token) == 47
    assert body["agent"]["id"] == "alice" and body["agent"]["status"] == "online"
    assert body["agent"]["skills"] == ["cards", "loans"]
    assert body["expires_at"] > time.time() * 1000 + 11 * 3600 * 1000  # default 12 h
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"kefu_agent={token};")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"):
        assert flag in cookie, cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert r.headers["cache-control"] == "no-store"
    # the cookie alone works (the console), as does the bearer (the API)
    me = srv.get("/v1/agents/me", cookies={"kefu_agent": token})
    assert me.status_code == 200 and me.json()["agent"]["id"] == "alice"
    me = srv.get("/v1/agents/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["heartbeat_timeout_s"] == 2


def test_bad_credentials_one_answer(srv):
    wrong = login(srv, "alice", "not-the-password")
    unknown = login(srv, "mallory", "whatever-pass")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_status_heartbeat_and_timeout(srv):
    token = login(srv, "bob").json()["token"]
    r = srv.post("/v1/agents/me/status", json={"status": "away"}, headers=bearer(token))
    assert r.status_code == 200 and r.json()["status"] == "away"
    assert srv.post("/v1/agents/me/status", json={"status": "busy"}, headers=bearer(token)).status_code == 422
    for _ in range(3):  # heartbeats keep it past the 2 s timeout
        time.sleep(0.9)
        assert srv.post("/v1/agents/me/heartbeat", headers=bearer(token)).json()["status"] == "away"
    time.sleep(2.5)
    agents = srv.get("/v1/admin/agents", headers=bearer(ADMIN_TOKEN)).json()["agents"]
    assert {a["id"]: a["status"] for a in agents}["bob"] == "offline"
    r = srv.post("/v1/agents/me/heartbeat", headers=bearer(token))
    assert r.json()["status"] == "away"  # back, with the status it chose


def test_logout_ends_the_token(srv):
    token = login(srv, "alice").json()["token"]
    r = srv.post("/v1/agents/logout", headers=bearer(token))
    assert r.status_code == 200
    assert "kefu_agent=;" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    assert srv.get("/v1/agents/me", headers=bearer(token)).status_code == 401
    assert srv.post("/v1/agents/logout", headers=bearer(token)).status_code == 401


def test_missing_and_forged_tokens(srv):
    token = login(srv, "alice").json()["token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    cases = [{}, bearer(forged), bearer("kfa_" + "x" * 43), bearer(""), {"Authorization": "Basic YWxpY2U6eA=="},
             {"Cookie": f"kefu_agent={forged}"}]
    for headers in cases:
        for method, path in (("GET", "/v1/agents/me"), ("POST", "/v1/agents/me/heartbeat"), ("POST", "/v1/agents/logout")):
            r = requests.request(method, srv.url(path), headers=headers, timeout=10)
            assert r.status_code == 401, (headers, path, r.text)
            assert r.headers.get("www-authenticate") == "Bearer"
        r = srv.get("/v1/admin/agents", headers=headers)
        assert r.status_code == 401, (headers, r.text)
    # the real token still works after all that
    assert srv.get("/v1/agents/me", headers=bearer(token)).status_code == 200


def test_expired_token(start_kefu, data_dir):
    k = start_kefu("--data-dir", data_dir, "--agent-token-ttl", "1")
    r = login(k, "alice")
    token = r.json()["token"]
    assert "Max-Age=1" in r.headers["set-cookie"]
    assert k.get("/v1/agents/me", headers=bearer(token)).status_code == 200
    time.sleep(1.3)
    assert k.get("/v1/agents/me", headers=bearer(token)).status_code == 401
    assert k.get("/v1/agents/me", cookies={"kefu_agent": token}).status_code == 401


def test_roles_on_admin_routes(srv):
    agent = login(srv, "alice").json()["token"]
    admin = login(srv, "root").json()["token"]
    assert srv.get("/v1/admin/agents", headers=bearer(agent)).status_code == 403
    assert srv.get("/v1/admin/agents", cookies={"kefu_agent": agent}).status_code == 403
    assert srv.post("/v1/admin/reload", headers=bearer(agent)).status_code == 403
    assert srv.get("/v1/conversations", headers=bearer(agent)).status_code == 403
    r = srv.get("/v1/admin/agents", headers=bearer(admin))
    assert r.status_code == 200 and {a["id"] for a in r.json()["agents"]} == {"alice", "bob", "root"}
    assert srv.get("/v1/admin/agents", headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert srv.get("/v1/conversations", headers=bearer(admin)).status_code == 200


def test_admin_creates_an_agent(srv):
    admin = login(srv, "root").json()["token"]
    body = {"id": "carol", "name": "Carol 王", "skills": ["loans"], "languages": ["zh"], "max_chats": 5,
            "password": "carol-pass-1"}
    r = srv.post("/v1/admin/agents", json=body, headers=bearer(admin))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"] == "carol" and created["languages"] == ["zh"] and created["role"] == "agent"
    assert "password" not in r.text and "argon2" not in r.text
    assert srv.post("/v1/admin/agents", json=body, headers=bearer(ADMIN_TOKEN)).status_code == 409
    bad = dict(body, id="dave", skills=["astrology"])
    r = srv.post("/v1/admin/agents", json=bad, headers=bearer(admin))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "skills", 0]
    r = srv.post("/v1/admin/agents", json=dict(body, id="Dave!", max_chats=99, password="x"), headers=bearer(admin))
    assert r.status_code == 422 and len(r.json()["detail"]) == 3
    agent = login(srv, "alice").json()["token"]
    assert srv.post("/v1/admin/agents", json=dict(body, id="eve"), headers=bearer(agent)).status_code == 403
    assert srv.post("/v1/admin/agents", json=dict(body, id="eve")).status_code == 401
    r = login(srv, "carol", "carol-pass-1")
    assert r.status_code == 200 and r.json()["agent"]["name"] == "Carol 王"


def test_disable_over_the_api(srv):
    token = login(srv, "bob").json()["token"]
    r = srv.post("/v1/admin/agents/bob/disable", headers=bearer(ADMIN_TOKEN))
    assert r.status_code == 200 and r.json()["disabled"] is True and r.json()["status"] == "offline"
    assert srv.get("/v1/agents/me", headers=bearer(token)).status_code == 401
    assert login(srv, "bob").status_code == 401
    assert srv.post("/v1/admin/agents/nobody/disable", headers=bearer(ADMIN_TOKEN)).status_code == 404


def test_disable_from_the_cli_while_serving(srv, data_dir):
    token = login(srv, "alice").json()["token"]
    r = agent_cli("disable", "--data-dir", data_dir, "--id", "alice")
    assert r.returncode == 0, r.stderr
    assert srv.get("/v1/agents/me", headers=bearer(token)).status_code == 401
    assert login(srv, "alice").status_code == 401


def test_failed_login_limit(srv):
    for i in range(5):
        assert login(srv, "alice", f"wrong-{i}-pass").status_code == 401
    r = login(srv, "alice")  # even the right password waits out the window
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert login(srv, "bob").status_code == 200  # another account from the same address is not locked out


def test_nothing_secret_in_the_log(srv):
    token = login(srv, "alice").json()["token"]
    login(srv, "bob", "bob-wrong-password")
    srv.post("/v1/admin/agents", headers=bearer(ADMIN_TOKEN),
             json={"id": "zed", "name": "Zed", "password": "zed-secret-pass"})
    srv.get("/v1/agents/me", headers=bearer(token))
    srv.stop()
    log = srv.log()
    assert "/v1/agents/login" in log  # the access log is there, and requests were logged
    for secret in list(PASSWORDS.values()) + ["bob-wrong-password", "zed-secret-pass", token, token[4:], "$argon2"]:
        assert secret not in log, secret


def test_transcript_access_for_agents(srv, data_dir):
    """An agent reads only conversations assigned to it; an admin reads all;
    a customer (no agent credential) keeps reading by conversation id.  No
    route assigns yet (the routing engine will), so the test assigns in
    history.db directly, which the server reads on every request."""
    import sqlite3
    conv = srv.post("/v1/conversations", json={"language": "en"}).json()["conversation_id"]
    path = f"/v1/conversations/{conv}/messages"
    alice, bob, root = (login(srv, a).json()["token"] for a in ("alice", "bob", "root"))
    assert srv.get(path).status_code == 200  # the customer
    assert srv.get(path, headers=bearer(alice)).status_code == 403  # assigned to nobody
    assert srv.get(path, headers=bearer(root)).status_code == 200
    assert srv.get(path, headers=bearer("kfa_" + "y" * 43)).status_code == 401
    db = sqlite3.connect(str(data_dir / "history.db"), timeout=10)
    with db:
        db.execute("UPDATE conversations SET agent_id = 'alice' WHERE id = ?", (conv,))
    db.close()
    r = srv.get(path, cookies={"kefu_agent": alice})
    assert r.status_code == 200 and r.json()["last_seq"] >= 1
    assert srv.get(path, headers=bearer(bob)).status_code == 403


def test_cookie_is_secure_over_tls(start_kefu, data_dir, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    k = start_kefu("--data-dir", data_dir, "--tls-cert", cert, "--tls-key", key, tls=True)
    r = requests.post(k.url("/v1/agents/login"), json={"agent_id": "alice", "password": PASSWORDS["alice"]},
                      verify=False, timeout=10)
    assert r.status_code == 200, r.text
    assert "; Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]

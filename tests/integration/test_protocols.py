"""Protocols: HTTP/2 cleartext (prior knowledge and Upgrade), HTTPS with ALPN
(h2 and http/1.1), WebSocket echo, and WebSockets closed with 1001 on SIGTERM."""
import json
import signal
import struct
import subprocess
import time

import pytest

from conftest import SESSION, intent_body
from h2mini import H2Conn
from wsclient import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, WSClient, WSClosed

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def run_curl(curl, *args, timeout=20):
    """curl -sS ... -w '\\n%{http_version} %{http_code}'; returns (body, version, status)."""
    p = subprocess.run([curl, "-sS", "--max-time", "10", "-w", "\n%{http_version} %{http_code}", *args],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"curl failed ({p.returncode}): {p.stderr}"
    body, _, tail = p.stdout.rpartition("\n")
    version, status = tail.split()
    return body, version, int(status)


# -- HTTP/2 cleartext --------------------------------------------------------

def test_h2c_prior_knowledge_health(kefu, curl):
    body, version, status = run_curl(curl, "--http2-prior-knowledge", kefu.url("/health"))
    assert version == "2"
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def test_h2c_prior_knowledge_intent(kefu, curl):
    body, version, status = run_curl(curl, "--http2-prior-knowledge", "-H", "Content-Type: application/json",
                                     "--data-binary", json.dumps(intent_body("I lost my card")),
                                     kefu.url("/v1/intent"))
    assert version == "2"
    assert status == 200, body
    doc = json.loads(body)
    assert doc["intent"] == "lost_or_stolen_card"
    assert doc["session_id"] == SESSION
    # the access log says which protocol answered
    kefu.wait_log(lambda r: r.get("route") == "/v1/intent" and r.get("protocol") == "HTTP/2",
                  what="HTTP/2 access line")


def test_h2c_upgrade(kefu, curl):
    # `curl --http2` on http:// sends "Upgrade: h2c"
    body, version, status = run_curl(curl, "--http2", kefu.url("/health"))
    assert status == 200
    assert version == "2"


def test_h2_validation_error_is_json(kefu, curl):
    body, version, status = run_curl(curl, "--http2-prior-knowledge", "-H", "Content-Type: application/json",
                                     "--data-binary", '{"query":"","session_id":"nope"}', kefu.url("/v1/intent"))
    assert version == "2"
    assert status == 422
    locs = {tuple(e["loc"]) for e in json.loads(body)["detail"]}
    assert ("body", "query") in locs and ("body", "session_id") in locs


def test_h2_errors_are_json(kefu, curl):
    big = json.dumps(intent_body(context={"pad": "a" * 100000}))
    body, version, status = run_curl(curl, "--http2-prior-knowledge", "-H", "Content-Type: application/json",
                                     "--data-binary", big, kefu.url("/v1/intent"))
    assert (version, status) == ("2", 413)
    assert "detail" in json.loads(body)
    body, version, status = run_curl(curl, "--http2-prior-knowledge", "-X", "DELETE", kefu.url("/v1/intent"))
    assert (version, status) == ("2", 405)
    assert json.loads(body)["detail"]


def test_h2c_multiplexed_streams(kefu):
    # Three streams opened on one connection before any answer is read,
    # bodies sent afterwards in reverse order.  (curl 7.88 cannot reuse an
    # h2c prior-knowledge connection at all, against nginx too: h2mini.)
    c = H2Conn(kefu.host, kefu.port)
    try:
        hdr = {"content-type": "application/json"}
        b1 = json.dumps(intent_body("I lost my card")).encode()
        b5 = json.dumps(intent_body("我的信用卡丢了")).encode()
        s1 = c.send_request("POST", "/v1/intent", body=b1, headers=hdr)
        s3 = c.send_request("GET", "/health")
        s5 = c.send_request("POST", "/v1/intent", body=b5, headers=hdr)
        c.send_body(s5, b5)
        c.send_body(s1, b1)
        got = c.collect([s1, s3, s5])
    finally:
        c.close()
    assert got[s3] == (200, b'{"status":"ok"}')
    for s in (s1, s5):
        status, body = got[s]
        assert status == 200, body
        doc = json.loads(body)
        assert doc["intent"] == "lost_or_stolen_card", doc
        assert doc["session_id"] == SESSION


# -- TLS ---------------------------------------------------------------------

@pytest.fixture
def tls_files(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return cert, key


@pytest.fixture
def tls_kefu(start_kefu, tls_files):
    cert, key = tls_files
    return start_kefu("--tls-cert", cert, "--tls-key", key, tls=True)


def test_tls_alpn_h2(tls_kefu, curl):
    body, version, status = run_curl(curl, "-k", "--http2", tls_kefu.url("/health"))
    assert version == "2"
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    body, version, status = run_curl(curl, "-k", "--http2", "-H", "Content-Type: application/json",
                                     "--data-binary", json.dumps(intent_body("block my card, it was stolen")),
                                     tls_kefu.url("/v1/intent"))
    assert (version, status) == ("2", 200), body
    assert json.loads(body)["intent"] == "lost_or_stolen_card"


def test_tls_h2_multiplexed(tls_kefu, curl):
    urls = [tls_kefu.url("/health")] * 3 + [tls_kefu.url("/ready")]
    p = subprocess.run([curl, "-sS", "-k", "--max-time", "10", "--http2", "--parallel", "--parallel-immediate",
                        "-w", "%{http_version} %{http_code}\n",
                        *sum((["-o", "/dev/null", u] for u in urls), [])],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert sorted(p.stdout.split("\n")[:-1]) == ["2 200"] * 4


def test_tls_http11(tls_kefu, curl):
    body, version, status = run_curl(curl, "-k", "--http1.1", tls_kefu.url("/health"))
    assert version == "1.1"
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def test_tls_server_is_not_plaintext(tls_kefu, curl):
    # plain HTTP to the TLS port must not be answered as HTTP
    p = subprocess.run([curl, "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                        f"http://127.0.0.1:{tls_kefu.port}/health"], capture_output=True, text=True, timeout=15)
    assert p.stdout.strip() in ("000", "400"), p.stdout


def test_tls_bad_cert_fails_start(start_kefu, tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    k = start_kefu("--tls-cert", bogus, "--tls-key", bogus, wait=False)
    rc = k.wait_exit(15)
    assert rc not in (None, 0)
    assert "certificate" in k.log().lower()


def test_tls_cert_without_key_is_usage_error(start_kefu, tls_files):
    cert, _ = tls_files
    k = start_kefu("--tls-cert", cert, wait=False)
    assert k.wait_exit(15) == 2


# -- WebSocket ---------------------------------------------------------------

def test_ws_echo_small_and_large(kefu):
    ws = WSClient(kefu.host, kefu.port, "/v1/ws/echo")
    try:
        assert ws.headers.get("x-request-id")
        ws.send_text("hello")
        assert ws.recv_text() == "hello"
        ws.send_text("你好，客服 👋")
        assert ws.recv_text() == "你好，客服 👋"
        big = "".join(chr(0x61 + i % 26) for i in range(100 * 1024))
        ws.send_text(big)
        assert ws.recv_text() == big
        ws.send_text("after big")
        assert ws.recv_text() == "after big"
    finally:
        ws.close()


def test_ws_many_messages_in_order(kefu):
    ws = WSClient(kefu.host, kefu.port, "/v1/ws/echo")
    try:
        for i in range(50):
            ws.send_text(f"m{i}")
        assert [ws.recv_text() for _ in range(50)] == [f"m{i}" for i in range(50)]
    finally:
        ws.close()


def test_ws_binary_echoed_as_binary(kefu):
    ws = WSClient(kefu.host, kefu.port, "/v1/ws/echo")
    try:
        data = bytes(range(256)) * 4  # not valid UTF-8
        ws.send_frame(OP_BINARY, data)
        op, got = ws.recv_message()
        assert op == OP_BINARY, f"binary message echoed with opcode {op}"
        assert got == data
        ws.send_text("text again")
        assert ws.recv_message() == (OP_TEXT, "text again".encode())
    finally:
        ws.close()


def test_ws_ping_fragments_and_close(kefu):
    ws = WSClient(kefu.host, kefu.port, "/v1/ws/echo")
    ws.send_frame(OP_PING, b"are you there")
    assert ws.recv_frame() == (True, OP_PONG, b"are you there")
    ws.send_frame(OP_TEXT, "第一部分-".encode(), fin=False)
    ws.send_frame(OP_CONT, b"part two", fin=True)
    assert ws.recv_text() == "第一部分-part two"
    # a client close is answered with the same code
    ws.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
    with pytest.raises(WSClosed) as e:
        ws.recv_message()
    assert e.value.code == 1000
    ws.sock.close()
    assert kefu.get("/health").status_code == 200


@pytest.mark.parametrize("payload,code", [
    ((OP_TEXT, b"\xff\xfe not utf-8"), 1007),             # invalid UTF-8 in a text frame
    ((OP_TEXT, b"x" * ((1 << 20) + 1)), 1009),            # over the 1 MiB message limit
])
def test_ws_protocol_errors_close_with_code(kefu, payload, code):
    ws = WSClient(kefu.host, kefu.port, "/v1/ws/echo")
    ws.send_frame(*payload)
    with pytest.raises(WSClosed) as e:
        ws.recv_message()
    assert e.value.code == code
    ws.sock.close()
    # the server is fine
    ws = WSClient(kefu.host, kefu.port, "/v1/ws/echo")
    ws.send_text("still here")
    assert ws.recv_text() == "still here"
    ws.close()


def test_ws_gauge(kefu):
    def gauge():
        for line in kefu.metrics().splitlines():
            if line.startswith('kefu_connections{protocol="websocket"}'):
                return float(line.split()[1])
        raise AssertionError("no websocket gauge")

    assert gauge() == 0
    clients = [WSClient(kefu.host, kefu.port, "/v1/ws/echo") for _ in range(3)]
    for ws in clients:  # answered: the upgrade is done on the server
        ws.send_text("x")
        assert ws.recv_text() == "x"
    assert gauge() == 3
    for ws in clients:
        ws.close()
    deadline = time.monotonic() + 10
    while gauge() != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gauge() == 0


def test_wss_echo(tls_kefu):
    ws = WSClient(tls_kefu.host, tls_kefu.port, "/v1/ws/echo", tls=True)
    try:
        ws.send_text("over TLS")
        assert ws.recv_text() == "over TLS"
    finally:
        ws.close()


def test_ws_route_without_upgrade_is_400(kefu):
    r = kefu.get("/v1/ws/echo")
    assert r.status_code == 400
    assert "detail" in r.json()


def test_ws_closed_with_1001_on_sigterm(start_kefu):
    k = start_kefu("--drain-timeout", "5")
    clients = [WSClient(k.host, k.port, "/v1/ws/echo") for _ in range(2)]
    for i, ws in enumerate(clients):
        ws.send_text(f"ping{i}")
        assert ws.recv_text() == f"ping{i}"
    k.signal(signal.SIGTERM)
    for ws in clients:
        with pytest.raises(WSClosed) as e:
            ws.recv_message()
        assert e.value.code == 1001
        ws.sock.close()
    assert k.wait_exit(15) == 0

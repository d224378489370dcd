"""Process lifecycle: SIGTERM/SIGINT drain and exit 0, requests in flight
finish, new connections are refused while draining, --drain-timeout bounds
the drain, --max-connections, --idle-timeout."""
import json
import signal
import socket
import time

import pytest

from conftest import intent_body
from h2mini import H2Conn
from rawhttp import RawConn

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

HEALTH = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"


def connect(k, timeout=10.0):
    return RawConn(k.host, k.port, timeout)


def keepalive_conn(k):
    """A connection the server has certainly accepted: one request answered on it."""
    c = connect(k)
    c.sendall(HEALTH)
    status, headers, _ = c.read_response()
    assert status == 200
    return c


def refused(k):
    try:
        s = socket.create_connection((k.host, k.port), timeout=2)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    # accepted by a backlog nobody serves any more, or by the server: try a request
    try:
        s.sendall(HEALTH)
        s.settimeout(2)
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


def wait_refused(k, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if refused(k):
            return True
        time.sleep(0.05)
    return False


# -- signals -------------------------------------------------------------------

@pytest.mark.parametrize("sig,name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_signal_exits_zero(start_kefu, sig, name):
    k = start_kefu("--drain-timeout", "5")
    assert k.get("/health").status_code == 200
    k.signal(sig)
    assert k.wait_exit(15) == 0, k.log()
    msgs = [r.get("msg") for r in k.log_records()]
    assert "shutting down" in msgs and "stopped" in msgs
    assert any(r.get("signal") == name for r in k.log_records())


def test_idle_keepalive_does_not_hold_the_drain(start_kefu):
    # A drain bound far longer than the wait below: idle connections must be
    # closed by the server, not waited for.
    k = start_kefu("--drain-timeout", "60")
    conns = [keepalive_conn(k) for _ in range(3)]
    k.signal(signal.SIGTERM)
    assert k.wait_exit(15) == 0, "idle keep-alive connections kept the server draining\n" + k.log()
    for s in conns:
        assert s.wait_closed(5)
        s.close()
    assert refused(k)


def test_idle_h2_connection_does_not_hold_the_drain(start_kefu):
    k = start_kefu("--drain-timeout", "60")
    c = H2Conn(k.host, k.port)
    try:
        sid = c.send_request("GET", "/health")
        assert c.collect([sid])[sid][0] == 200
        k.signal(signal.SIGTERM)
        assert k.wait_exit(15) == 0, k.log()
    finally:
        c.sock.close()


def test_in_flight_request_finishes_during_drain(start_kefu):
    """A client still uploading its body when SIGTERM arrives gets its answer;
    meanwhile the listener is closed."""
    k = start_kefu("--drain-timeout", "20")
    s = keepalive_conn(k)
    body = json.dumps(intent_body("I lost my card")).encode()
    s.sendall(b"POST /v1/intent HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(0.3)  # let the server read the head; not a timing assertion
    k.signal(signal.SIGTERM)
    k.wait_log(lambda r: r.get("msg") == "shutting down", what="shutting down")
    assert wait_refused(k), "the listener still accepts while draining"
    assert k.proc.poll() is None, "exited with a request in flight\n" + k.log()
    time.sleep(0.5)  # a slow client
    s.sendall(body[10:])
    status, headers, rbody = s.read_response()
    assert status == 200, rbody
    assert json.loads(rbody)["intent"] == "lost_or_stolen_card"
    # no keep-alive once draining
    assert s.wait_closed(10)
    s.close()
    assert k.wait_exit(15) == 0, k.log()


def test_drain_timeout_bounds_a_stuck_request(start_kefu):
    k = start_kefu("--drain-timeout", "1")
    s = keepalive_conn(k)
    s.sendall(b"POST /v1/intent HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{\"query\":")
    time.sleep(0.3)
    k.signal(signal.SIGTERM)
    try:
        assert k.wait_exit(15) == 0, k.log()
    finally:
        s.close()


# -- connection limits -----------------------------------------------------------

def test_max_connections(start_kefu):
    k = start_kefu("--max-connections", "2")
    held = [keepalive_conn(k) for _ in range(2)]
    extra = connect(k)
    try:
        extra.sendall(HEALTH)
    except (ConnectionResetError, BrokenPipeError):
        pass
    assert extra.wait_closed(10), "connection beyond --max-connections was served"
    extra.close()
    # the held ones still work
    for s in held:
        s.sendall(HEALTH)
        assert s.read_response()[0] == 200
    held.pop().close()
    # once the server has seen the close, a new connection is served
    deadline, ok = time.monotonic() + 10, False
    while time.monotonic() < deadline and not ok:
        try:
            s = keepalive_conn(k)
        except (ConnectionError, OSError):
            time.sleep(0.05)
            continue
        ok = True
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        status, _, text = s.read_response()
        assert status == 200
        text = text.decode()
        assert "kefu_connections_max 2" in text
        rejected = [l for l in text.splitlines() if l.startswith("kefu_connections_rejected_total ")]
        assert rejected and float(rejected[0].split()[1]) >= 1, rejected
        s.close()
    assert ok, "no connection accepted after one was closed"
    for s in held:
        s.close()


def test_idle_timeout_closes_idle_connection(start_kefu):
    k = start_kefu("--idle-timeout", "1")
    s = keepalive_conn(k)
    assert s.wait_closed(10), "idle keep-alive connection not closed"
    s.close()
    # a connection that never sends anything is closed too
    s = connect(k)
    assert s.wait_closed(10), "silent connection not closed"
    s.close()
    assert k.get("/health").status_code == 200


def test_idle_timeout_default_keeps_connection(start_kefu):
    # the counterpart: with the default 30 s an idle connection outlives a short pause
    k = start_kefu()
    s = keepalive_conn(k)
    assert not s.wait_closed(1.5)
    s.sendall(HEALTH)
    assert s.read_response()[0] == 200
    s.close()


def test_idle_timeout_closes_slow_client(start_kefu):
    # a request head that never completes (slowloris) is cut off too
    k = start_kefu("--idle-timeout", "1")
    s = connect(k)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    assert s.wait_closed(10), "half-sent request head kept open"
    s.close()


def test_idle_timeout_closes_idle_h2_connection(start_kefu):
    k = start_kefu("--idle-timeout", "1")
    c = H2Conn(k.host, k.port)
    try:
        sid = c.send_request("GET", "/health")
        assert c.collect([sid])[sid][0] == 200
        deadline, closed = time.monotonic() + 10, False
        c.sock.settimeout(0.5)
        while time.monotonic() < deadline and not closed:
            try:
                ftype, _, _, _ = c.read_frame()
                closed = ftype == 7  # GOAWAY
            except socket.timeout:
                continue
            except (ConnectionError, OSError):
                closed = True
        assert closed, "idle HTTP/2 connection neither got GOAWAY nor was closed"
    finally:
        c.sock.close()


def test_idle_tls_connection_does_not_hold_the_drain(start_kefu, tmp_path):
    import ssl
    import subprocess
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=30)
    k = start_kefu("--tls-cert", cert, "--tls-key", key, "--drain-timeout", "60", tls=True)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    c = RawConn(k.host, k.port)
    c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
    c.sendall(HEALTH)
    assert c.read_response()[0] == 200
    k.signal(signal.SIGTERM)
    try:
        assert k.wait_exit(15) == 0, "an idle HTTPS keep-alive connection kept the server draining\n" + k.log()
    finally:
        c.close()


def test_websocket_ignoring_close_is_bounded_by_drain_timeout(start_kefu):
    from wsclient import WSClient
    k = start_kefu("--drain-timeout", "1")
    ws = WSClient(k.host, k.port, "/v1/ws/echo")
    ws.send_text("x")
    assert ws.recv_text() == "x"
    k.signal(signal.SIGTERM)  # the client never answers the close frame
    try:
        assert k.wait_exit(15) == 0, k.log()
    finally:
        ws.sock.close()


def test_sigterm_under_load_exits_cleanly(start_kefu):
    """Clients keep sending on keep-alive connections while the server
    drains: it exits 0 (no crash), every answer it gave was complete."""
    import threading
    import requests
    k = start_kefu("--drain-timeout", "5")
    stop = threading.Event()
    bad = []

    def client():
        deadline = time.monotonic() + 10
        with requests.Session() as s:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = s.post(k.url("/v1/intent"), json=intent_body("I lost my card"), timeout=5)
                except requests.RequestException:
                    continue  # refused or closed once draining: expected
                if r.status_code != 200 or r.json().get("intent") != "lost_or_stolen_card":
                    bad.append((r.status_code, r.text[:200]))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    k.signal(signal.SIGTERM)
    try:
        assert k.wait_exit(15) == 0, k.log()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert bad == []

"""Background intent jobs: POST /v1/intent?async=true -> 202, polling
/v1/jobs/{id}, webhooks to callback_url (delivered, retried after 5xx),
and 503 + Retry-After when the bounded queue is full."""
import http.server
import json
import socket
import threading
import time

import pytest

from conftest import SESSION, intent_body
from rawhttp import RawConn

POLL_TIMEOUT = 10.0


def poll_job(k, job_id, timeout=POLL_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = k.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["job_id"] == job_id
        assert doc["status"] in ("processing", "done", "failed"), doc
        if doc["status"] != "processing":
            return doc
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still processing after {timeout}s")


def submit(k, query="I lost my card", **extra):
    r = k.post("/v1/intent", params={"async": "true"}, json=intent_body(query, **extra))
    assert r.status_code == 202, r.text
    doc = r.json()
    assert set(doc) == {"status", "job_id"}
    assert doc["status"] == "processing"
    assert len(doc["job_id"]) == 32 and all(c in "0123456789abcdef" for c in doc["job_id"])
    assert r.headers.get("location") == f"/v1/jobs/{doc['job_id']}"
    return doc["job_id"]


class Receiver:
    """An HTTP server on a free loopback port, in a thread, recording every
    POST; the first `fail_first` POSTs are answered 500."""

    def __init__(self, fail_first=0):
        self.posts = []
        self.attempts = 0
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.cond:
                    outer.attempts += 1
                    fail = outer.attempts <= outer.fail_first
                    if not fail:
                        outer.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    outer.cond.notify_all()
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def wait_posts(self, n, timeout=15.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.posts) >= n, timeout=timeout)
            return list(self.posts)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver():
    made = []

    def make(fail_first=0):
        r = Receiver(fail_first)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


# -- polling ---------------------------------------------------------------------

def test_async_job_result_equals_sync_answer(kefu):
    query = "my credit card was stolen"
    sync = kefu.post("/v1/intent", json=intent_body(query)).json()
    job_id = submit(kefu, query)
    doc = poll_job(kefu, job_id)
    assert doc["status"] == "done", doc
    assert doc["result"]["intent"] == sync["intent"] == "lost_or_stolen_card"
    assert doc["result"] == sync
    # a finished job stays readable
    assert kefu.get(f"/v1/jobs/{job_id}").json() == doc


def test_async_false_is_synchronous(kefu):
    r = kefu.post("/v1/intent", params={"async": "false"}, json=intent_body())
    assert r.status_code == 200
    assert "intent" in r.json()


def test_many_async_jobs_all_finish(kefu):
    queries = ["I lost my card", "what is my balance", "我的信用卡丢了", "hello", "transfer ¥500 to bob@example.com"]
    ids = [(q, submit(kefu, q)) for q in queries]
    for q, job_id in ids:
        doc = poll_job(kefu, job_id)
        assert doc["status"] == "done"
        assert doc["result"]["session_id"] == SESSION
        assert doc["result"] == kefu.post("/v1/intent", json=intent_body(q)).json()


def test_unknown_job_is_404_json(kefu):
    r = kefu.get("/v1/jobs/" + "0" * 32)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert isinstance(r.json()["detail"], str)


def test_malformed_job_id_is_422(kefu):
    r = kefu.get("/v1/jobs/not-a-job")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "job_id"]


# -- webhooks --------------------------------------------------------------------

def test_callback_receives_result(kefu, receiver):
    rx = receiver()
    query = "I lost my card"
    sync = kefu.post("/v1/intent", json=intent_body(query)).json()
    r = kefu.post("/v1/intent", json=intent_body(query, callback_url=rx.url))
    assert r.status_code == 202, r.text  # a callback_url implies async
    job_id = r.json()["job_id"]
    posts = rx.wait_posts(1)
    assert len(posts) == 1, "no webhook POST received"
    p = posts[0]
    assert p["path"] == "/hook"
    assert p["headers"].get("Content-Type", "").startswith("application/json")
    doc = json.loads(p["body"])
    assert doc["job_id"] == job_id
    assert doc["status"] == "done"
    assert doc["result"] == sync
    assert poll_job(kefu, job_id)["result"] == sync
    # delivered once
    time.sleep(0.3)
    assert len(rx.posts) == 1


def test_callback_retried_after_failures(kefu, receiver):
    rx = receiver(fail_first=2)
    r = kefu.post("/v1/intent", params={"async": "true"}, json=intent_body("block my card", callback_url=rx.url))
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    posts = rx.wait_posts(1, timeout=20)
    assert len(posts) == 1, f"not delivered after {rx.attempts} attempts"
    assert rx.attempts == 3
    assert json.loads(posts[0]["body"])["job_id"] == job_id
    kefu.wait_log(lambda l: l.get("msg") == "webhook delivered" and l.get("attempt") == 3, what="delivery log")
    m = kefu.metrics()
    assert 'kefu_webhook_deliveries_total{result="retried"} 2' in m, m
    assert 'kefu_webhook_deliveries_total{result="ok"} 1' in m


def test_callback_to_dead_receiver_gives_up(start_kefu):
    # nothing listens on this port: every attempt fails fast; the job itself is done
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    k = start_kefu()
    r = k.post("/v1/intent", json=intent_body(callback_url=f"http://127.0.0.1:{dead}/hook"))
    assert r.status_code == 202
    assert poll_job(k, r.json()["job_id"])["status"] == "done"
    k.wait_log(lambda l: l.get("msg") == "webhook failed", timeout=20, what="webhook failed")
    assert 'kefu_webhook_deliveries_total{result="failed"} 1' in k.metrics()
    assert k.get("/health").status_code == 200


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "file:///etc/passwd", "gopher://127.0.0.1/"])
def test_callback_scheme_must_be_http(kefu, url):
    r = kefu.post("/v1/intent", json=intent_body(callback_url=url))
    assert r.status_code == 422
    e = r.json()["detail"][0]
    assert e["loc"] == ["body", "callback_url"]


# -- queue full --------------------------------------------------------------------

def pipelined_burst(k, n):
    """n async POSTs pipelined on one connection in a single write, so the
    server submits them back to back; [(status, headers, body)] in order."""
    body = json.dumps(intent_body("I lost my card")).encode()
    req = (b"POST /v1/intent?async=true HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    s = RawConn(k.host, k.port)
    try:
        s.sendall(req * n)
        return [s.read_response() for _ in range(n)]
    finally:
        s.close()


def test_queue_full_is_503_with_retry_after(start_kefu):
    k = start_kefu("--job-capacity", "1", "--job-workers", "1", "--threads", "1")
    answers = []
    for _ in range(5):  # bounded: a few bursts until one overflows the queue
        answers += pipelined_burst(k, 60)
        if any(st == 503 for st, _, _ in answers):
            break
    statuses = {st for st, _, _ in answers}
    assert statuses <= {202, 503}, statuses
    full = [(h, b) for st, h, b in answers if st == 503]
    assert full, "a queue of capacity 1 with one worker never reported full"
    for h, b in full:
        assert h.get("retry-after", "").isdigit(), h
        assert "queue" in json.loads(b)["detail"]
    accepted = [json.loads(b)["job_id"] for st, _, b in answers if st == 202]
    assert accepted
    for job_id in accepted[-3:]:
        assert poll_job(k, job_id)["status"] == "done"
    m = k.metrics()
    line = next(l for l in m.splitlines() if l.startswith('kefu_jobs_total{outcome="rejected"}'))
    assert float(line.split()[1]) == len(full)
    # once drained the queue takes work again
    assert poll_job(k, submit(k))["status"] == "done"

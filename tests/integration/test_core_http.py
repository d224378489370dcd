"""Core HTTP/1.1 behaviour: health, readiness, request ids, access log, keep-alive, static files."""
import http.client
import os
import re
import shutil

from conftest import SESSION, WEB_ROOT, clean_env, intent_body

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_health(kefu):
    r = kefu.get("/health")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_ready_with_model(kefu):
    r = kefu.get("/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"model": "ok", "conversations": "ok"}}


def test_ready_without_model_is_503(start_kefu, tmp_path):
    # A copy of the binary with no demo.model beside it, no --model, no KEFU_MODEL.
    from conftest import KEFU_BIN
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy(KEFU_BIN, bindir / "kefu")
    k = start_kefu(model=None, binary=str(bindir / "kefu"))
    r = k.get("/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not_ready"
    assert isinstance(body["checks"]["model"], str) and body["checks"]["model"] != "ok"
    assert k.get("/health").status_code == 200


def test_request_id_echoed(kefu):
    rid = "test-req-42-abc"
    r = kefu.get("/health", headers={"X-Request-Id": rid})
    assert r.headers.get("x-request-id") == rid
    rec = kefu.wait_log(lambda l: l.get("request_id") == rid, what="access line with our id")
    assert rec["path"] == "/health"


def test_request_id_generated_and_unique(kefu):
    ids = set()
    for _ in range(5):
        rid = kefu.get("/health").headers.get("x-request-id", "")
        assert HEX32.match(rid), rid
        ids.add(rid)
    assert len(ids) == 5
    # also on errors
    assert HEX32.match(kefu.get("/no/such/path").headers.get("x-request-id", ""))


def test_access_log_line(kefu):
    rid = "accesslog0001"
    r = kefu.post("/v1/intent", json=intent_body(), headers={"X-Request-Id": rid})
    assert r.status_code == 200
    rec = kefu.wait_log(lambda l: l.get("request_id") == rid, what="access line")
    for key in ("ts", "level", "msg", "request_id", "method", "route", "path", "status", "duration_ms"):
        assert key in rec, (key, rec)
    assert rec["level"] == "info"
    assert rec["method"] == "POST"
    assert rec["route"] == "/v1/intent"
    assert rec["path"] == "/v1/intent"
    assert rec["status"] == 200
    assert isinstance(rec["duration_ms"], (int, float)) and rec["duration_ms"] >= 0


def test_access_log_route_is_template(kefu):
    job = "f" * 32
    rid = "templ-route-1"
    kefu.get(f"/v1/jobs/{job}", headers={"X-Request-Id": rid})
    rec = kefu.wait_log(lambda l: l.get("request_id") == rid, what="access line")
    assert rec["route"] == "/v1/jobs/{job_id}"
    assert rec["path"] == f"/v1/jobs/{job}"
    assert rec["status"] == 404


def test_one_access_line_per_request(kefu):
    for i in range(4):
        kefu.get("/health", headers={"X-Request-Id": f"count-{i}"})
    kefu.wait_log(lambda l: l.get("request_id") == "count-3", what="last access line")
    lines = [l for l in kefu.access_lines() if str(l.get("request_id", "")).startswith("count-")]
    assert sorted(l["request_id"] for l in lines) == [f"count-{i}" for i in range(4)]


def test_log_never_contains_body(kefu):
    secret = "SECRETMARKER7f3a"
    ok = kefu.post("/v1/intent", json=intent_body(f"my card {secret} is lost", context={"note": secret}),
                   headers={"X-Request-Id": "nobody-1"})
    assert ok.status_code == 200
    bad = kefu.post("/v1/intent", json={"query": secret * 20, "session_id": secret},
                    headers={"X-Request-Id": "nobody-2"})
    assert bad.status_code == 422
    broken = kefu.post("/v1/intent", data='{"query": "' + secret + '", ',
                       headers={"content-type": "application/json", "X-Request-Id": "nobody-3"})
    assert broken.status_code == 422
    kefu.wait_log(lambda l: l.get("request_id") == "nobody-3", what="access line")
    assert secret not in kefu.log()


def test_log_level_warn_has_no_access_lines(start_kefu):
    k = start_kefu("--log-level", "warn")
    k.get("/health", headers={"X-Request-Id": "quiet-1"})
    k.get("/nope")
    assert k.get("/health").status_code == 200
    assert "quiet-1" not in k.log()
    for rec in k.log_records():
        assert rec["level"] in ("warn", "error"), rec


def test_keep_alive_several_requests_one_connection(kefu):
    conn = http.client.HTTPConnection("127.0.0.1", kefu.port, timeout=10)
    try:
        conn.request("GET", "/health")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b'{"status":"ok"}'
        sock = conn.sock
        assert sock is not None
        local = sock.getsockname()
        import json
        for i in range(5):
            if i % 2:
                conn.request("POST", "/v1/intent", body=json.dumps(intent_body()),
                             headers={"Content-Type": "application/json"})
            else:
                conn.request("GET", "/ready")
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            assert conn.sock is sock and sock.getsockname() == local, "connection was not kept alive"
    finally:
        conn.close()


def test_index_page(kefu):
    r = kefu.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for link in ('href="/docs"', 'href="/health"', 'href="/metrics"'):
        assert link in r.text
    assert "kefu" in r.text


def test_static_etag_and_cache(kefu):
    r = kefu.get("/static/index.html")
    assert r.status_code == 200
    etag = r.headers.get("etag")
    assert etag
    assert r.headers.get("cache-control")
    r2 = kefu.get("/static/index.html", headers={"If-None-Match": etag})
    assert r2.status_code == 304
    assert r2.content == b""


def test_static_vendor_bundle(kefu):
    bundle = os.path.join(WEB_ROOT, "vendor", "redoc.standalone.js")
    assert os.path.isfile(bundle), "run `make web` to vendor the redoc bundle"
    r = kefu.get("/static/vendor/redoc.standalone.js")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert len(r.content) == os.path.getsize(bundle)
    assert r.headers.get("etag")
    assert "max-age" in r.headers.get("cache-control", "")


def test_static_missing_and_traversal(kefu):
    assert kefu.get("/static/nope.js").status_code == 404
    for p in ("/static/../Makefile", "/static/%2e%2e/Makefile", "/static/..%2fMakefile"):
        r = kefu.get(p)
        assert r.status_code == 404, p
        assert "kefu — build" not in r.text


def test_head_health(kefu):
    import requests
    r = requests.head(kefu.url("/health"), timeout=10)
    assert r.status_code == 200
    assert r.content == b""

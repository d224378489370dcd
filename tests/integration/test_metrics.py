"""GET /metrics: Prometheus text that promtool accepts, counters that move."""
import re
import shutil
import subprocess

import pytest

from conftest import intent_body

# Label values may hold '}' (route templates such as /v1/jobs/{job_id}), so
# the label block is matched as a sequence of quoted values, not up to '}'.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)(\s+\d+)?$')


def parse(text):
    """{(name, frozenset(labels)): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"unparsable sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    want = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and want <= set(l))


def promtool_check(text):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool missing (Debian package prometheus; scripts/deps.sh test)")
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    return p


def test_metrics_content_type_and_promtool(kefu):
    kefu.get("/health")
    kefu.get("/nope")
    kefu.post("/v1/intent", json=intent_body())
    r = kefu.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    p = promtool_check(r.text)
    assert p.returncode == 0, f"promtool check metrics failed:\n{p.stdout}\n{p.stderr}"


def test_required_families(kefu):
    kefu.get("/health")
    text = kefu.metrics()
    for fam, typ in [("kefu_http_requests_total", "counter"),
                     ("kefu_http_request_duration_seconds", "histogram"),
                     ("kefu_connections", "gauge"),
                     ("process_resident_memory_bytes", "gauge"),
                     ("process_cpu_seconds_total", "counter"),
                     ("process_open_fds", "gauge"),
                     ("process_start_time_seconds", "gauge")]:
        assert f"# TYPE {fam} {typ}" in text, fam
    s = parse(text)
    assert value(s, "process_resident_memory_bytes") > 1e5
    assert value(s, "process_open_fds") >= 3
    assert value(s, "process_start_time_seconds") > 1.5e9
    assert value(s, "process_cpu_seconds_total") >= 0
    protos = {dict(l).get("protocol") for (n, l) in s if n == "kefu_connections"}
    assert {"http1", "http2", "websocket"} <= protos, protos
    # the scrape itself is on an open HTTP/1.1 connection
    assert value(s, "kefu_connections", protocol="http1") >= 1


def test_counters_increase(kefu):
    before = parse(kefu.metrics())
    for _ in range(3):
        assert kefu.get("/health").status_code == 200
    for _ in range(2):
        assert kefu.post("/v1/intent", json=intent_body()).status_code == 200
    assert kefu.post("/v1/intent", json={}).status_code == 422
    kefu.get("/v1/jobs/" + "a" * 32)
    kefu.get("/no/such/thing")
    kefu.get("/another/unknown")
    after = parse(kefu.metrics())

    def delta(**labels):
        return value(after, "kefu_http_requests_total", **labels) - value(before, "kefu_http_requests_total", **labels)

    assert delta(method="GET", route="/health", status="200") == 3
    assert delta(method="POST", route="/v1/intent", status="200") == 2
    assert delta(method="POST", route="/v1/intent", status="422") == 1
    assert delta(method="GET", route="/v1/jobs/{job_id}", status="404") == 1
    assert delta(method="GET", route="<unmatched>", status="404") == 2
    # never the raw path
    for (n, l) in after:
        if n == "kefu_http_requests_total":
            assert "aaaaaaaa" not in dict(l)["route"] and "no/such" not in dict(l)["route"]
    # histogram count moves with the requests
    hc = value(after, "kefu_http_request_duration_seconds_count", route="/health") - \
        value(before, "kefu_http_request_duration_seconds_count", route="/health")
    assert hc == 3
    assert value(after, "kefu_http_request_duration_seconds_bucket", route="/health", le="+Inf") == \
        value(after, "kefu_http_request_duration_seconds_count", route="/health")


def test_histogram_buckets_monotonic(kefu):
    for _ in range(3):
        kefu.post("/v1/intent", json=intent_body())
    text = kefu.metrics()
    buckets = []
    for line in text.splitlines():
        m = re.match(r'kefu_http_request_duration_seconds_bucket\{(.*)\} (\S+)$', line)
        if m and 'route="/v1/intent"' in m.group(1):
            le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
            buckets.append((float("inf") if le == "+Inf" else float(le), float(m.group(2))))
    assert buckets, text
    buckets.sort()
    counts = [c for _, c in buckets]
    assert counts == sorted(counts)
    assert counts[-1] >= 3


def test_promtool_after_traffic_of_every_kind(kefu):
    kefu.post("/v1/intent?async=true", json=intent_body())
    kefu.post("/v1/intent", data=b"{", headers={"content-type": "application/json"})
    kefu.post("/v1/intent", data=b"{}", headers={"content-type": "text/plain"})
    kefu.get("/v1/intent")
    kefu.get("/static/index.html")
    kefu.get("/openapi.json")
    p = promtool_check(kefu.metrics())
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}"

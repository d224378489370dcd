"""Admin routes: bearer token when one is configured, else loopback clients only."""
import socket

import pytest
import requests


def local_non_loopback_ip():
    """An address of this machine that is not 127/8, or None (traffic to it
    never leaves the machine)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    for info in infos:
        ip = info[4][0]
        if not ip.startswith("127."):
            return ip
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # UDP connect sends nothing; picks the outgoing address
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def test_reload_needs_the_admin_token(start_kefu):
    k = start_kefu("--admin-token", "s3cret-token")
    r = k.post("/v1/admin/reload")
    assert r.status_code == 401, r.text
    assert r.headers.get("www-authenticate") == "Bearer"
    assert "admin token" in r.json()["detail"]
    for bad in ("Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-tokenX", "Basic czNjcmV0LXRva2Vu", "s3cret-token"):
        r = k.post("/v1/admin/reload", headers={"Authorization": bad})
        assert r.status_code == 401, (bad, r.text)
    r = k.post("/v1/admin/reload", headers={"Authorization": "Bearer s3cret-token"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reloaded"


def test_admin_token_from_environment(start_kefu):
    k = start_kefu(env={"KEFU_ADMIN_TOKEN": "from-env"})
    assert k.post("/v1/admin/reload").status_code == 401
    assert k.post("/v1/admin/reload", headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_without_token_loopback_may_reload(kefu):
    r = kefu.post("/v1/admin/reload")
    assert r.status_code == 200, r.text


def test_without_token_other_interfaces_are_refused(start_kefu):
    ip = local_non_loopback_ip()
    if not ip:
        pytest.skip("this machine has no non-loopback IPv4 address")
    from conftest import KEFU_MODEL, WEB_ROOT, free_port
    port = free_port()
    k = start_kefu("--host", "0.0.0.0", "--port", port, "--threads", "1", "--model", KEFU_MODEL,
                   "--web-root", WEB_ROOT, default_args=False, port=port)
    r = requests.post(f"http://{ip}:{port}/v1/admin/reload", timeout=10)
    assert r.status_code == 403, r.text
    assert "loopback" in r.json()["detail"]
    # the same server still answers ordinary routes on that address
    assert requests.get(f"http://{ip}:{port}/health", timeout=10).status_code == 200

"""The chat widget at GET /.

test_chat_widget_in_chromium runs tests/browser/test_widget.mjs (playwright-core
from node_modules, Debian's /usr/bin/chromium) against the real binary with the
demo bot, a temporary --data-dir, and a stub card backend for the block_card
webhook.  It is skipped only when node or Chromium is not installed; a missing
playwright-core is a failure (`make web` installs it).  SHOTS=DIR keeps
phone-size screenshots.

The other tests check over plain HTTP how the widget's assets are cached: kefu
rewrites a page's "/static/NAME.EXT" references to content-hashed aliases
"/static/NAME.<16 hex>.EXT" that are immutable for a year (http/static.c).
"""
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from browser_run import require_browser, run_story
from conftest import REPO, WEB_ROOT

SCRIPT = os.path.join(REPO, "tests", "browser", "test_widget.mjs")
BOT = os.path.join(REPO, "bots", "demo")
RUN_TIMEOUT = 240  # s for the whole browser suite


class CardBackend(BaseHTTPRequestHandler):
    """The block_card webhook: answers every POST with a reference number."""

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        out = json.dumps({"reference": "BLK-" + str(body.get("card_last4", "0000"))}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def card_backend():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), CardBackend)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/block"
    srv.shutdown()
    srv.server_close()


def test_chat_widget_in_chromium(start_kefu, card_backend, tmp_path):
    require_browser()
    kefu = start_kefu("--bot", BOT, "--data-dir", tmp_path / "data", "--webhook-override", card_backend)
    run_story(SCRIPT, kefu, RUN_TIMEOUT)


HASHED = re.compile(r'"/static/(chat\.[0-9a-f]{16}\.(?:js|css))"')


def test_widget_page_names_hashed_assets(kefu):
    r = kefu.get("/")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"
    etag = r.headers["etag"]
    assert kefu.get("/", headers={"If-None-Match": etag}).status_code == 304
    names = HASHED.findall(r.text)
    assert sorted(n.rsplit(".", 1)[1] for n in names) == ["css", "js"], r.text
    for name in names:
        a = kefu.get("/static/" + name)
        assert a.status_code == 200
        assert a.headers["cache-control"] == "public, max-age=31536000, immutable"
        plain = name.split(".")[0] + "." + name.rsplit(".", 1)[1]
        with open(os.path.join(WEB_ROOT, plain), "rb") as f:
            assert a.content == f.read()
        # the unhashed name still works, revalidated each time; same bytes, same ETag
        b = kefu.get("/static/" + plain)
        assert b.status_code == 200 and b.headers["cache-control"] == "no-cache"
        assert b.headers["etag"] == a.headers["etag"]
        assert kefu.get("/static/" + name, headers={"If-None-Match": a.headers["etag"]}).status_code == 304
    assert kefu.get("/static/chat.0123456789abcdef.js").status_code == 404


def test_fingerprinting_rules(start_kefu, tmp_path):
    root = tmp_path / "web"
    (root / "vendor").mkdir(parents=True)
    (root / "app.js").write_text("console.log(1)\n")
    (root / "noext").write_text("x")
    (root / "other.html").write_text("<p>other</p>")
    (root / "vendor" / "lib.js").write_text("lib")
    (root / "index.html").write_text(
        '<script src="/static/app.js"></script>\n'
        '<script src="/static/app.js"></script>\n'       # the same alias twice
        "<script src='/static/app.js'></script>\n"       # single quotes: left alone
        '<script src="/static/missing.js"></script>\n'   # unknown: left alone
        '<script src="/static/vendor/lib.js"></script>\n'  # already immutable
        '<a href="/static/noext">x</a><a href="/static/other.html">y</a>\n'
        '<p>/static/app.js in text</p>\n')
    k = start_kefu("--web-root", root)
    page = k.get("/").text
    lines = page.splitlines()
    m = re.fullmatch(r'<script src="/static/app\.([0-9a-f]{16})\.js"></script>', lines[0])
    assert m, page
    assert lines[1] == lines[0]
    assert lines[2] == "<script src='/static/app.js'></script>"
    assert lines[3] == '<script src="/static/missing.js"></script>'
    assert lines[4] == '<script src="/static/vendor/lib.js"></script>'
    assert lines[5] == '<a href="/static/noext">x</a><a href="/static/other.html">y</a>'
    assert lines[6] == "<p>/static/app.js in text</p>"
    a = k.get(f"/static/app.{m.group(1)}.js")
    assert a.status_code == 200 and a.text == "console.log(1)\n"
    assert "immutable" in a.headers["cache-control"]
    assert a.headers["content-type"].startswith("text/javascript")
    assert k.get("/static/other.html").headers["cache-control"] == "no-cache"
    assert k.get("/static/vendor/lib.js").headers["cache-control"] == "public, max-age=31536000, immutable"

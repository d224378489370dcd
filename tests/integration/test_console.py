"""The agent console at GET /console, end to end with the chat widget.

test_console_in_chromium runs tests/browser/test_console.mjs (playwright-core
from node_modules, Debian's /usr/bin/chromium) against the real binary with
the demo bot and a temporary --data-dir holding two agents made with
`kefu agent add`: alice (skill general, where the demo bot sends human_agent)
and bob (skill cards only, so the first offer can only go to alice and the
transfer to cards only to bob).  Customers in the widget, agents in the
console, each in its own browser context: queue, offer, accept (by keyboard,
from the queue), messages both ways, canned responses, status, unread counts,
an XSS payload shown as text, a dropped console socket restored, hand-back,
a refused VIP offer, an internal note the customer never sees, transfer,
accept, close, a 5-star rating, GET /v1/stats and GET /metrics, log-out (the
story is told at the top of the .mjs).  Skipped only when node or Chromium is
not installed; a missing playwright-core is a failure (`make web` installs
it).  SHOTS=DIR keeps screenshots.

test_console_page_names_hashed_assets checks over plain HTTP that the page is
served and that its assets (console.css and every web/console*.js, loaded in
order with defer) get content-hashed immutable aliases, as the widget's do
(http/static.c).
"""
import os
import re
import subprocess

from browser_run import require_browser, run_story
from conftest import KEFU_BIN, REPO, WEB_ROOT, clean_env

SCRIPT = os.path.join(REPO, "tests", "browser", "test_console.mjs")
BOT = os.path.join(REPO, "bots", "demo")
RUN_TIMEOUT = 240  # s for the whole browser story
AGENTS = {
    "alice": ("alice-console-pass-1", ["--skills", "general", "--languages", "en,zh", "--max-chats", "3"]),
    "bob": ("bob-console-pass-22", ["--skills", "cards", "--languages", "en,zh", "--max-chats", "3"]),
}


def add_agent(data_dir, agent_id):
    password, extra = AGENTS[agent_id]
    r = subprocess.run([KEFU_BIN, "agent", "add", "--data-dir", str(data_dir), "--id", agent_id,
                        "--name", agent_id.title(), "--bot", BOT, *extra],
                       input=password + "\n", capture_output=True, text=True, timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr


def test_console_in_chromium(start_kefu, tmp_path):
    require_browser()
    data = tmp_path / "data"
    data.mkdir()
    for agent_id in AGENTS:
        add_agent(data, agent_id)
    kefu = start_kefu("--bot", BOT, "--data-dir", data)
    run_story(SCRIPT, kefu, RUN_TIMEOUT, TRANSFER_SKILL="cards",
              AGENT1_ID="alice", AGENT1_PASSWORD=AGENTS["alice"][0],
              AGENT2_ID="bob", AGENT2_PASSWORD=AGENTS["bob"][0])


HASHED = re.compile(r'"/static/(console\w*)\.([0-9a-f]{16})\.(js|css)"')


def test_console_page_names_hashed_assets(kefu):
    r = kefu.get("/console")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    assert kefu.get("/console", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    found = HASHED.findall(r.text)
    scripts = sorted(n for n in os.listdir(WEB_ROOT) if re.fullmatch(r"console\w*\.js", n))
    assert "console.js" in scripts, scripts
    assert sorted(base + "." + ext for base, _, ext in found) == sorted(["console.css"] + scripts), r.text
    assert '"/static/console' not in HASHED.sub("", r.text), "an asset left without its hash"
    # console.js makes window.KefuConsole; the others, deferred, run after it in page order
    tags = re.findall(r'<script src="/static/(console\w*)\.[0-9a-f]{16}\.js" defer></script>', r.text)
    assert len(tags) == len(scripts) and tags[0] == "console", r.text
    for base, digest, ext in found:
        a = kefu.get(f"/static/{base}.{digest}.{ext}")
        assert a.status_code == 200
        assert a.headers["cache-control"] == "public, max-age=31536000, immutable"
        with open(os.path.join(WEB_ROOT, f"{base}.{ext}"), "rb") as f:
            assert a.content == f.read()
    # the page carries no third-party assets and no inline script
    assert not re.search(r'(src|href)="https?://', r.text)
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text)

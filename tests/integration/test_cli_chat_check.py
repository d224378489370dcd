"""`kefu check --bot DIR` and `kefu chat`, black-box.

check: the demo bot passes (exit 0, summary on stderr); a broken fixture bot
(tests/fixtures/bots/broken) fails with exit 1 and its problems as sorted
"file:line: error|warning: message" lines; a usage mistake exits 2.

chat: in-process (`--bot bots/demo`, stdin piped, so no prompt is printed):
the block-card flow asks for the last 4 digits in English and Chinese, and a
number picks a quick reply; over REST (`--url`) against a real `kefu serve`
started here, skipped when that server has no conversation routes yet.
"""
import subprocess

import pytest
import requests

from conftest import KEFU_BIN, REPO, clean_env, require_binary, run_cli

DEMO = "bots/demo"
BROKEN = "tests/fixtures/bots/broken"


def chat(args, stdin, timeout=60):
    require_binary()
    return subprocess.run([KEFU_BIN, "chat"] + list(args), input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=clean_env(), cwd=REPO)


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory):
    """A model trained from the demo bot as it is now (the build's may be older)."""
    path = tmp_path_factory.mktemp("model") / "demo.model"
    r = run_cli(["train", "--bot", DEMO, "--out", str(path), "--quiet"], cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    return path


# ---- check -------------------------------------------------------------------

def test_check_demo_bot_passes():
    r = run_cli(["check", "--bot", DEMO], cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ": error: " not in r.stdout
    assert r.stderr.strip().startswith("0 errors, ")


def test_check_broken_bot_reports_every_problem_sorted():
    r = run_cli(["check", "--bot", BROKEN], cwd=REPO)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert r.stderr.strip() == "16 errors, 3 warnings"
    assert len(lines) == 19
    for want in [
        f"{BROKEN}/faq/b.yml:4: error: did not find expected ',' or '}}' while parsing a flow mapping",
        f"{BROKEN}/flows/a.yml:3: error: trigger 'lost_cards' is not an intent of the bot",
        f"{BROKEN}/flows/a.yml:10: error: webhook 'block_it' is not in bot.yml webhooks",
        f"{BROKEN}/intents/a.yml:6: warning: intent 'bye' has no training phrases in 'zh'",
        f"{BROKEN}/intents/a.yml:18: error: quick reply payload '/agent' names an unknown intent",
        f"{BROKEN}/intents/a.yml:26: error: response for unknown intent 'ghost'",
    ]:
        assert want in lines, want
    keys = []
    for line in lines:
        path, num, rest = line.split(":", 2)
        assert rest.startswith((" error: ", " warning: ")), line
        keys.append((path, int(num)))
    assert keys == sorted(keys)


def test_check_usage_errors_exit_2():
    r = run_cli(["check"], cwd=REPO)
    assert r.returncode == 2
    assert r.stderr.startswith("kefu: check: ")
    assert run_cli(["check", "--bot", DEMO, "--nope"], cwd=REPO).returncode == 2
    r = run_cli(["check", "--help"], cwd=REPO)
    assert r.returncode == 0 and "--bot" in r.stdout


# ---- chat in-process -----------------------------------------------------------

def test_chat_in_process_asks_for_the_last_4_digits(demo_model):
    r = chat(["--bot", DEMO, "--model", str(demo_model)], "I lost my card\n/quit\n")
    assert r.returncode == 0, r.stderr
    assert "you> " not in r.stdout  # stdin is not a terminal: no prompt
    lines = r.stdout.splitlines()
    assert lines[0].startswith("bot> ")  # the greeting
    asked = [l for l in lines if l.startswith("bot> ") and "last 4 digits" in l]
    assert asked, r.stdout


def test_chat_in_process_trains_without_a_model_and_speaks_chinese():
    r = chat(["--bot", DEMO, "--lang", "zh"], "我的卡丢了\n")
    assert r.returncode == 0, r.stderr
    assert any(l.startswith("bot> ") and "后四位" in l for l in r.stdout.splitlines()), r.stdout


def test_chat_number_sends_the_quick_reply_payload(demo_model):
    # The greeting's buttons are numbered; one of them is the lost-card intent.
    r = chat(["--bot", DEMO, "--model", str(demo_model)], "")
    buttons = [l.strip() for l in r.stdout.splitlines() if l.startswith("  [")]
    pick = next((b.split("]")[0][1:] for b in buttons if "card" in b.lower()), None)
    assert pick, r.stdout
    r = chat(["--bot", DEMO, "--model", str(demo_model)], f"{pick}\n")
    assert r.returncode == 0, r.stderr
    assert "last 4 digits" in r.stdout, r.stdout


def test_chat_usage_errors_exit_2():
    assert chat([], "").returncode == 2
    assert chat(["--bot", DEMO, "--url", "http://127.0.0.1:1"], "").returncode == 2
    assert chat(["--url", "http://127.0.0.1:1", "--lang", "fr"], "").returncode == 2


def test_chat_url_unreachable_exits_1():
    r = chat(["--url", "http://127.0.0.1:1"], "hi\n")
    assert r.returncode == 1
    assert r.stderr.startswith("kefu: chat: ")


# ---- chat over REST ------------------------------------------------------------

def test_chat_over_rest_against_a_real_server(start_kefu, tmp_path, demo_model):
    k = start_kefu("--bot", f"{REPO}/{DEMO}", "--data-dir", tmp_path / "data",
                   "--webhook-override", "http://127.0.0.1:9/block", model=demo_model)
    probe = requests.post(k.url("/v1/conversations"), json={}, timeout=10)
    if probe.status_code == 404:
        pytest.skip("the server has no conversation routes yet (POST /v1/conversations answered 404)")
    r = chat(["--url", k.base], "I lost my card\n1234\n/quit\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any("last 4 digits" in l for l in lines), r.stdout
    assert any(l.startswith("bot> ") and "1234" in l for l in lines), r.stdout

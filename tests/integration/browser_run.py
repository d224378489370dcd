"""Running a tests/browser/*.mjs story against a started kefu.

Both browser tests (test_browser.py: the widget; test_console.py: the agent
console with the widget) run a node:test script with playwright-core from
node_modules and Debian's Chromium.  They skip only when node or Chromium is
not installed; a missing playwright-core is a failure (`make web` installs it).
"""
import os
import shutil
import subprocess

import pytest

from conftest import REPO

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
PLAYWRIGHT = os.path.join(REPO, "node_modules", "playwright-core", "package.json")


def require_browser():
    if not NODE:
        pytest.skip("node is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    if not os.path.isfile(PLAYWRIGHT):
        pytest.fail(f"{PLAYWRIGHT} missing: run `make web` (npm ci) first")


def run_story(script, kefu, timeout, **env_extra):
    """Runs SCRIPT (a path under tests/browser) against KEFU; fails with its output and kefu's log."""
    env = dict(os.environ, KEFU_URL=kefu.base, CHROMIUM=CHROMIUM, **env_extra)
    name = os.path.basename(script)
    try:
        p = subprocess.run([NODE, "--test-reporter=spec", script], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{name} still running after {timeout}s\n{e.stdout or ''}\n{e.stderr or ''}")
    assert p.returncode == 0, (f"{name} failed (exit {p.returncode})\n--- stdout ---\n{p.stdout}\n"
                               f"--- stderr ---\n{p.stderr}\n--- kefu log (tail) ---\n{kefu.log()[-4000:]}")

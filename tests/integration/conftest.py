"""Black-box test harness: starts the real `kefu serve` binary.

Every server runs from its own temp dir on a free loopback port, with stderr
(the JSON-lines log) captured to a file the tests can read.  Servers are
stopped by PID at teardown: SIGTERM, then SIGKILL after a bound — also when a
test fails.  Every wait here is bounded.

Environment:
  KEFU_BIN    the binary (default: <repo>/build/kefu)
  KEFU_MODEL  the model  (default: <repo>/build/demo.model)
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
import requests

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEFU_BIN = os.path.abspath(os.environ.get("KEFU_BIN") or os.path.join(REPO, "build", "kefu"))
KEFU_MODEL = os.path.abspath(os.environ.get("KEFU_MODEL") or os.path.join(REPO, "build", "demo.model"))
WEB_ROOT = os.path.join(REPO, "web")
NODE_BIN = os.path.join(REPO, "node_modules", ".bin")

START_TIMEOUT = 15.0   # s to answer /health after exec
STOP_TIMEOUT = 15.0    # s after SIGTERM before SIGKILL

SESSION = "0123456789abcdef0123456789abcdef"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra=None):
    """The caller's environment without KEFU_* (make sets KEFU_MODEL, which
    the server would read too), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(extra or {})
    return env


def require_binary():
    if not (os.path.isfile(KEFU_BIN) and os.access(KEFU_BIN, os.X_OK)):
        pytest.fail(f"kefu binary not found at {KEFU_BIN} (run `make kefu` or set KEFU_BIN)")


def require_model():
    if not os.path.isfile(KEFU_MODEL):
        pytest.fail(f"model not found at {KEFU_MODEL} (run `make model` or set KEFU_MODEL)")


def run_cli(args, env=None, timeout=30, cwd=None):
    """Runs `kefu ARGS` to completion (bounded)."""
    require_binary()
    return subprocess.run([KEFU_BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=clean_env(env), cwd=cwd)


class Kefu:
    """A running `kefu serve`: base URL, PID, captured log, stop()."""

    def __init__(self, workdir, args, env=None, binary=None, model=True, port=None,
                 tls=False, default_args=True):
        self.workdir = str(workdir)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.scheme = "https" if tls else "http"
        self.base = f"{self.scheme}://{self.host}:{self.port}"
        self.ws_base = f"ws://{self.host}:{self.port}"
        self.log_path = os.path.join(self.workdir, f"kefu-{self.port}.log")
        cmd = [binary or KEFU_BIN, "serve"]
        if default_args:
            cmd += ["--host", self.host, "--port", str(self.port), "--threads", "2",
                    "--web-root", WEB_ROOT]
            if model is True:
                cmd += ["--model", KEFU_MODEL]
            elif model:
                cmd += ["--model", str(model)]
        cmd += [str(a) for a in args]
        self.cmd = cmd
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=clean_env(env),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._log)
        self.pid = self.proc.pid
        self.returncode = None

    # -- lifecycle -------------------------------------------------------
    def wait_healthy(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kefu exited with {self.proc.returncode} during start-up: "
                                     f"{self.cmd}\n--- log ---\n{self.log()}")
            try:
                r = requests.get(self.url("/health"), timeout=1, verify=False)
                if r.status_code == 200:
                    return self
                last = f"status {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        raise AssertionError(f"kefu did not answer /health within {timeout}s ({last})\n"
                             f"--- log ---\n{self.log()}")

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Exit code, or None if still running after `timeout` s."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after `timeout` s; returns the exit code."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait_exit(timeout) is None:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        if not self._log.closed:
            self._log.close()
        return self.returncode

    # -- helpers ---------------------------------------------------------
    def url(self, path):
        return self.base + path

    def log(self):
        try:
            self._log.flush()
        except ValueError:
            pass
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_records(self):
        """The log as parsed JSON objects; a line that is not JSON fails."""
        out = []
        for line in self.log().splitlines():
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"log line is not JSON: {line!r}")
        return out

    def access_lines(self):
        return [r for r in self.log_records() if "request_id" in r and "status" in r]

    def wait_log(self, pred, timeout=10.0, what="log line"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if pred(rec):
                    return rec
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout}s\n--- log ---\n{self.log()}")

    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.get(self.url(path), **kw)

    def post(self, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.post(self.url(path), **kw)

    def metrics(self):
        r = self.get("/metrics")
        assert r.status_code == 200, r.text
        return r.text


@pytest.fixture
def start_kefu(tmp_path):
    """Factory: start_kefu(*args, env=..., model=..., wait=True) -> Kefu.
    All servers it started are stopped at teardown."""
    require_binary()
    started = []

    def start(*args, env=None, model=True, wait=True, **kw):
        if model is True:
            require_model()
        # A port picked free may be taken by the time kefu binds: retry.
        for attempt in range(3):
            k = Kefu(tmp_path, args, env=env, model=model, **kw)
            started.append(k)
            if not wait:
                return k
            try:
                return k.wait_healthy()
            except AssertionError:
                k.stop(timeout=5)
                if attempt == 2 or "cannot listen" not in k.log():
                    raise
        raise AssertionError("unreachable")

    yield start
    for k in started:
        k.stop()


@pytest.fixture
def kefu(start_kefu):
    """A server with the default test flags and the demo model."""
    return start_kefu()


@pytest.fixture(scope="session")
def node_bin():
    path = os.path.join(NODE_BIN, "redocly")
    if not os.path.exists(path):
        pytest.fail(f"{path} missing: run `make web` (npm ci) first")
    return NODE_BIN


@pytest.fixture(scope="session")
def curl():
    path = shutil.which("curl")
    if not path:
        pytest.fail("curl not installed (scripts/deps.sh test installs it)")
    return path


def intent_body(query="I lost my card", **extra):
    body = {"query": query, "session_id": SESSION}
    body.update(extra)
    return body

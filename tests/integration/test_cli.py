"""The `kefu` binary's command line, black-box: usage and version, exit code 2
with one `kefu: ...` line for a bad flag, value or environment variable,
`train` errors naming file and line, and train -> eval --json -> predict
(arguments and stdin).  tests/unit/test_nlu_cli.c calls the subcommands
in-process on the fixtures; this checks what a shell user sees."""
import json
import os
import subprocess

import pytest

from conftest import KEFU_BIN, KEFU_MODEL, REPO, clean_env, run_cli

FIX = os.path.join(REPO, "tests", "fixtures", "nlu")


def one_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    assert lines[0].startswith("kefu"), lines[0]
    return lines[0]


# -- usage ---------------------------------------------------------------------

def test_help():
    p = run_cli(["--help"])
    assert p.returncode == 0
    assert "usage: kefu COMMAND" in p.stdout
    for cmd in ("serve", "train", "eval", "predict"):
        assert f"  {cmd} " in p.stdout, cmd
    assert p.stderr == ""


def test_version():
    p = run_cli(["--version"])
    assert p.returncode == 0
    assert p.stdout.startswith("kefu ")
    version = p.stdout.split()[1]
    assert version[0].isdigit() and "." in version
    assert version in run_cli(["--help"]).stdout


def test_serve_help_lists_every_flag_with_env():
    p = run_cli(["serve", "--help"])
    assert p.returncode == 0
    out = p.stdout
    assert out.startswith("usage: kefu serve")
    for flag, env in [("--host", "KEFU_HOST"), ("--port", "KEFU_PORT"), ("--threads", "KEFU_THREADS"),
                      ("--model", "KEFU_MODEL"), ("--max-body", "KEFU_MAX_BODY"),
                      ("--max-connections", "KEFU_MAX_CONNECTIONS"), ("--idle-timeout", "KEFU_IDLE_TIMEOUT"),
                      ("--drain-timeout", "KEFU_DRAIN_TIMEOUT"), ("--tls-cert", "KEFU_TLS_CERT"),
                      ("--job-capacity", "KEFU_JOB_CAPACITY"), ("--job-workers", "KEFU_JOB_WORKERS"),
                      ("--log-level", "KEFU_LOG_LEVEL")]:
        line = next((l for l in out.splitlines() if l.strip().startswith(flag + " ")), None)
        assert line, f"{flag} missing from serve --help"
        assert env in line, (flag, env, line)


@pytest.mark.parametrize("cmd", ["train", "eval", "predict"])
def test_subcommand_help(cmd):
    p = run_cli([cmd, "--help"])
    assert p.returncode == 0
    assert p.stdout.startswith(f"usage: kefu {cmd}")


def test_no_arguments_is_usage_error():
    p = run_cli([])
    assert p.returncode == 2
    assert "usage: kefu" in p.stderr
    assert p.stdout == ""


def test_unknown_command():
    p = run_cli(["frobnicate"])
    assert p.returncode == 2
    assert "frobnicate" in one_line(p.stderr)


# -- bad flags and values: exit 2, one line, the server never starts -------------

@pytest.mark.parametrize("args,needle", [
    (["--port", "abc"], "abc"),
    (["--port=abc"], "abc"),
    (["--port", "70000"], "70000"),
    (["--threads", "0"], "--threads"),
    (["--max-body", "10x"], "10x"),
    (["--idle-timeout", "-1"], "-1"),
    (["--log-level", "loud"], "loud"),
    (["--no-such-flag"], "--no-such-flag"),
    (["--port"], "--port"),
    (["stray-argument"], "stray-argument"),
])
def test_serve_bad_flag(args, needle, tmp_path):
    # --port 0 first so that, were the bad flag accepted, the server would
    # start on a free port (and the bounded run would fail the test)
    base = ["serve", "--host", "127.0.0.1", "--model", KEFU_MODEL]
    if not any(a.startswith("--port") for a in args):
        base += ["--port", "0"]
    p = run_cli(base + args, cwd=tmp_path, timeout=15)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert needle in one_line(p.stderr)


@pytest.mark.parametrize("env,needle", [
    ({"KEFU_PORT": "abc"}, "KEFU_PORT"),
    ({"KEFU_THREADS": "0"}, "KEFU_THREADS"),
    ({"KEFU_LOG_LEVEL": "chatty"}, "KEFU_LOG_LEVEL"),
    ({"KEFU_MAX_CONNECTIONS": "many"}, "KEFU_MAX_CONNECTIONS"),
])
def test_serve_bad_env(env, needle, tmp_path):
    p = run_cli(["serve"], env=env, cwd=tmp_path, timeout=15)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert needle in one_line(p.stderr)


def test_flag_wins_over_env(start_kefu):
    # Kubernetes injects KEFU_PORT=tcp://IP:PORT into pods when a service is
    # named kefu: a flag must override (and so never trip over) the variable.
    k = start_kefu(env={"KEFU_PORT": "tcp://10.0.0.7:8000", "KEFU_THREADS": "0", "KEFU_LOG_LEVEL": "warn"})
    assert k.get("/health").status_code == 200
    # KEFU_LOG_LEVEL had no flag: it applies (no access lines at warn)
    k.get("/ready")
    assert not k.access_lines()


def test_env_used_without_flag(start_kefu, tmp_path):
    from conftest import free_port
    port = free_port()
    k = start_kefu(env={"KEFU_PORT": str(port), "KEFU_HOST": "127.0.0.1", "KEFU_MODEL": KEFU_MODEL,
                        "KEFU_THREADS": "1"}, default_args=False, port=port)
    assert k.get("/health").status_code == 200


def test_tls_cert_without_key(tmp_path):
    p = run_cli(["serve", "--tls-cert", str(tmp_path / "c.pem")], cwd=tmp_path, timeout=15)
    assert p.returncode == 2
    assert "--tls-key" in one_line(p.stderr)


def test_serve_missing_model_fails(tmp_path):
    p = run_cli(["serve", "--host", "127.0.0.1", "--port", "0", "--model", str(tmp_path / "nope.model")],
                cwd=tmp_path, timeout=15)
    assert p.returncode == 1
    assert "nope.model" in p.stderr


@pytest.mark.parametrize("cmd", ["train", "eval", "predict"])
def test_subcommand_unknown_flag(cmd):
    p = run_cli([cmd, "--definitely-not-a-flag"])
    assert p.returncode == 2
    assert "--definitely-not-a-flag" in one_line(p.stderr)


# -- train: bad input files name file and line ------------------------------------

BAD_CSV = {
    "missing_column.csv": (b"text,label\nwhat is my balance,check_balance\nlost my card\n", ":3:"),
    "empty_label.csv": (b"text,label\nwhat is my balance,check_balance\nlost my card,\n", ":3:"),
    "bad_utf8.csv": (b"text,label\nwhat is my balance,check_balance\nshow my balance,check_balance\n"
                     b"lost my \xff\xfe card,card_lost\n", ":4:"),
    # physical lines count: the quoted field spans two lines, the bad row is line 4
    "multiline.csv": (b'text,label\r\n"two\nlines",check_balance\r\nno label here,\r\n', ":4:"),
    "one_class.csv": (b"text,label\nwhat is my balance,check_balance\nshow my balance,check_balance\n", None),
}


@pytest.mark.parametrize("name", sorted(BAD_CSV))
def test_train_bad_csv(name, tmp_path):
    content, where = BAD_CSV[name]
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out.model"
    p = run_cli(["train", "--data", str(path), "--out", str(out), "--quiet"])
    assert p.returncode != 0
    line = one_line(p.stderr)
    assert str(path) in line, line
    if where:
        assert str(path) + where in line, line
    assert not out.exists(), "a model was written from bad data"


def test_train_missing_file(tmp_path):
    missing = tmp_path / "nope.csv"
    p = run_cli(["train", "--data", str(missing), "--out", str(tmp_path / "m.model"), "--quiet"])
    assert p.returncode != 0
    line = one_line(p.stderr)
    assert str(missing) in line and "No such file" in line


def test_train_good_then_bad_file_names_the_bad_one(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\nhello,\n")
    p = run_cli(["train", "--data", os.path.join(FIX, "small.csv"), "--data", str(bad),
                 "--out", str(tmp_path / "m.model"), "--quiet"])
    assert p.returncode != 0
    assert f"{bad}:2:" in one_line(p.stderr)


# -- train -> eval -> predict --------------------------------------------------------

@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_model")
    out = d / "small.model"
    p = run_cli(["train", "--data", os.path.join(FIX, "small.csv"), "--out", str(out), "--threads", "1"],
                timeout=120)
    assert p.returncode == 0, p.stderr
    assert out.is_file() and out.stat().st_size > 0
    assert str(out) in p.stdout  # the summary names the file written
    return out


def test_eval_json(small_model):
    p = run_cli(["eval", "--model", str(small_model), "--data", os.path.join(FIX, "eval.csv"), "--json"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    for key in ("n", "accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision"):
        assert key in doc, key
    assert doc["n"] == sum(1 for _ in open(os.path.join(FIX, "eval.csv"), encoding="utf-8")) - 1
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision"):
        assert 0.0 <= doc[key] <= 1.0, (key, doc[key])
    # the fixture is easy: the model should get most of it right
    assert doc["accuracy"] >= 0.7, doc


def test_eval_text_report(small_model):
    p = run_cli(["eval", "--model", str(small_model), "--data", os.path.join(FIX, "eval.csv")])
    assert p.returncode == 0, p.stderr
    assert "accuracy=" in p.stdout and "macro_f1=" in p.stdout
    assert "check_balance" in p.stdout  # per-intent table


def test_predict_argument(small_model):
    p = run_cli(["predict", "--model", str(small_model), "--json", "my card was stolen"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["intent"] == "card_lost"
    assert 0 < doc["confidence"] <= 1
    assert doc["out_of_scope"] is False
    confs = [a["confidence"] for a in doc["alternatives"]]
    assert confs == sorted(confs, reverse=True)


def test_predict_stdin_lines(small_model):
    texts = ["what is my balance", "I lost my card", "我的卡丢了"]
    p = subprocess.run([KEFU_BIN, "predict", "--model", str(small_model), "--json"],
                       input="\n".join(texts) + "\n", capture_output=True, text=True, timeout=30,
                       env=clean_env())
    assert p.returncode == 0, p.stderr
    rows = [json.loads(l) for l in p.stdout.splitlines()]
    assert [r["text"] for r in rows] == texts
    assert [r["intent"] for r in rows] == ["check_balance", "card_lost", "card_lost"]
    # plain text output: one tab-separated line per input
    p = subprocess.run([KEFU_BIN, "predict", "--model", str(small_model)], input="\n".join(texts) + "\n",
                       capture_output=True, text=True, timeout=30, env=clean_env())
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].split("\t")[0] == "check_balance"


def test_predict_demo_model():
    p = run_cli(["predict", "--model", KEFU_MODEL, "--json", "I lost my card"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["intent"] == "lost_or_stolen_card"


def test_predict_bad_model(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"this is not a model\n")
    p = run_cli(["predict", "--model", str(bad), "hello"])
    assert p.returncode == 1
    assert str(bad) in one_line(p.stderr)
    p = run_cli(["predict", "--model", str(tmp_path / "missing.model"), "hello"])
    assert p.returncode == 1
    assert "missing.model" in one_line(p.stderr)

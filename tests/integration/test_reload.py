"""Hot reload of the model file: SIGHUP and POST /v1/admin/reload under
load lose no request; a different model file takes over; a corrupt, truncated
or missing file is refused (500) and the old model keeps serving."""
import os
import shutil
import signal
import threading
import time

import pytest
import requests

from conftest import KEFU_MODEL, REPO, intent_body, run_cli

LOAD_SECONDS = 2.0


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("reload") / "small.model"
    p = run_cli(["train", "--data", os.path.join(REPO, "tests", "fixtures", "nlu", "small.csv"),
                 "--out", str(out), "--quiet", "--threads", "1"], timeout=120)
    assert p.returncode == 0, p.stderr
    return out


@pytest.fixture
def model_copy(tmp_path):
    path = tmp_path / "serving.model"
    shutil.copyfile(KEFU_MODEL, path)
    return path


def answer(k, query="I lost my card"):
    r = k.post("/v1/intent", json=intent_body(query))
    assert r.status_code == 200, r.text
    return r.json()


def replace_file(src, dst):
    """Atomic replacement, as a deploy script would do it."""
    tmp = str(dst) + ".new"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def wait_version(k, differs_from, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = answer(k)["model_version"]
        if v != differs_from:
            return v
        time.sleep(0.05)
    raise AssertionError(f"model_version still {differs_from} after {timeout}s\n{k.log()}")


def test_reload_under_load_loses_nothing(start_kefu, model_copy):
    k = start_kefu(model=model_copy)
    version = answer(k)["model_version"]
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"ok": 0, "failures": []}

    def client():
        with requests.Session() as s:
            deadline = time.monotonic() + LOAD_SECONDS + 5  # hard bound even if stop is never set
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = s.post(k.url("/v1/intent"), json=intent_body("my card was stolen"), timeout=10)
                    ok = r.status_code == 200 and r.json()["intent"] == "lost_or_stolen_card"
                    err = None if ok else f"{r.status_code} {r.text[:200]}"
                except requests.RequestException as e:
                    err = repr(e)
                with lock:
                    if err:
                        stats["failures"].append(err)
                    else:
                        stats["ok"] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    reloads = 0
    try:
        end = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < end:
            k.signal(signal.SIGHUP)
            r = requests.post(k.url("/v1/admin/reload"), timeout=10)
            assert r.status_code == 200, r.text
            assert r.json() == {"status": "reloaded", "model_version": version}
            reloads += 1
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert not any(t.is_alive() for t in threads)
    assert stats["failures"] == [], stats["failures"][:5]
    assert stats["ok"] > 0
    assert reloads >= 2
    # every reload loaded the file again (initial load + SIGHUPs + POSTs)
    loaded = [r for r in k.log_records() if r.get("msg") == "model loaded"]
    assert len(loaded) >= 1 + reloads, (len(loaded), reloads)
    assert k.proc.poll() is None
    assert answer(k)["model_version"] == version


def test_new_model_file_via_admin_reload(start_kefu, model_copy, small_model):
    k = start_kefu(model=model_copy)
    before = answer(k)
    assert before["intent"] == "lost_or_stolen_card"
    replace_file(small_model, model_copy)
    # not picked up until asked
    assert answer(k)["model_version"] == before["model_version"]
    r = k.post("/v1/admin/reload")
    assert r.status_code == 200, r.text
    new_version = r.json()["model_version"]
    assert new_version != before["model_version"]
    after = answer(k)
    assert after["model_version"] == new_version
    assert after["intent"] == "card_lost"  # the small model's label set
    # and back again
    replace_file(KEFU_MODEL, model_copy)
    assert k.post("/v1/admin/reload").json()["model_version"] == before["model_version"]
    assert answer(k) == before


def test_new_model_file_via_sighup(start_kefu, model_copy, small_model):
    k = start_kefu(model=model_copy)
    old = answer(k)["model_version"]
    replace_file(small_model, model_copy)
    k.signal(signal.SIGHUP)
    new = wait_version(k, old)
    assert answer(k)["intent"] == "card_lost"
    k.wait_log(lambda r: r.get("msg") == "model loaded" and r.get("version") == new, what="model loaded line")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bitflip", "empty", "missing"])
def test_bad_model_file_keeps_old_model(start_kefu, model_copy, damage):
    k = start_kefu(model=model_copy)
    before = answer(k)
    data = open(KEFU_MODEL, "rb").read()
    if damage == "garbage":
        model_copy.write_bytes(b"this is not a model file\n" * 10)
    elif damage == "truncated":
        model_copy.write_bytes(data[: len(data) // 2])
    elif damage == "bitflip":
        i = len(data) * 2 // 3
        model_copy.write_bytes(data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1:])
    elif damage == "empty":
        model_copy.write_bytes(b"")
    else:
        model_copy.unlink()
    r = k.post("/v1/admin/reload")
    assert r.status_code == 500, r.text
    assert r.headers["content-type"].startswith("application/json")
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "previous model" in detail
    assert answer(k) == before
    # SIGHUP with the same bad file: logged, old model still serving
    k.signal(signal.SIGHUP)
    k.wait_log(lambda l: l.get("level") == "error" and "reload failed" in l.get("msg", ""), what="reload failure")
    assert answer(k) == before
    assert k.get("/ready").status_code == 200
    # repaired: the next reload works
    shutil.copyfile(KEFU_MODEL, model_copy)
    r = k.post("/v1/admin/reload")
    assert r.status_code == 200, r.text
    assert r.json()["model_version"] == before["model_version"]

"""Error answers, all JSON: 404, 405 + Allow, 415, 413, 422 (FastAPI/pydantic-v2 shaped)."""
import json

import pytest

from conftest import SESSION, intent_body

JSON = {"content-type": "application/json"}


def errors(r):
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body.get("detail"), list) and body["detail"], body
    for e in body["detail"]:
        for key in ("type", "loc", "msg"):
            assert key in e, (key, e)
        assert isinstance(e["loc"], list) and e["loc"][0] == "body", e
        assert isinstance(e["msg"], str) and e["msg"]
    return body["detail"]


def by_loc(detail):
    return {tuple(e["loc"]): e for e in detail}


def test_unknown_path_404(kefu):
    for p in ("/nope", "/v1/intentx", "/v1", "/health/extra"):
        r = kefu.get(p)
        assert r.status_code == 404, p
        assert r.headers["content-type"].startswith("application/json")
        assert r.json() == {"detail": "Not Found"}
    assert kefu.post("/nope", json={}).json() == {"detail": "Not Found"}


def test_wrong_method_405_with_allow(kefu):
    r = kefu.get("/v1/intent")
    assert r.status_code == 405
    assert r.json() == {"detail": "Method Not Allowed"}
    assert "POST" in [m.strip() for m in r.headers["allow"].split(",")]
    r = kefu.post("/health", json={})
    assert r.status_code == 405
    assert r.json() == {"detail": "Method Not Allowed"}
    assert "GET" in [m.strip() for m in r.headers["allow"].split(",")]
    import requests
    r = requests.delete(kefu.url("/v1/admin/reload"), timeout=10)
    assert r.status_code == 405 and "POST" in r.headers["allow"]


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_415(kefu, ctype):
    headers = {"content-type": ctype} if ctype else {}
    r = kefu.post("/v1/intent", data=json.dumps(intent_body()).encode(), headers=headers)
    if ctype is None:
        # requests sends no Content-Type for raw bytes
        assert "content-type" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 415, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert isinstance(r.json()["detail"], (str, list))


def test_json_content_type_with_charset_accepted(kefu):
    r = kefu.post("/v1/intent", data=json.dumps(intent_body()).encode(),
                  headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text


def test_body_too_large_413_default(kefu):
    big = intent_body(context={"pad": "x" * 70000})
    r = kefu.post("/v1/intent", json=big)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/json")
    assert "detail" in r.json()
    # the server still serves
    assert kefu.post("/v1/intent", json=intent_body()).status_code == 200


def test_body_too_large_413_flag(start_kefu):
    k = start_kefu("--max-body", "1024")
    assert k.post("/v1/intent", json=intent_body(context={"pad": "x" * 600})).status_code == 200
    r = k.post("/v1/intent", json=intent_body(context={"pad": "x" * 2000}))
    assert r.status_code == 413
    assert "detail" in r.json()


def test_body_too_large_chunked_413(start_kefu):
    k = start_kefu("--max-body", "1024")

    def gen():
        for _ in range(10):
            yield b'{"pad":"' + b"y" * 500 + b'"}'
    r = k.post("/v1/intent", data=gen(), headers=JSON)
    assert r.status_code == 413


def test_missing_fields(kefu):
    d = by_loc(errors(kefu.post("/v1/intent", json={})))
    assert set(d) == {("body", "query"), ("body", "session_id")}
    for e in d.values():
        assert e["type"] == "missing"
        assert e["msg"] == "Field required"
        assert e.get("input") == {}


def test_every_error_listed(kefu):
    d = by_loc(errors(kefu.post("/v1/intent", json={"query": "", "session_id": "XYZ", "context": 5})))
    assert d[("body", "query")]["type"] == "string_too_short"
    assert d[("body", "session_id")]["type"] == "string_pattern_mismatch"
    assert d[("body", "context")]["type"] == "dict_type"
    assert len(d) == 3


def test_query_too_short(kefu):
    e = by_loc(errors(kefu.post("/v1/intent", json=intent_body(""))))[("body", "query")]
    assert e["type"] == "string_too_short"
    assert e["input"] == ""
    assert e.get("ctx", {}).get("min_length") == 1


def test_query_too_long_counts_code_points(kefu):
    e = by_loc(errors(kefu.post("/v1/intent", json=intent_body("a" * 201))))[("body", "query")]
    assert e["type"] == "string_too_long"
    assert e.get("ctx", {}).get("max_length") == 200
    # 200 Chinese characters are 600 bytes but 200 code points: accepted
    assert kefu.post("/v1/intent", json=intent_body("卡" * 200)).status_code == 200
    assert kefu.post("/v1/intent", json=intent_body("a" * 200)).status_code == 200
    e = by_loc(errors(kefu.post("/v1/intent", json=intent_body("卡" * 201))))[("body", "query")]
    assert e["type"] == "string_too_long"
    # emoji outside the BMP are one code point each
    assert kefu.post("/v1/intent", json=intent_body("💳" * 200)).status_code == 200


@pytest.mark.parametrize("sid", ["", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcde",
                                 "0123456789abcdef0123456789abcdef0", "g123456789abcdef0123456789abcdef",
                                 "0123456789abcdef0123456789abcdef\n"])
def test_session_id_pattern(kefu, sid):
    e = by_loc(errors(kefu.post("/v1/intent", json={"query": "hi", "session_id": sid})))[("body", "session_id")]
    assert e["type"] == "string_pattern_mismatch"
    assert e["input"] == sid
    assert e.get("ctx", {}).get("pattern") == "^[a-f0-9]{32}$"


@pytest.mark.parametrize("field,value", [("query", 5), ("query", None), ("query", ["a"]),
                                         ("session_id", 123), ("session_id", True)])
def test_string_type(kefu, field, value):
    body = intent_body()
    body[field] = value
    e = by_loc(errors(kefu.post("/v1/intent", json=body)))[("body", field)]
    assert e["type"] == "string_type"
    assert e["msg"] == "Input should be a valid string"
    assert e["input"] == value


@pytest.mark.parametrize("value", [5, "x", [1], True])
def test_context_dict_type(kefu, value):
    e = by_loc(errors(kefu.post("/v1/intent", json=intent_body(context=value))))[("body", "context")]
    assert e["type"] == "dict_type"
    assert e["input"] == value


def test_context_default_and_nested_ok(kefu):
    assert kefu.post("/v1/intent", json=intent_body(context={})).status_code == 200
    assert kefu.post("/v1/intent", json=intent_body(context={"a": {"b": [1, 2, None]}})).status_code == 200


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null", "true"])
def test_body_not_an_object(kefu, body):
    d = errors(kefu.post("/v1/intent", data=body, headers=JSON))
    assert len(d) == 1
    assert d[0]["loc"] == ["body"]
    assert d[0]["type"] == "model_attributes_type"
    assert d[0]["input"] == json.loads(body)


@pytest.mark.parametrize("raw,offset", [('{"query": "x",', 14), ("{", 1), ('{"query" "x"}', 9),
                                        ('{"query": "x"}}', 14), ('{"a": tru}', 6)])
def test_malformed_json(kefu, raw, offset):
    d = errors(kefu.post("/v1/intent", data=raw.encode(), headers=JSON))
    assert len(d) == 1
    assert d[0]["type"] == "json_invalid"
    assert d[0]["loc"][0] == "body"
    assert isinstance(d[0]["loc"][1], int)
    assert d[0]["loc"][1] == offset, d[0]


def test_invalid_utf8_body(kefu):
    raw = b'{"query": "\xff\xfe", "session_id": "' + SESSION.encode() + b'"}'
    r = kefu.post("/v1/intent", data=raw, headers=JSON)
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "file:///etc/passwd", "javascript:alert(1)"])
def test_callback_url_must_be_http(kefu, url):
    r = kefu.post("/v1/intent?async=true", json=intent_body(callback_url=url))
    d = by_loc(errors(r))
    assert ("body", "callback_url") in d


def test_errors_do_not_crash_server(kefu):
    junk = [b"\x00" * 100, b"{" * 5000, b'{"query":' * 1000, b"[" * 10000 + b"]" * 10000]
    for raw in junk:
        r = kefu.post("/v1/intent", data=raw, headers=JSON)
        assert r.status_code in (413, 422), (raw[:20], r.status_code)
    assert kefu.get("/health").status_code == 200


@pytest.mark.parametrize("query", ["\u0000lost card", "lost card\u0000 and more"])
def test_nul_in_string_is_refused_not_truncated(kefu, query):
    raw = json.dumps({"query": query, "session_id": SESSION})  # json.dumps writes \u0000
    assert "\\u0000" in raw
    d = errors(kefu.post("/v1/intent", data=raw.encode(), headers=JSON))
    assert len(d) == 1 and d[0]["type"] == "json_invalid", d
    assert "NUL" in d[0]["ctx"]["error"], d
    assert d[0]["loc"] == ["body", raw.index("\\u0000")]

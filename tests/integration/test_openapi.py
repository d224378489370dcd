"""GET /openapi.json (OpenAPI 3.1, linted by @redocly/cli) and GET /docs."""
import json
import os
import re
import subprocess

from conftest import REPO

ROUTES = {"/health": "get", "/ready": "get", "/metrics": "get", "/v1/intent": "post",
          "/v1/jobs/{job_id}": "get", "/v1/admin/reload": "post"}


def test_openapi_document(kefu):
    r = kefu.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    for path, method in ROUTES.items():
        assert path in doc["paths"], path
        assert method in doc["paths"][path], (path, method)


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/")
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def test_intent_schema_matches_validation(kefu):
    doc = kefu.get("/openapi.json").json()
    op = doc["paths"]["/v1/intent"]["post"]
    schema = resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
    props = schema["properties"]
    assert set(schema["required"]) >= {"query", "session_id"}
    q = resolve(doc, props["query"])
    assert q["type"] == "string" and q["minLength"] == 1 and q["maxLength"] == 200
    s = resolve(doc, props["session_id"])
    assert s["pattern"] == "^[a-f0-9]{32}$"
    assert resolve(doc, props["context"])["type"] == "object"
    assert "callback_url" in props
    assert "422" in op["responses"] and "200" in op["responses"]
    params = op.get("parameters", [])
    assert any(p["name"] == "async" and p["in"] == "query" for p in params)
    job = doc["paths"]["/v1/jobs/{job_id}"]["get"]
    assert any(p["name"] == "job_id" and p["in"] == "path" and p.get("required") for p in job["parameters"])


def test_openapi_redocly_lint(kefu, node_bin, tmp_path):
    spec = tmp_path / "openapi.json"
    spec.write_bytes(kefu.get("/openapi.json").content)
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
               NO_COLOR="1", CI="true")
    p = subprocess.run([os.path.join(node_bin, "redocly"), "lint", "--format", "stylish", str(spec)],
                       capture_output=True, text=True, timeout=180, cwd=str(tmp_path), env=env)
    assert p.returncode == 0, f"redocly lint failed:\n{p.stdout}\n{p.stderr}"


def test_docs_page(kefu):
    r = kefu.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "/static/vendor/redoc.standalone.js" in html
    assert "/openapi.json" in html
    # nothing loaded from elsewhere (no CDN)
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html, re.I)
    b = kefu.get("/static/vendor/redoc.standalone.js")
    assert b.status_code == 200 and len(b.content) > 100000
    assert "javascript" in b.headers["content-type"]


def test_docs_page_is_the_repo_file(kefu):
    with open(os.path.join(REPO, "web", "docs.html"), "rb") as f:
        assert kefu.get("/docs").content == f.read()

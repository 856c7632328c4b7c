"""/docs and /redoc work without internet access, and the OpenAPI tells the truth about every operation: its
summary, the roles that may call it, an example body that the service accepts, and errors in the shape the
service really sends (`{"error": {...}}`)."""

from __future__ import annotations

import re
import shutil
import threading
import time
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from pvoice.serving import create_app
from pvoice.serving.api import ROUTERS
from pvoice.serving.api.schemas.errors import ErrorResponse
from pvoice.serving.routing import CHANNELS
from serving_support import FakeSender, Harness, ManualClock, make_settings

ROLES = ("intake", "agent", "manager", "admin")
ERROR_REF = "#/components/schemas/ErrorResponse"


def _app(tmp_path, tiny_model_dir, scripted):
    return create_app(make_settings(tmp_path, tiny_model_dir), clock=ManualClock(),
                      senders={c: FakeSender(c) for c in CHANNELS}, classifier=scripted, start_workers=False)


@pytest.fixture
def svc(tmp_path, tiny_model_dir, scripted):
    app = _app(tmp_path, tiny_model_dir, scripted)
    with TestClient(app) as client:
        yield Harness(app, client)


def _operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)


# ---- offline pages ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(svc, page):
    response = svc.client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    # nothing that a browser would fetch from another host: no scheme, no protocol-relative URL
    assert not re.search(r"""['"(]\s*(https?:)?//""", html), html
    urls = _asset_urls(html)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts and all(u.startswith("/docs/assets/") for u in scripts), urls
    for url in urls:
        assert not urlsplit(url).netloc, url
        fetched = svc.client.get(url)
        assert fetched.status_code == 200, url
        assert len(fetched.content) > 1000 or url.endswith(".json"), url


def test_docs_assets_are_real_swagger_and_redoc(svc):
    js = svc.client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and "SwaggerUIBundle" in js.text
    assert "javascript" in js.headers["content-type"]
    assert svc.client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert "Redoc" in svc.client.get("/docs/assets/redoc.standalone.js").text
    assert svc.client.get("/docs/oauth2-redirect").status_code == 200


def test_docs_follow_a_proxy_prefix(tmp_path, tiny_model_dir, scripted):
    app = _app(tmp_path, tiny_model_dir, scripted)
    with TestClient(app, root_path="/pvoice") as client:
        html = client.get("/docs").text
    assert "/pvoice/docs/assets/swagger-ui-bundle.js" in html and "/pvoice/openapi.json" in html


# ---- the OpenAPI, operation by operation -----------------------------------------------------------------------
def test_every_route_has_its_own_summary():
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 20
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if not r.summary]
    assert not missing, f"routes without summary=: {missing}"


def test_every_operation_documents_roles_errors_and_examples(svc):
    schema = svc.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(schema), "FastAPI's {'detail': ...} 422 is not what the service sends"
    error = schema["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert {"code", "message", "field", "errors"} <= set(detail["properties"])
    count = 0
    for path, method, op in _operations(schema):
        count += 1
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert "x-roles" in op and set(op["x-roles"]) <= set(ROLES), where
        assert ("**Roles:**" if op["x-roles"] else "**No key needed**") in op["description"], where
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        if path.startswith("/v1/"):
            assert op["x-roles"], where
            assert {"401", "503"} <= set(errors), where
            if set(op["x-roles"]) != set(ROLES):
                assert "403" in errors, where
        if "{" in path:
            assert {"404", "422"} <= set(errors), where
        if op.get("parameters"):
            assert "422" in errors, where
        if "requestBody" in op:
            assert {"400", "408", "413", "422"} <= set(errors), where
            assert op["requestBody"]["content"]["application/json"].get("example"), where
        for status, response in errors.items():
            if path == "/readyz":
                continue
            media = response["content"]["application/json"]
            assert media["schema"] == {"$ref": ERROR_REF}, (where, status)
            for example in media["examples"].values():
                ErrorResponse.model_validate(example["value"])  # the examples are in the real shape
    assert count == 21
    paths = schema["paths"]
    assert "409" in paths["/v1/cases/{case_id}/resolve"]["post"]["responses"]
    assert "409" in paths["/v1/alerts/{alert_id}/retry"]["post"]["responses"]
    assert "503" in paths["/readyz"]["get"]["responses"]
    assert "not_ready" in str(paths["/v1/classify"]["post"]["responses"]["503"])
    assert "not_ready" not in str(paths["/v1/cases"]["get"]["responses"]["503"])


def test_documented_roles_and_examples_are_what_the_service_does(svc):
    """Each operation, called by each role with its documented example: a role outside `x-roles` gets 403,
    a role inside never does, and no example is refused as invalid."""
    schema = svc.client.get("/openapi.json").json()
    svc.comment("护士给我妈输错了液，到现在没人给个说法！")  # a comment and a case with id 1 exist
    spare = svc.post("admin", "/v1/keys", {"role": "agent"}).json()["id"]  # the one the DELETE revokes
    for path, method, op in _operations(schema):
        if not path.startswith("/v1/"):
            continue
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
        url = re.sub(r"\{[^}]+\}", "1", path.replace("{key_id}", str(spare)))
        for role in ROLES:
            response = svc.client.request(method, url, json=body, headers=svc.headers(role))
            where = f"{role} {method.upper()} {path}: {response.status_code} {response.text[:200]}"
            if role in op["x-roles"]:
                assert response.status_code not in (401, 403, 422), where
                assert response.status_code < 500, where
                assert str(response.status_code) in op["responses"], where
            else:
                assert response.status_code == 403, where
                ErrorResponse.model_validate(response.json())


def test_real_error_bodies_match_the_documented_schema(svc):
    cases = [
        svc.client.get("/v1/cases"),  # no key: 401
        svc.get("intake", "/v1/cases"),  # 403
        svc.get("agent", "/v1/cases/999"),  # 404
        svc.post("intake", "/v1/comments", {"comments": [{"text": "x", "channel": "fax"}]}),  # 422
        svc.get("agent", "/v1/cases?limit=0"),  # 422 on a query parameter
        svc.client.post("/v1/classify", content=b"\x80abc", headers={  # 400: not UTF-8 though it says so
            **svc.headers("intake"), "content-type": "application/json; charset=utf-8"}),
    ]
    assert [r.status_code for r in cases] == [401, 403, 404, 422, 422, 400]
    for response in cases:
        body = ErrorResponse.model_validate(response.json())
        assert "detail" not in response.json()
        if response.status_code == 422:
            assert body.error.code == "invalid_input" and body.error.field and body.error.errors


# ---- a real browser, offline -----------------------------------------------------------------------------------
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(BROWSER is None, reason="no chromium on this machine")
def test_swagger_ui_renders_every_operation_in_a_browser(tmp_path, tiny_model_dir, scripted):
    app = _app(tmp_path, tiny_model_dir, scripted)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=BROWSER, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            outside = []  # any request to another host: there must be none
            page.on("request", lambda r: outside.append(r.url) if "127.0.0.1" not in r.url else None)
            page.goto(f"http://127.0.0.1:{port}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            dom = page.content()
            browser.close()
        assert outside == []
    finally:
        server.should_exit = True
        thread.join(10)
    # Swagger UI has fetched /openapi.json and drawn one block per operation: its scripts ran offline
    assert dom.count('class="opblock opblock-') >= 20, dom[-2000:]
    assert "/v1/comments/{comment_id}/labels" in dom

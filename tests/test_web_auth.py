"""Signing in to the web app: a session per API key in the database behind an HttpOnly, SameSite=Strict,
Secure cookie; CSRF tokens on every state-changing request; the API's roles page by page. Through TestClient
for status codes and what is stored, and in Chromium against a real `pvoice serve` for what a user sees."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pvoice.serving import create_app
from pvoice.serving.db.models import ApiKey, WebSession
from pvoice.serving.errors import ConfigError
from pvoice.serving.main import check_secrets
from pvoice.serving.routing import CHANNELS
from serving_support import FakeSender, Harness, ManualClock, make_settings, scripted_app
from web_support import client_sign_in, form_token, message_in, path_of, shot, sign_in, sign_out

LANDING = {"agent": "/app/cases", "manager": "/app/dashboard", "admin": "/app/admin"}
ROLE_NAMES = {"agent": "客服专员", "manager": "管理人员", "admin": "系统管理员"}


@pytest.fixture
def web(tmp_path, tiny_model_dir, scripted):
    app, _ = scripted_app(tmp_path, tiny_model_dir, scripted)
    # https: the session cookie is Secure, and a client keeps it for https only
    with TestClient(app, base_url="https://testserver") as client:
        yield Harness(app, client)


def _count(web, model) -> int:
    with web.ctx.factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def _signed_in(web, role: str):
    response = client_sign_in(web.client, web.keys[role])
    assert response.status_code == 303, response.text
    return response


# ---- sign-in ------------------------------------------------------------------------------------------------
def test_the_login_page_has_one_password_field(web):
    html = web.client.get("/app/login").text
    assert html.count("<input") - html.count('type="hidden"') == 1 and 'type="password"' in html


@pytest.mark.parametrize("role", sorted(LANDING))
def test_signing_in_lands_on_the_roles_page_with_a_safe_cookie(web, role):
    response = _signed_in(web, role)
    assert response.headers["location"] == LANDING[role]
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pvoice_session="))
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert {"httponly", "secure", "max-age", "path"} <= set(flags)
    assert "samesite=strict" in cookie.lower() and flags["max-age"].strip() == "Max-Age=28800"
    page = web.client.get(LANDING[role])
    assert page.status_code == 200
    with web.ctx.factory() as session:
        row = session.scalar(select(WebSession))
    token = web.client.cookies.get("pvoice_session")
    assert row.role == role and token and token not in (row.token_hash, row.csrf_token)  # only a hash is kept


def test_a_bad_key_is_401_with_a_message_and_no_session(web):
    response = client_sign_in(web.client, "pv_not-a-key")
    assert response.status_code == 401 and "密钥无效" in response.text
    assert _count(web, WebSession) == 0


def test_an_intake_key_has_no_pages(web):
    response = client_sign_in(web.client, web.keys["intake"])
    assert response.status_code == 403 and "没有页面" in response.text
    assert _count(web, WebSession) == 0


def test_the_login_form_needs_its_csrf_token(web):
    web.client.get("/app/login")  # the cookie half of the double submit, without the form's half
    response = web.client.post("/app/login", data={"key": web.keys["agent"]}, follow_redirects=False)
    assert response.status_code == 403 and "CSRF" in response.text
    response = web.client.post("/app/login", data={"key": web.keys["agent"], "csrf_token": "forged"},
                               follow_redirects=False)
    assert response.status_code == 403
    assert _count(web, WebSession) == 0


def test_after_signing_in_only_a_path_of_the_app_may_follow(web):
    assert client_sign_in(web.client, web.keys["agent"], next="/app/cases?status=open").headers["location"] \
        == "/app/cases?status=open"
    web.client.cookies.clear()
    for bad in ("//evil.example/app/", "https://evil.example/", "/\\evil.example"):
        assert client_sign_in(web.client, web.keys["agent"], next=bad).headers["location"] == "/app/cases"
        web.client.cookies.clear()


# ---- sessions that are not (or no longer) valid ----------------------------------------------------------
def test_no_session_sends_pages_to_the_login_page_and_fetch_calls_get_401(web):
    response = web.client.get("/app/cases?status=open", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login?reason=required&next=%2Fapp%2Fcases%3Fstatus%3Dopen"
    assert "请先登录" in web.client.get(response.headers["location"]).text
    fetch = web.client.get("/app/cases", headers={"Accept": "application/json"}, follow_redirects=False)
    assert fetch.status_code == 401 and fetch.json()["error"]["code"] == "unauthorized"


def _login_notice(web, location: str) -> str:
    login = web.client.get(location)
    assert login.status_code == 200 and 'type="password"' in login.text
    notice = re.search(r'<p class="notice" role="status">([^<]*)</p>', login.text)
    assert notice, "no notice on the login page"
    return notice.group(1)


def test_a_forged_session_cookie_is_sent_to_the_login_page(web):
    web.client.cookies.set("pvoice_session", "forged-token")
    response = web.client.get("/app/cases", follow_redirects=False)
    assert response.status_code == 303 and "reason=unknown" in response.headers["location"]
    assert _login_notice(web, response.headers["location"]) == "登录状态无效，请重新登录。"
    assert _count(web, WebSession) == 0
    fetch = web.client.get("/app/api/cases", follow_redirects=False)  # the API's JSON, in its English
    assert fetch.status_code == 401 and fetch.json()["error"] == {"code": "unauthorized", "message": "unknown session"}


def test_an_expired_session_is_sent_to_the_login_page(web):
    _signed_in(web, "agent")
    assert web.client.get("/app/cases").status_code == 200
    web.ctx.clock.advance(hours=8, seconds=1)
    response = web.client.get("/app/cases", follow_redirects=False)
    assert response.status_code == 303 and "reason=expired" in response.headers["location"]
    assert _login_notice(web, response.headers["location"]) == "登录已过期，请重新登录。"
    assert _count(web, WebSession) == 1  # the expired one: refusing it opened no other


def test_revoking_the_key_ends_its_sessions(web):
    _signed_in(web, "agent")
    with web.ctx.factory() as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.role == "agent"))
    assert web.client.delete(f"/v1/keys/{key_id}", headers=web.headers("admin")).status_code == 200
    response = web.client.get("/app/cases", follow_redirects=False)
    assert response.status_code == 303 and "reason=key_revoked" in response.headers["location"]
    assert _login_notice(web, response.headers["location"]) == "该密钥已被吊销，请使用新的密钥登录。"


def test_signing_out_revokes_the_session_on_the_server(web):
    _signed_in(web, "agent")
    token = web.client.cookies.get("pvoice_session")
    csrf = form_token(web.client.get("/app/cases").text)
    response = web.client.post("/app/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and "reason=signed_out" in response.headers["location"]
    with web.ctx.factory() as session:
        assert session.scalar(select(WebSession)).revoked_at is not None
    web.client.cookies.set("pvoice_session", token)  # a copy of the old cookie
    response = web.client.get("/app/cases", follow_redirects=False)
    assert response.status_code == 303 and "reason=signed_out" in response.headers["location"]


# ---- CSRF and roles -------------------------------------------------------------------------------------------
def test_a_state_change_without_the_csrf_token_is_403_and_stores_nothing(web):
    _signed_in(web, "admin")
    keys_before = _count(web, ApiKey)
    for data in ({"role": "agent", "name": "x"}, {"role": "agent", "name": "x", "csrf_token": "wrong"}):
        response = web.client.post("/app/admin/keys", data=data)
        assert response.status_code == 403
        assert message_in(response.text) == "缺少或错误的 CSRF 令牌，操作没有执行。请刷新页面后重试。"
    fetch = web.client.post("/app/admin/keys", data={"role": "agent"}, headers={"Accept": "application/json"})
    assert fetch.status_code == 403 and fetch.json()["error"]["code"] == "csrf_refused"
    assert fetch.json()["error"]["message"].startswith("missing or wrong CSRF token")  # fetch calls: the API's words
    assert web.client.post("/app/logout", data={}, follow_redirects=False).status_code == 403
    assert _count(web, ApiKey) == keys_before
    assert web.client.get("/app/admin").status_code == 200  # still signed in: the logout was refused too
    csrf = form_token(web.client.get("/app/admin").text)
    created = web.client.post("/app/admin/keys", data={"role": "agent", "name": "新客服", "csrf_token": csrf})
    assert created.status_code == 201 and "pv_" in created.text and _count(web, ApiKey) == keys_before + 1


@pytest.mark.parametrize(("role", "path"), [("agent", "/app/dashboard"), ("agent", "/app/admin"),
                                            ("agent", "/app/review"), ("manager", "/app/admin"),
                                            ("admin", "/app/dashboard"), ("admin", "/app/review")])
def test_a_role_opening_a_page_it_may_not_see_gets_403(web, role, path):
    _signed_in(web, role)
    response = web.client.get(path)
    assert response.status_code == 403 and "没有权限" in response.text
    assert message_in(response.text) == f"当前角色（{ROLE_NAMES[role]}）不能打开或操作此页面。"


def test_every_domain_error_has_words_in_the_pages():
    from pvoice.serving.errors import DomainError
    from pvoice.serving.web.deps import CsrfRefused
    from pvoice.serving.web.errors import MESSAGES

    def codes(cls) -> set[str]:
        return {cls.code}.union(*(codes(sub) for sub in cls.__subclasses__()))

    assert CsrfRefused.code in codes(DomainError)
    assert codes(DomainError) - {DomainError.code} <= set(MESSAGES)


def test_the_nav_lists_only_the_roles_pages(web):
    _signed_in(web, "agent")
    html = web.client.get("/app/cases").text
    assert 'href="/app/cases"' in html and 'href="/app/dashboard"' not in html and 'href="/app/admin"' not in html


def test_production_refuses_a_session_cookie_that_is_not_secure(tmp_path, tiny_model_dir):
    settings = make_settings(tmp_path, tiny_model_dir, environment="production", api_key_pepper="p" * 20,
                             patient_ref_salt="s" * 20, session_cookie_secure=False)
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SECURE"):
        check_secrets(settings)


# ---- in a browser, against `pvoice serve` ------------------------------------------------------------------
@pytest.mark.parametrize("role", sorted(LANDING))
def test_in_a_browser_each_role_signs_in_to_its_page_and_out_again(web_server, page, role):
    sign_in(page, web_server, web_server.keys[role])
    assert path_of(page) == LANDING[role]
    assert page.locator(".role").get_attribute("data-role") == role
    shot(page, f"signed-in-{role}")
    sign_out(page)
    assert path_of(page) == "/app/login" and "您已退出登录" in page.content()
    page.goto(f"{web_server.url}{LANDING[role]}")
    assert path_of(page) == "/app/login"  # the session is gone on the server, not only in the browser


def test_in_a_browser_a_bad_key_shows_a_message(web_server, page):
    page.goto(f"{web_server.url}/app/login")
    shot(page, "login")
    page.fill("input[type=password]", "pv_wrong")
    with page.expect_response(lambda r: r.url.endswith("/app/login") and r.request.method == "POST") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401
    assert "密钥无效" in page.locator("#login-error").inner_text()
    shot(page, "login-bad-key")


def test_in_a_browser_a_forbidden_page_says_so(web_server, page):
    sign_in(page, web_server, web_server.keys["agent"])
    response = page.goto(f"{web_server.url}/app/dashboard")
    assert response.status == 403 and "没有权限" in page.locator("h1").inner_text()
    shot(page, "forbidden")


def test_pages_go_through_the_request_guard_without_an_api_key(web):
    response = web.client.get("/app/login")
    assert response.status_code == 200 and response.headers["x-request-id"]
    too_big = web.client.post("/app/login", content=b"k" * 20, headers={"Content-Length": str(11 * 1024 * 1024),
                                                                        "Content-Type": "text/plain"})
    assert too_big.status_code == 413


# ---- the admin page: keys and routing -------------------------------------------------------------------------
def test_an_admin_rereads_the_routing_file_from_the_page_and_a_broken_file_changes_nothing(web):
    _signed_in(web, "admin")
    csrf = form_token(web.client.get("/app/admin").text)
    response = web.client.post("/app/admin/routing/reload", data={"csrf_token": csrf})
    assert response.status_code == 200 and "已重新读取路由文件：6 人，3 条路由" in response.text
    routing = web.ctx.routing
    web.ctx.settings.routing_path.write_text("routes: [", encoding="utf-8")
    broken = web.client.post("/app/admin/routing/reload", data={"csrf_token": csrf})
    assert broken.status_code == 422 and web.ctx.routing is routing
    assert message_in(broken.text, "admin-error").startswith("路由文件有误，仍使用原来的路由。")
    assert message_in(broken.text, "admin-error-detail")  # the parser's words, for the admin who fixes the file
    assert web.client.post("/app/admin/routing/reload", data={}).status_code == 403


def test_the_packaged_routing_file_can_be_reread_through_the_api(tmp_path, tiny_model_dir, scripted):
    # PVOICE_ROUTING_PATH unset: the file installed with the package (the reload used to fail with a 500 here)
    app = create_app(make_settings(tmp_path, tiny_model_dir, routing_path=None), clock=ManualClock(),
                     senders={c: FakeSender(c) for c in CHANNELS}, classifier=scripted, start_workers=False)
    with TestClient(app) as client:
        harness = Harness(app, client)
        response = harness.post("admin", "/v1/routing/reload")
    assert response.status_code == 200 and response.json()["routes"] > 0

"""Signing in with an API key, signing out, and `/app` itself (the role's landing page)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from pvoice.serving.api.deps import ContextDep
from pvoice.serving.db.engine import transaction
from pvoice.serving.errors import Forbidden, Unauthorized
from pvoice.serving.services.web_sessions import SessionRefused, session_of, sign_in, sign_out
from pvoice.serving.web.deps import (
    COOKIE_PATH, CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE, CsrfChecked, tokens_match,
)
from pvoice.serving.web.errors import SESSION_MESSAGES, login_redirect, safe_next
from pvoice.serving.web.pages import LANDING, LOGIN_PATH, landing_of, render

router = APIRouter(prefix="/app", include_in_schema=False)

LOGIN_CSRF_SECONDS = 3600


def _current(request: Request, ctx) -> object | None:
    """The valid session of this request's cookie, or None (reading the login page needs none)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        with transaction(ctx.factory) as session:
            return session_of(session, token=token, pepper=ctx.settings.api_key_pepper, now=ctx.clock.now())
    except SessionRefused:
        return None


def _login_page(request: Request, ctx, *, status: int = 200, error: str = "", notice: str = "",
                next_path: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status=status, login_csrf=token, error=error, notice=notice,
                      next_path=next_path or "")
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=LOGIN_CSRF_SECONDS, path=LOGIN_PATH, httponly=True,
                        samesite="strict", secure=ctx.settings.session_cookie_secure)
    return response


@router.get("", summary="The web app: the role's page, or the login page")
def app_root(request: Request, ctx: ContextDep) -> Response:
    signed_in = _current(request, ctx)
    if signed_in is None:
        return login_redirect(request, "required")
    return RedirectResponse(landing_of(signed_in.principal) or LOGIN_PATH, status_code=303)


@router.get("/login", summary="The login page: one password field for the API key")
def login_page(request: Request, ctx: ContextDep, reason: str | None = None, next: str | None = None) -> Response:
    signed_in = _current(request, ctx)
    if signed_in is not None:
        return RedirectResponse(safe_next(next) or landing_of(signed_in.principal) or LOGIN_PATH, status_code=303)
    return _login_page(request, ctx, notice=SESSION_MESSAGES.get(reason or "", ""), next_path=safe_next(next))


@router.post("/login", summary="Sign in with an API key")
def login(request: Request, ctx: ContextDep, key: Annotated[str, Form(max_length=200)] = "",
          csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
          next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    next_path = safe_next(next)
    if not tokens_match(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(request, ctx, status=403, next_path=next_path,
                           error="表单已失效（缺少或错误的 CSRF 令牌），请重新输入密钥后登录。")
    if not key.strip():
        return _login_page(request, ctx, status=422, next_path=next_path, error="请输入 API 密钥。")
    try:
        with transaction(ctx.factory) as session:
            signed_in, token = sign_in(session, key=key.strip(), pepper=ctx.settings.api_key_pepper,
                                       hours=ctx.settings.session_hours, now=ctx.clock.now(), roles=LANDING)
    except Unauthorized:
        return _login_page(request, ctx, status=401, next_path=next_path,
                           error="密钥无效或已被吊销，请检查后重试。")
    except Forbidden:
        return _login_page(request, ctx, status=403, next_path=next_path,
                           error="接入系统（intake）的密钥只用于其他系统向接口提交意见，没有页面可以打开。"
                                 "请使用客服专员、管理人员或系统管理员的密钥登录。")
    response = RedirectResponse(next_path or landing_of(signed_in.principal), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(ctx.settings.session_hours * 3600), path=COOKIE_PATH,
                        httponly=True, samesite="strict", secure=ctx.settings.session_cookie_secure)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout", summary="Sign out: the session ends on the server")
def logout(ctx: ContextDep, signed_in: CsrfChecked) -> Response:
    with transaction(ctx.factory) as session:
        sign_out(session, session_id=signed_in.session_id, who=signed_in.principal, now=ctx.clock.now())
    response = RedirectResponse(f"{LOGIN_PATH}?reason=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=ctx.settings.session_cookie_secure)
    return response

"""Errors of the web app, answered as pages in one place (installed into serving/errors.py's handlers).

A page request without a valid session is sent to the login page, saying why; any other error is a page with
the same status code the API would send and a clear message. Fetch calls of the pages (paths under
/app/api/, or asking for JSON) get the API's JSON error body instead."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response

from pvoice.serving.errors import DomainError, validation_errors
from pvoice.serving.services.web_sessions import SessionRefused
from pvoice.serving.web.pages import LOGIN_PATH, render

PREFIX = "/app"
API_PREFIX = "/app/api/"

TITLES = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "找不到该页面", 405: "不支持的操作", 408: "请求超时",
          409: "操作冲突", 413: "内容过大", 422: "输入有误", 503: "服务暂时不可用"}
HINTS = {403: "当前角色不能打开或操作此页面。如需权限，请联系系统管理员。",
         409: "该工单的状态已经变化，请刷新页面后再操作。",
         422: "请检查填写的内容后重试，没有保存任何内容。",
         503: "请稍后重试。"}


def is_page_request(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or "application/json" in request.headers.get("accept", "")


def safe_next(path: str | None) -> str | None:
    """Only a path of this app may follow signing in: never another host (`//evil`, `/\\evil`)."""
    if not path or not path.startswith(PREFIX + "/") or path.startswith(("//", "/\\")) or "\\" in path:
        return None
    return path


def login_redirect(request: Request, reason: str) -> RedirectResponse:
    query = {"reason": reason}
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if safe_next(target):
            query["next"] = target
    return RedirectResponse(f"{LOGIN_PATH}?{urlencode(query)}", status_code=303)


def message_of(exc: Exception) -> str:
    if isinstance(exc, RequestValidationError):
        return "；".join(f"{e['field']}: {e['message']}" for e in validation_errors(exc)) or "invalid request"
    if isinstance(exc, DomainError):
        return exc.message
    return str(getattr(exc, "detail", "") or exc)


def page_error(request: Request, exc: Exception, status: int) -> Response | None:
    if not is_page_request(request) or request.url.path.startswith(PREFIX + "/static/"):
        return None
    if wants_json(request):
        return None
    if isinstance(exc, SessionRefused) or status == 401:
        return login_redirect(request, getattr(exc, "reason", "required"))
    return render(request, "error.html", status=status, title=TITLES.get(status, "出错了"), message=message_of(exc),
                  hint=HINTS.get(status, ""), code=status)

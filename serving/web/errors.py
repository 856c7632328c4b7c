"""Errors of the web app, answered as pages in one place (installed into serving/errors.py's handlers).

A page request without a valid session is sent to the login page, saying why; any other error is a page with
the same status code the API would send and a clear message in Chinese. Fetch calls of the pages (paths under
/app/api/, or asking for JSON) get the API's JSON error body instead.

The API words each error in English and names it by a stable code, which serving/errors.py maps to an HTTP
status. The pages word the same errors here, by that code (and, for bad input, by the field it names), so that
no page shows the service's English and no raise site carries page text: `page_message` is the one way from an
error to what a page says, for the error page and for the pages that show a refusal inside themselves (the
managers' view's filter, the review queue, the admin page)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pvoice.serving.errors import DomainError, error_field, http_code
from pvoice.serving.insights.drilldown import MAX_WORD_CHARS
from pvoice.serving.insights.filters import MAX_DAYS
from pvoice.serving.services.web_sessions import SessionRefused
from pvoice.serving.web.pages import LOGIN_PATH, ROLE_NAMES, render

PREFIX = "/app"
API_PREFIX = "/app/api/"

TITLES = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "找不到该页面", 405: "不支持的操作", 408: "请求超时",
          409: "操作冲突", 413: "内容过大", 422: "输入有误", 503: "服务暂时不可用"}
HINTS = {403: "如需权限，请联系系统管理员。",
         409: "请刷新页面，看清工单现在的状态后再操作。",
         422: "请检查填写的内容后重试，没有保存任何内容。",
         503: "请稍后重试。"}

# by the error's code (serving/errors.py, serving/web/deps.py); `{role}` is the signed-in role's name
MESSAGES = {
    "invalid_input": "输入有误，请检查后重试。",
    "invalid_body": "提交的内容无法读取，请刷新页面后重试。",
    "bad_request": "请求有误，请刷新页面后重试。",
    "unauthorized": "请先登录。",
    "forbidden": "当前角色（{role}）不能打开或操作此页面。",
    "csrf_refused": "缺少或错误的 CSRF 令牌，操作没有执行。请刷新页面后重试。",
    "not_found": "找不到要打开的内容：它不存在，或链接有误。",
    "method_not_allowed": "此页面不支持这个操作。",
    "conflict": "操作没有执行：该内容的状态已经变化（例如工单已被他人确认或解决）。",
    "too_large": "提交的内容过大。",
    "body_timeout": "提交内容用时过长，请重试。",
    "not_ready": "服务正在启动，请稍后重试。",
    "storage_unavailable": "数据库暂时不能处理请求，操作没有执行，请稍后重试。",
}

# why a session was refused (SessionRefused.reason), shown on the login page it is sent to
SESSION_MESSAGES = {
    "required": "请先登录。",
    "unknown": "登录状态无效，请重新登录。",
    "signed_out": "您已退出登录。",
    "expired": "登录已过期，请重新登录。",
    "key_revoked": "该密钥已被吊销，请使用新的密钥登录。",
}

# bad input (code invalid_input), by the field the error names; any page
FIELD_MESSAGES = {
    # the managers' view's filter (serving/insights/filters.py)
    "start": f"开始日期有误：请按 年-月-日 填写（例如 2026-11-16），所选期间最长 {MAX_DAYS} 天。",
    "end": "结束日期有误：请按 年-月-日 填写，且不要早于开始日期。",
    "week": "周次有误：请按 ISO 周填写，例如 2026-W47，且该年要有这一周。",
    "department": "没有意见提到这个科室：请从列表中选择科室。",
    "channel": "未知的渠道：请从列表中选择渠道。",
    "table": "未知的表格：请使用看板上的导出按钮。",
    "format": "未知的导出格式：请使用看板上的导出按钮。",
    # a case's actions, the admin page
    "note": "请填写说明：解决工单要写处理说明（做了什么、如何答复患者），添加备注要写下备注内容。",
    "assignee": "未知的处理人：请从列表中选择路由表中的人员。",
    "role": "未知的角色：请从列表中选择角色。",
    "routing": "路由文件有误，仍使用原来的路由。请修正文件后再重新读取。",
}

# fields a page family words its own way: its longest matching path prefix decides
PAGE_FIELD_MESSAGES = {
    # the fields of a chart's drill-down link (serving/insights/drilldown.py): only a changed link is refused
    "/app/dashboard/drill": {
        "kind": "图表链接有误：没有说明点击的是哪张图。请回到管理看板重新点击。",
        "touchpoint": "图表链接中的触点有误（不在分类表中）。请回到管理看板重新点击。",
        "sentiment": "图表链接中的情感有误。请回到管理看板重新点击。",
        "week": "图表链接中的周有误：应为某周星期一的日期（年-月-日）。请回到管理看板重新点击。",
        "word": f"关键词应为 1 到 {MAX_WORD_CHARS} 个字。请回到管理看板重新点击。",
        "reason": "图表链接中的紧急原因有误。请回到管理看板重新点击。",
        "measure": "图表链接中的 SLA 指标有误。请回到管理看板重新点击。",
        "urgency": "图表链接中的紧急程度有误。请回到管理看板重新点击。",
        "status": "图表链接中的 SLA 状态有误。请回到管理看板重新点击。",
        "offset": "翻页位置有误。请回到管理看板重新点击。",
    },
    # a reviewer's label set (pvoice.labels.validate_labels, the corpus contract)
    "/app/review": {
        "touchpoints": "请至少选择一个触点，且只能选择分类表中的触点。",
        "aspects": "每个选中的触点都要选择它的情感；没有选中的触点不能有情感。",
        "sentiment": "请选择整体情感。",
        "urgency": "请选择紧急程度。",
        "urgent_reasons": "选择「紧急」时至少选择一个紧急原因；不紧急时不能选择紧急原因。",
    },
}

# a request the route's declared types refuse before it runs (FastAPI's validation), by pydantic's error type
VALIDATION_MESSAGES = {
    "string_too_long": "{name}最多 {max_length} 个字。",
    "int_parsing": "{name}应为整数。",
    "int_from_float": "{name}应为整数。",
    "greater_than_equal": "{name}不能小于 {ge}。",
    "less_than_equal": "{name}不能大于 {le}。",
    "missing": "缺少{name}。",
    "json_invalid": "提交的内容不是有效的 JSON。",
}
FIELD_NAMES = {
    "note": "说明", "name": "名称", "key": "密钥", "role": "角色", "assignee": "处理人", "offset": "翻页位置",
    "case_id": "工单编号", "comment_id": "意见编号", "key_id": "密钥编号", "sentiment": "情感",
    "urgency": "紧急程度", "touchpoints": "触点", "aspects": "触点情感", "urgent_reasons": "紧急原因",
    "csrf_token": "表单令牌", "next": "登录后前往的页面",
}


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


def _field_message(path: str, field: str | None) -> str | None:
    field = (field or "").split(".")[0].split("[")[0]  # "aspects.nursing" and "aspects[0]" are "aspects"
    for prefix in sorted(PAGE_FIELD_MESSAGES, key=len, reverse=True):
        if path == prefix or path.startswith(prefix + "/"):
            if field in PAGE_FIELD_MESSAGES[prefix]:
                return PAGE_FIELD_MESSAGES[prefix][field]
            break
    return FIELD_MESSAGES.get(field)


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return MESSAGES["invalid_input"]
    first = errors[0]
    field = error_field(tuple(first.get("loc", ())))
    name = FIELD_NAMES.get(field.split(".")[0].split("[")[0], f"「{field}」")
    template = VALIDATION_MESSAGES.get(first.get("type", ""), "{name}的值无效，请检查后重试。")
    try:
        return template.format(name=name, **{k: v for k, v in (first.get("ctx") or {}).items() if k != "name"})
    except (KeyError, IndexError):
        return f"{name}的值无效，请检查后重试。"


def _role_name(request: Request) -> str:
    signed_in = getattr(request.state, "signed_in", None)
    return ROLE_NAMES[signed_in.principal.role] if signed_in else "未登录"


def page_message(request: Request, exc: Exception) -> str:
    """What a page says of `exc`, in Chinese: by the domain error's code (bad input by the field it names), by
    pydantic's error type for a request refused by the route's types, and by the HTTP error's code."""
    if isinstance(exc, RequestValidationError):
        return _validation_message(exc)
    if isinstance(exc, SessionRefused):
        return SESSION_MESSAGES.get(exc.reason, MESSAGES["unauthorized"])
    if isinstance(exc, DomainError):
        if exc.code == "invalid_input":
            return _field_message(request.url.path, exc.field) or MESSAGES["invalid_input"]
        return MESSAGES.get(exc.code, MESSAGES["bad_request"]).format(role=_role_name(request))
    if isinstance(exc, StarletteHTTPException):
        return MESSAGES.get(http_code(exc), MESSAGES["bad_request"])
    if isinstance(exc, DBAPIError):  # answered by the API as storage_unavailable (serving/errors.py)
        return MESSAGES["storage_unavailable"]
    return MESSAGES["bad_request"]


def page_error(request: Request, exc: Exception, status: int) -> Response | None:
    if not is_page_request(request) or request.url.path.startswith(PREFIX + "/static/"):
        return None
    if wants_json(request):
        return None
    if isinstance(exc, SessionRefused) or status == 401:
        return login_redirect(request, getattr(exc, "reason", "required"))
    return render(request, "error.html", status=status, title=TITLES.get(status, "出错了"),
                  message=page_message(request, exc), hint=HINTS.get(status, ""), code=status)

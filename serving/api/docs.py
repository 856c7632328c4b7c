"""/docs (Swagger UI) and /redoc from assets installed with the service, and an OpenAPI that tells each
operation's roles, an example body and the errors it really answers with.

Hospitals run the service without internet access, so FastAPI's default pages (scripts from a CDN) would be
blank there: the scripts come from the `fastapi-offline` distribution's files, served under `/docs/assets`.
What the OpenAPI says about errors and roles is derived from the routes themselves (their dependencies,
parameters and body) in `document`, so a new route is documented the same way without anyone remembering to.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from pvoice.serving.api.deps import get_batcher
from pvoice.serving.api.schemas import (
    CaseAck, CaseNote, CaseReassign, CaseResolve, ClassifyRequest, CommentsCreate, KeyCreate, LabelsCreate,
)
from pvoice.serving.api.schemas.errors import error_components, error_response
from pvoice.serving.services.auth import PERMISSIONS, Perm, Role

ASSETS_URL = "/docs/assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
_DEFAULT_422 = "#/components/schemas/HTTPValidationError"

# One example body per request schema: Swagger's "Try it out" starts from it, and a test posts each one
REQUEST_EXAMPLES: dict[type, dict] = {
    ClassifyRequest: {"texts": ["挂号排了三个小时，窗口只开了一个", "李医生讲得很耐心，谢谢！"], "evidence": False},
    CommentsCreate: {"comments": [{
        "text": "护士给我妈输错了液，到现在没人给个说法！", "channel": "wechat",
        "received_at": "2026-03-02T09:00:00+08:00", "department": "心内科", "ward": "3病区",
        "external_id": "wx-20260302-0001", "patient_ref": "门诊号 0012345"}]},
    LabelsCreate: {"touchpoints": ["nursing"], "aspects": {"nursing": "negative"}, "sentiment": "negative",
                   "urgency": "urgent", "urgent_reasons": ["safety"], "note": "输液错误，已核实"},
    CaseAck: {"note": "已电话联系家属"},
    CaseResolve: {"note": "已向家属致歉，护理部已复盘输液核对流程"},
    CaseReassign: {"assignee": "nurse_head", "note": "转护理部主任处理"},
    CaseNote: {"note": "已回电家属，约定明天上午再次联系"},
    KeyCreate: {"role": "agent", "name": "患者服务中心 工作站 2"},
}


def assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Mount the assets, add /docs and /redoc, and make `app.openapi()` the documented schema. The app must be
    created with `docs_url=None, redoc_url=None`."""
    routers = list(routers)
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")

    def prefix(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    async def swagger(request: Request) -> HTMLResponse:
        root = prefix(request)
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png", oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True})

    async def redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        return get_redoc_html(openapi_url=root + app.openapi_url, title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False)

    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)

    generate, documented_id = app.openapi, [None]

    def documented() -> dict:
        schema = generate()  # FastAPI's, cached until the routes change
        if documented_id[0] != id(schema):
            documented_id[0] = id(document(schema, routers))
        return schema

    app.openapi = documented


def _calls(dependant: Dependant) -> Iterable:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def required_perm(route: APIRoute) -> Perm | None:
    return next((call.perm for call in _calls(route.dependant) if hasattr(call, "perm")), None)


def roles_with(perm: Perm) -> list[str]:
    return [role.value for role in Role if perm in PERMISSIONS[role]]


def _error_statuses(route: APIRoute, perm: Perm | None) -> dict[int, tuple[str, ...] | None]:
    """status -> the error codes a request to `route` can get with it (None: all of that status)."""
    statuses: dict[int, tuple[str, ...] | None] = {}
    calls = set(_calls(route.dependant))
    if route.path.startswith("/v1/"):  # the request guard checks the key and may find the database down
        statuses[401] = None
        statuses[503] = None if get_batcher in calls else ("storage_unavailable",)
    if perm is not None and len(roles_with(perm)) < len(Role):
        statuses[403] = None
    if route.body_field is not None:
        statuses.update({400: None, 408: None, 413: None, 422: None})
    if route.dependant.path_params:
        statuses[404] = None
    if route.dependant.path_params or route.dependant.query_params:
        statuses[422] = None
    return statuses


def _body_model(route: APIRoute) -> type | None:
    if route.body_field is None:
        return None
    annotation = route.body_field.field_info.annotation
    return next((m for m in REQUEST_EXAMPLES if annotation is m or m in getattr(annotation, "__args__", ())), None)


def document(schema: dict, routers: Iterable[APIRouter]) -> dict:
    """Complete `schema` (FastAPI's OpenAPI dict) in place from the routes of `routers`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(error_components())
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods:
                _document_operation(schema["paths"][route.path_format][method.lower()], route)
    if _DEFAULT_422 not in repr(schema["paths"]):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def _document_operation(operation: dict, route: APIRoute) -> None:
    perm = required_perm(route)
    roles = roles_with(perm) if perm is not None else []
    operation["x-roles"] = roles
    who = (f"**Roles:** {', '.join(roles)} (permission `{perm.value}`)." if perm is not None
           else "**No key needed** (keep it inside the hospital network).")
    operation["description"] = who + ("\n\n" + operation["description"] if operation.get("description") else "")
    responses = operation.setdefault("responses", {})
    for status, codes in _error_statuses(route, perm).items():
        current = responses.get(str(status))
        if current is None or _DEFAULT_422 in repr(current):
            responses[str(status)] = error_response(status, codes=codes)
    model = _body_model(route)
    if model is not None:
        operation["requestBody"]["content"]["application/json"]["example"] = REQUEST_EXAMPLES[model]

"""Rendering: the Jinja2 environment over the package's templates, the navigation of each role, and `render`.

Templates are package data read through the import system (`PackageLoader`), never a path from a checkout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape

from pvoice.serving.services.auth import Perm, Principal, Role

STATIC_PATH = "/app/static"
LOGIN_PATH = "/app/login"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    perm: Perm


# one entry per page a role may open; the nav shows those the signed-in role's permissions allow
NAV = (
    NavItem("/app/cases", "工单台", Perm.cases_read),
    NavItem("/app/dashboard", "管理看板", Perm.insights_read),
    NavItem("/app/review", "复核", Perm.labels_write),
    NavItem("/app/admin", "密钥与路由", Perm.keys_manage),
)

# where signing in lands, per role; intake keys feed the API from other systems and have no pages
LANDING: dict[Role, str] = {Role.agent: "/app/cases", Role.manager: "/app/dashboard", Role.admin: "/app/admin"}

ROLE_NAMES = {Role.intake: "接入系统", Role.agent: "客服专员", Role.manager: "管理人员", Role.admin: "系统管理员"}


def landing_of(principal: Principal) -> str | None:
    return LANDING.get(principal.role)


def nav_for(principal: Principal | None) -> list[NavItem]:
    return [item for item in NAV if principal is not None and principal.can(item.perm)]


@pass_context
def _local(context, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time in the service's zone (PVOICE_TIMEZONE), as staff read the clock."""
    if value is None:
        return ""
    return value.astimezone(context["zone"]).strftime(fmt)

environment = Environment(loader=PackageLoader("pvoice.serving.web", "templates"),
                          autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
environment.filters["local"] = _local
environment.globals.update(static=STATIC_PATH, role_names=ROLE_NAMES)


def _context(request: Request, context: dict) -> dict:
    signed_in = getattr(request.state, "signed_in", None)
    principal = signed_in.principal if signed_in else None
    ctx = getattr(request.app.state, "ctx", None)
    return dict(request=request, zone=ZoneInfo(ctx.settings.timezone if ctx else "Asia/Shanghai"), user=principal,
                nav=nav_for(principal), path=request.url.path,
                csrf_token=signed_in.csrf_token if signed_in else "",
                masked=principal is None or not principal.can(Perm.pii_read), **context)


def render(request: Request, template: str, *, status: int = 200, headers: dict | None = None,
           **context) -> HTMLResponse:
    """A page: the template with the signed-in user (if any), the role's nav and the session's CSRF token."""
    html = environment.get_template(template).render(_context(request, context))
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def render_fragment(request: Request, template: str, **context) -> str:
    """A piece of a page (table rows) as HTML, for a page's script to put in place."""
    return environment.get_template(template).render(_context(request, context))

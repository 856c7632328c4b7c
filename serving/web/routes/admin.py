"""/app/admin: API keys (list, create, revoke) for admins, through the same services as /v1/keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pvoice.serving.api.deps import ContextDep, SessionDep
from pvoice.serving.api.schemas.common import PathId
from pvoice.serving.api.views import key_public
from pvoice.serving.db.engine import transaction
from pvoice.serving.services.audit import audit
from pvoice.serving.services.auth import Perm, Role, create_key, list_keys, parse_role, revoke_key
from pvoice.serving.errors import InvalidInput
from pvoice.serving.routing import default_routing_path
from pvoice.serving.services.reload import reload_routing
from pvoice.serving.web.deps import ActionAllowed, PageAllowed
from pvoice.serving.web.errors import page_message
from pvoice.serving.web.pages import render

router = APIRouter(prefix="/app/admin", include_in_schema=False)


def _page(request: Request, session, *, status: int = 200, created: dict | None = None, error: str = "",
          detail: str = "", reloaded: str = "") -> HTMLResponse:
    keys = [key_public(row) for row in list_keys(session)]
    ctx = request.app.state.ctx
    return render(request, "admin.html", status=status, keys=keys, roles=list(Role), created=created, error=error,
                  detail=detail, reloaded=reloaded, routing=ctx.routing,
                  routing_path=str(ctx.settings.routing_path or default_routing_path()))


@router.get("", response_class=HTMLResponse, summary="Keys and routing")
def admin_page(request: Request, session: SessionDep, who: PageAllowed(Perm.keys_manage)) -> HTMLResponse:
    return _page(request, session)


@router.post("/keys", response_class=HTMLResponse, summary="Create a key (shown once)")
def add_key(request: Request, ctx: ContextDep, who: ActionAllowed(Perm.keys_manage),
            role: Annotated[str, Form(max_length=16)] = "", name: Annotated[str, Form(max_length=100)] = ""
            ) -> HTMLResponse:
    now = ctx.clock.now()
    with transaction(ctx.factory) as session:
        row, clear = create_key(session, role=parse_role(role).value, name=name.strip() or role,
                                pepper=ctx.settings.api_key_pepper, now=now)
        audit(session, who=who, action="key.create", target=f"key:{row.id}", now=now, role=row.role)
        created = {"id": row.id, "role": row.role, "name": row.name, "key": clear}
    with ctx.factory() as session:
        return _page(request, session, status=201, created=created)


@router.post("/keys/{key_id}/revoke", summary="Revoke a key")
def remove_key(key_id: PathId, ctx: ContextDep, who: ActionAllowed(Perm.keys_manage)) -> Response:
    now = ctx.clock.now()
    with transaction(ctx.factory) as session:
        revoke_key(session, key_id=key_id, now=now)
        audit(session, who=who, action="key.revoke", target=f"key:{key_id}", now=now)
    return RedirectResponse("/app/admin", status_code=303)


@router.post("/routing/reload", response_class=HTMLResponse, summary="Reread the routing file")
def reload_routing_page(request: Request, ctx: ContextDep, who: ActionAllowed(Perm.routing_reload)) -> HTMLResponse:
    try:
        table = reload_routing(ctx, who=who)
    except InvalidInput as error:
        with ctx.factory() as session:
            # the parser's own words say which line is wrong: the admin who edits the file needs them
            return _page(request, session, status=422, error=page_message(request, error), detail=error.message)
    with ctx.factory() as session:
        return _page(request, session, reloaded=f"已重新读取路由文件：{len(table.people)} 人，{len(table.routes)} 条路由。")

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
from pvoice.serving.web.deps import ActionAllowed, PageAllowed
from pvoice.serving.web.pages import render

router = APIRouter(prefix="/app/admin", include_in_schema=False)


def _page(request: Request, session, *, status: int = 200, created: dict | None = None, error: str = ""
          ) -> HTMLResponse:
    keys = [key_public(row) for row in list_keys(session)]
    return render(request, "admin.html", status=status, keys=keys, roles=list(Role), created=created, error=error)


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

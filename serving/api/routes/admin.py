"""Admin actions: API keys, and reloading the routing file without a restart."""

from __future__ import annotations

from fastapi import APIRouter

from pvoice.serving.api.deps import Allowed, ContextDep, SessionDep
from pvoice.serving.api.schemas import KeyCreate, KeyCreated, KeyPublic, RoutingReloaded
from pvoice.serving.api.schemas.common import PathId
from pvoice.serving.api.schemas.errors import error_responses
from pvoice.serving.api.views import key_public
from pvoice.serving.db.engine import transaction
from pvoice.serving.services.audit import audit
from pvoice.serving.services.auth import Perm, create_key, list_keys, revoke_key
from pvoice.serving.services.reload import reload_routing as reload_routing_file

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get("/keys", response_model=list[KeyPublic], summary="List API keys (never the keys themselves)")
def read_keys(session: SessionDep, _: Allowed(Perm.keys_manage)) -> list[KeyPublic]:
    return [key_public(row) for row in list_keys(session)]


@router.post("/keys", response_model=KeyCreated, status_code=201, summary="Create an API key (shown once)")
def add_key(body: KeyCreate, ctx: ContextDep, who: Allowed(Perm.keys_manage)) -> KeyCreated:
    now = ctx.clock.now()
    with transaction(ctx.factory) as session:
        row, clear = create_key(session, role=body.role, name=body.name or body.role,
                                pepper=ctx.settings.api_key_pepper, now=now)
        audit(session, who=who, action="key.create", target=f"key:{row.id}", now=now, role=row.role)
        return KeyCreated(**key_public(row).model_dump(), key=clear)


@router.delete("/keys/{key_id}", response_model=KeyPublic, summary="Revoke an API key")
def delete_key(key_id: PathId, ctx: ContextDep, who: Allowed(Perm.keys_manage)) -> KeyPublic:
    """Revoke a key: it stops working at once and stays listed."""
    now = ctx.clock.now()
    with transaction(ctx.factory) as session:
        row = revoke_key(session, key_id=key_id, now=now)
        audit(session, who=who, action="key.revoke", target=f"key:{key_id}", now=now)
        return key_public(row)


@router.post("/routing/reload", response_model=RoutingReloaded, summary="Reread the routing file",
             responses=error_responses(422))
def reload_routing(ctx: ContextDep, who: Allowed(Perm.routing_reload)) -> RoutingReloaded:
    """Read the routing file again; an invalid file changes nothing and answers 422 naming each problem."""
    table = reload_routing_file(ctx, who=who)
    return RoutingReloaded(people=len(table.people), routes=len(table.routes))

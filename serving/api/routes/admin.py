"""Admin actions: reload the routing file without a restart."""

from __future__ import annotations

from fastapi import APIRouter

from serving.api.deps import Allowed, ContextDep
from serving.api.schemas import RoutingReloaded
from serving.db.engine import transaction
from serving.errors import InvalidInput
from serving.routing import RoutingError, load_routing
from serving.services.audit import audit
from serving.services.auth import Perm

router = APIRouter(prefix="/v1/routing", tags=["admin"])


@router.post("/reload", response_model=RoutingReloaded)
def reload_routing(ctx: ContextDep, who: Allowed(Perm.routing_reload)) -> RoutingReloaded:
    """Read the routing file again; an invalid file changes nothing and answers 422 naming each problem."""
    try:
        table = load_routing(ctx.settings.routing_path, touchpoints=ctx.taxonomy.touchpoint_ids,
                             timezone=ctx.settings.timezone)
    except RoutingError as error:
        raise InvalidInput(str(error), field="routing") from None
    ctx.routing = table
    with transaction(ctx.factory) as session:
        audit(session, who=who, action="routing.reload", target=str(ctx.settings.routing_path),
              now=ctx.clock.now(), routes=len(table.routes))
    return RoutingReloaded(people=len(table.people), routes=len(table.routes))

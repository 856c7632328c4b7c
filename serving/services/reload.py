"""Rereading the routing file without a restart (the API's /v1/routing/reload and the admin page)."""

from __future__ import annotations

from pvoice.serving.db.engine import transaction
from pvoice.serving.errors import InvalidInput
from pvoice.serving.routing import RoutingError, RoutingTable, default_routing_path, load_routing
from pvoice.serving.services.audit import audit
from pvoice.serving.services.auth import Principal
from pvoice.serving.services.context import ServiceContext


def reload_routing(ctx: ServiceContext, *, who: Principal) -> RoutingTable:
    """Read the routing file again and use it from now on; an invalid file changes nothing and is InvalidInput
    naming each problem."""
    try:
        table = load_routing(ctx.settings.routing_path, touchpoints=ctx.taxonomy.touchpoint_ids,
                             timezone=ctx.settings.timezone)
    except RoutingError as error:
        raise InvalidInput(str(error), field="routing") from None
    ctx.routing = table
    with transaction(ctx.factory) as session:
        audit(session, who=who, action="routing.reload", target=str(ctx.settings.routing_path or default_routing_path()),
              now=ctx.clock.now(), routes=len(table.routes))
    return table

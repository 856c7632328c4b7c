"""/v1/alerts: the outbox, with failures and dead letters; an admin may send one again."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from pvoice.serving.api.deps import Allowed, ContextDep, SessionDep
from pvoice.serving.api.schemas import AlertPublic, AlertsPublic
from pvoice.serving.api.schemas.common import Offset, PathId, QueryId
from pvoice.serving.api.schemas.errors import error_responses
from pvoice.serving.api.views import alert_public
from pvoice.serving.db.engine import transaction
from pvoice.serving.services.auth import Perm
from pvoice.serving.services.audit import audit
from pvoice.serving.services.outbox import list_alerts, retry_alert

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertsPublic, summary="List alerts of the outbox, by delivery state")
def read_alerts(
    session: SessionDep, _: Allowed(Perm.alerts_read),
    status: Literal["pending", "sending", "delivered", "failed", "dead"] | None = None,
    case_id: QueryId | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AlertsPublic:
    rows, count = list_alerts(session, status=status, case_id=case_id, limit=limit, offset=offset)
    return AlertsPublic(items=[alert_public(r) for r in rows], count=count)


@router.post("/{alert_id}/retry", response_model=AlertPublic, summary="Send a failed or dead alert again",
             responses=error_responses(409))
def retry(alert_id: PathId, ctx: ContextDep, who: Allowed(Perm.alerts_retry)) -> AlertPublic:
    now = ctx.clock.now()
    with transaction(ctx.factory) as session:
        row = retry_alert(session, alert_id=alert_id, now=now)
        audit(session, who=who, action="alert.retry", target=f"alert:{alert_id}", now=now)
        result = alert_public(row)
    ctx.notify()
    return result

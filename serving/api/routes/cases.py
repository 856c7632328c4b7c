"""/v1/cases: list with filters, read with the timeline, acknowledge, resolve, reassign."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from pvoice.serving.api.deps import Allowed, ContextDep, SessionDep
from pvoice.serving.api.schemas import CaseAck, CaseDetail, CaseNote, CaseReassign, CaseResolve, CasesPublic
from pvoice.serving.api.schemas.common import Instant, Limited, Offset, PathId
from pvoice.serving.api.schemas.errors import error_responses
from pvoice.serving.api.views import case_detail, case_public
from pvoice.serving.db.engine import transaction
from pvoice.serving.services import cases as service
from pvoice.serving.services.auth import Perm
from pvoice.serving.services.outbox import list_alerts

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.get("", response_model=CasesPublic, summary="List cases, filtered and paged")
def list_cases(
    session: SessionDep, who: Allowed(Perm.cases_read),
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    urgency: Literal["urgent", "complaint"] | None = None,
    touchpoint: Limited = None, department: Limited = None, assignee: Limited = None,
    created_from: Annotated[Instant | None, Query(description="Cases created at or after (ISO 8601).")] = None,
    created_to: Annotated[Instant | None, Query(description="Cases created before (ISO 8601).")] = None,
    needs_review: Annotated[bool | None, Query(description="Only cases in (true) or out of (false) the review "
                                                           "band: complaints that may be urgent.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> CasesPublic:
    filters = service.CaseFilter(status=status, urgency=urgency, touchpoint=touchpoint, department=department,
                                 assignee=assignee, created_from=_utc(created_from), created_to=_utc(created_to),
                                 needs_review=needs_review)
    rows, count = service.list_cases(session, filters=filters, limit=limit, offset=offset)
    return CasesPublic(items=[case_public(c, who) for c in rows], count=count)


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _detail(session, case_id: int, who) -> CaseDetail:
    case = service.get_case(session, case_id=case_id)
    alerts, _ = list_alerts(session, status=None, case_id=case.id, limit=500, offset=0)
    return case_detail(case, who, alerts)


@router.get("/{case_id}", response_model=CaseDetail, summary="Read a case with its timeline and alerts")
def read_case(case_id: PathId, session: SessionDep, who: Allowed(Perm.cases_read)) -> CaseDetail:
    return _detail(session, case_id, who)


def _act(ctx, case_id: int, who, action, **kwargs) -> CaseDetail:
    with transaction(ctx.factory) as session:
        action(session, ctx, case_id=case_id, who=who, now=ctx.clock.now(), **kwargs)
    ctx.notify()
    with ctx.factory() as session:
        return _detail(session, case_id, who)


@router.post("/{case_id}/ack", response_model=CaseDetail, summary="Acknowledge a case (stops escalation)",
             responses=error_responses(409))
def acknowledge(case_id: PathId, ctx: ContextDep, who: Allowed(Perm.cases_work), body: CaseAck | None = None
                ) -> CaseDetail:
    return _act(ctx, case_id, who, service.acknowledge, note=body.note if body else "")


@router.post("/{case_id}/resolve", response_model=CaseDetail, summary="Resolve a case with a note",
             responses=error_responses(409))
def resolve(case_id: PathId, body: CaseResolve, ctx: ContextDep, who: Allowed(Perm.cases_work)) -> CaseDetail:
    return _act(ctx, case_id, who, service.resolve, note=body.note)


@router.post("/{case_id}/reassign", response_model=CaseDetail, summary="Reassign a case to a routing file person",
             responses=error_responses(409))
def reassign(case_id: PathId, body: CaseReassign, ctx: ContextDep, who: Allowed(Perm.cases_work)) -> CaseDetail:
    return _act(ctx, case_id, who, service.reassign, assignee=body.assignee, note=body.note)


@router.post("/{case_id}/notes", response_model=CaseDetail, summary="Add a note to a case's timeline")
def add_note(case_id: PathId, body: CaseNote, ctx: ContextDep, who: Allowed(Perm.cases_work)) -> CaseDetail:
    return _act(ctx, case_id, who, service.add_note, note=body.note)

"""/app/cases: the case desk (工单台) of the patient-service center, and a case's own page with its actions.

The desk and `/app/api/cases` (what the desk polls) list through `services.cases.list_cases` in the desk's order
(urgent first, then open before acknowledged, then the nearest deadline); the case page reads and acts through the
same service functions as /v1/cases, and shows the API's views, masked for the role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pvoice.serving.api.deps import ContextDep, SessionDep
from pvoice.serving.api.schemas.common import PathId
from pvoice.serving.api.views import case_detail, case_public
from pvoice.serving.db.engine import transaction
from pvoice.serving.errors import InvalidInput
from pvoice.serving.services import cases as service
from pvoice.serving.services.auth import Perm
from pvoice.serving.services.outbox import list_alerts
from pvoice.serving.web.deps import ActionAllowed, PageAllowed
from pvoice.serving.web.forms import DESK_STATUSES, DESK_URGENCIES, read_desk
from pvoice.serving.web.pages import render, render_fragment
from pvoice.serving.web.views import EVENT_NAMES, STATUS_NAMES, case_page, desk_row, person_name

router = APIRouter(prefix="/app", include_in_schema=False)

DESK_LIMIT = 200
NOTE_MAX = 4000
DONE = {"ack": "已确认该工单。", "resolve": "已解决该工单。", "reassign": "已转派。", "note": "备注已添加。"}


def _desk(request: Request, session, ctx, who):
    """(form, rows, count): the desk's filters as read, and its rows (none when a filter is wrong)."""
    form, filters = read_desk(request.query_params, taxonomy=ctx.taxonomy, routing=ctx.routing,
                              zone=ctx.settings.timezone)
    if filters is None:
        return form, [], 0
    cases, count = service.list_cases(session, filters=filters, limit=DESK_LIMIT, offset=0, order="priority")
    now = ctx.clock.now()
    rows = [desk_row(case_public(c, who), taxonomy=ctx.taxonomy, routing=ctx.routing, now=now) for c in cases]
    return form, rows, count


def _rows_html(request: Request, rows, who) -> str:
    return render_fragment(request, "_case_rows.html", rows=rows, status_names=STATUS_NAMES)


@router.get("/cases", response_class=HTMLResponse, summary="The case desk")
def desk(request: Request, ctx: ContextDep, session: SessionDep, who: PageAllowed(Perm.cases_read)) -> HTMLResponse:
    form, rows, count = _desk(request, session, ctx, who)
    return render(request, "cases.html", status=422 if form.problems else 200, form=form, count=count,
                  rows_html=_rows_html(request, rows, who), ids=[r.case.id for r in rows],
                  statuses=DESK_STATUSES, urgencies=DESK_URGENCIES, taxonomy=ctx.taxonomy,
                  people=sorted(ctx.routing.people.values(), key=lambda p: p.id), now=ctx.clock.now(),
                  poll_seconds=ctx.settings.web_poll_seconds, limit=DESK_LIMIT)


@router.get("/api/cases", summary="The desk's rows, for its polling")
def desk_rows(request: Request, ctx: ContextDep, session: SessionDep, who: PageAllowed(Perm.cases_read)
              ) -> JSONResponse:
    form, rows, count = _desk(request, session, ctx, who)
    if form.problems:
        return JSONResponse({"error": {"code": "invalid_input", "message": form.problems[0][1],
                                       "field": form.problems[0][0]}}, status_code=422)
    return JSONResponse({
        "html": _rows_html(request, rows, who), "count": count, "now": ctx.clock.now().isoformat(),
        "ids": [r.case.id for r in rows],
        "urgent_open": [r.case.id for r in rows if r.case.urgency == "urgent" and r.case.status == "open"],
    }, headers={"Cache-Control": "no-store"})


def _detail(session, ctx, case_id: int, who):
    case = service.get_case(session, case_id=case_id)
    alerts, _ = list_alerts(session, status=None, case_id=case.id, limit=500, offset=0)
    return case_page(case_detail(case, who, alerts), taxonomy=ctx.taxonomy, routing=ctx.routing, now=ctx.clock.now())


@router.get("/cases/{case_id}", response_class=HTMLResponse, summary="A case: comment, evidence, timeline")
def case_view(case_id: PathId, request: Request, ctx: ContextDep, session: SessionDep,
              who: PageAllowed(Perm.cases_read), done: str = "") -> HTMLResponse:
    page = _detail(session, ctx, case_id, who)
    return render(request, "case.html", page=page, case=page.detail, status_names=STATUS_NAMES,
                  event_names=EVENT_NAMES, can_work=who.can(Perm.cases_work), done=DONE.get(done, ""),
                  people=sorted(ctx.routing.people.values(), key=lambda p: p.id),
                  person_name=lambda pid: person_name(ctx.routing, pid), taxonomy=ctx.taxonomy, now=ctx.clock.now())


def _act(ctx, case_id: int, who, action, done: str, **kwargs) -> Response:
    with transaction(ctx.factory) as session:
        action(session, ctx, case_id=case_id, who=who, now=ctx.clock.now(), **kwargs)
    ctx.notify()
    return RedirectResponse(f"/app/cases/{case_id}?done={done}", status_code=303)


NoteField = Annotated[str, Form(max_length=NOTE_MAX)]


@router.post("/cases/{case_id}/ack", summary="Acknowledge a case")
def acknowledge(case_id: PathId, ctx: ContextDep, who: ActionAllowed(Perm.cases_work), note: NoteField = ""
                ) -> Response:
    return _act(ctx, case_id, who, service.acknowledge, "ack", note=note.strip())


@router.post("/cases/{case_id}/resolve", summary="Resolve a case with a note")
def resolve(case_id: PathId, ctx: ContextDep, who: ActionAllowed(Perm.cases_work), note: NoteField = ""
            ) -> Response:
    if not note.strip():
        raise InvalidInput("note: resolving a case needs a note (what was done, how the patient was answered)",
                           field="note")
    return _act(ctx, case_id, who, service.resolve, "resolve", note=note.strip())


@router.post("/cases/{case_id}/reassign", summary="Reassign a case")
def reassign(case_id: PathId, ctx: ContextDep, who: ActionAllowed(Perm.cases_work),
             assignee: Annotated[str, Form(max_length=100)] = "", note: NoteField = "") -> Response:
    return _act(ctx, case_id, who, service.reassign, "reassign", assignee=assignee.strip(), note=note.strip())


@router.post("/cases/{case_id}/note", summary="Add a note to a case")
def add_note(case_id: PathId, ctx: ContextDep, who: ActionAllowed(Perm.cases_work), note: NoteField = ""
             ) -> Response:
    return _act(ctx, case_id, who, service.add_note, "note", note=note.strip())

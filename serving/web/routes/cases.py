"""/app/cases: the case desk (工单台) of the patient-service center."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from pvoice.serving.api.deps import SessionDep
from pvoice.serving.api.views import case_public
from pvoice.serving.services import cases as service
from pvoice.serving.services.auth import Perm
from pvoice.serving.web.deps import PageAllowed
from pvoice.serving.web.pages import render

router = APIRouter(prefix="/app/cases", include_in_schema=False)


@router.get("", response_class=HTMLResponse, summary="The case desk")
def desk(request: Request, session: SessionDep, who: PageAllowed(Perm.cases_read)) -> HTMLResponse:
    rows, count = service.list_cases(session, filters=service.CaseFilter(), limit=200, offset=0)
    return render(request, "cases.html", cases=[case_public(c, who) for c in rows], count=count)

"""/app/dashboard: the managers' view (管理看板). A placeholder page until the managers' view lands."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from pvoice.serving.services.auth import Perm
from pvoice.serving.web.deps import PageAllowed
from pvoice.serving.web.pages import render

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse, summary="The managers' view")
def dashboard(request: Request, who: PageAllowed(Perm.insights_read)) -> HTMLResponse:
    return render(request, "dashboard.html")

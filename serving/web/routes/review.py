"""/app/review: the review queue (复核) of the model's least sure comments, for people who may label them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from pvoice.serving.services.auth import Perm
from pvoice.serving.web.deps import PageAllowed
from pvoice.serving.web.pages import render

router = APIRouter(prefix="/app/review", include_in_schema=False)


@router.get("", response_class=HTMLResponse, summary="The review queue")
def review_queue(request: Request, who: PageAllowed(Perm.labels_write)) -> HTMLResponse:
    return render(request, "review.html")

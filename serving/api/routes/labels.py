"""GET /v1/labels/export: human labels as JSONL in the corpus format of data/comments."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from pvoice.serving.api.deps import Allowed, ContextDep
from pvoice.serving.services.auth import Perm
from pvoice.serving.services.labels import export_rows

router = APIRouter(prefix="/v1/labels", tags=["labels"])


@router.get("/export", response_class=Response, summary="Export human labels as corpus JSONL",
            responses={200: {"content": {"application/x-ndjson": {}},
                             "description": "One corpus row per labeled comment (its latest labels)."}})
def export_labels(ctx: ContextDep, _: Allowed(Perm.labels_export)) -> Response:
    with ctx.factory() as session:
        lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in export_rows(session)]
    return Response("".join(lines), media_type="application/x-ndjson",
                    headers={"Content-Disposition": 'attachment; filename="labels.jsonl"'})

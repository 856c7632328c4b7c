"""Operations: liveness, readiness and Prometheus metrics (no key needed; keep them inside the network)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from pvoice.serving.api.deps import ContextDep, MetricsDep
from pvoice.serving.db.engine import transaction
from pvoice.serving.api.schemas.errors import READINESS_RESPONSES
from pvoice.serving.db.migrate import current_revision, head_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict:
    return {"status": "ok"}


def _probe_write(ctx) -> None:
    """A real committed write, of the same value: a full disk, a read-only file or a read-only replica fails
    it, where a SELECT would still pass."""
    with transaction(ctx.factory) as session:
        session.execute(text("UPDATE alembic_version SET version_num = version_num"))


@router.get("/readyz", summary="Readiness: model loaded, migrations current, database writable",
            responses=READINESS_RESPONSES)
def readyz(request: Request, ctx: ContextDep) -> JSONResponse:
    checks: dict[str, str] = {}
    batcher = getattr(request.app.state, "batcher", None)
    checks["model"] = f"ok ({batcher.model_version})" if batcher is not None else "not loaded"
    try:
        current, head = current_revision(ctx.factory.kw["bind"]), head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current}, need {head}"
        _probe_write(ctx)
        checks["database"] = "ok (writable)"
    except Exception as error:  # noqa: BLE001 - readiness reports, it does not raise
        cause = getattr(error, "orig", None) or error
        checks["database"] = f"not writable: {type(cause).__name__}"
        checks.setdefault("migrations", "unknown")
    ready = all(v.startswith("ok") for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

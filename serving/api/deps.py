"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from pvoice.serving.errors import NotReady, Unauthorized
from pvoice.serving.metrics import Metrics
from pvoice.serving.services.auth import Perm, Principal, authenticate
from pvoice.serving.services.batcher import MicroBatcher
from pvoice.serving.services.context import ServiceContext

_bearer = HTTPBearer(auto_error=False, description="An API key from `pvoice keys create --role ROLE`.")


def get_context(request: Request) -> ServiceContext:
    return request.app.state.ctx


ContextDep = Annotated[ServiceContext, Depends(get_context)]


def get_session(ctx: ContextDep) -> Iterator[Session]:
    with ctx.factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_batcher(request: Request) -> MicroBatcher:
    batcher = getattr(request.app.state, "batcher", None)
    if batcher is None:
        raise NotReady("the model is not loaded")
    return batcher


BatcherDep = Annotated[MicroBatcher, Depends(get_batcher)]


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def authenticate_header(app, header: str | None) -> Principal:
    """The key holder of an `Authorization: Bearer KEY` header, or Unauthorized; the request guard calls it
    before the body is read."""
    scheme, _, key = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing API key: send 'Authorization: Bearer KEY'")
    ctx: ServiceContext = app.state.ctx
    with ctx.factory() as session:
        return authenticate(session, key=key.strip(), pepper=ctx.settings.api_key_pepper)


def get_current_key(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # the guard has checked the key of every /v1/ request; `_bearer` only declares the scheme in the OpenAPI
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer KEY'")
    return principal


CurrentKey = Annotated[Principal, Depends(get_current_key)]


def require(perm: Perm):
    """A dependency that lets through only keys whose role has `perm`."""

    def check(principal: CurrentKey) -> Principal:
        principal.require(perm)
        return principal

    check.perm = perm  # read by serving/api/docs.py to list the roles of each operation
    return Depends(check)


def Allowed(perm: Perm):  # noqa: N802 - reads as a type in signatures: `who: Allowed(Perm.cases_work)`
    return Annotated[Principal, require(perm)]

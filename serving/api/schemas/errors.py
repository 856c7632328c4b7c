"""The error body every 4xx and 5xx carries (`serving/errors.py` `error_body`), and the OpenAPI responses built
from it: one table, so the documentation and the handlers cannot tell different stories."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pvoice.serving.errors import (
    BodyTimeout, Conflict, Forbidden, InvalidInput, NotFound, NotReady, PayloadTooLarge, StorageUnavailable,
    Unauthorized,
)


class FieldError(BaseModel):
    field: str = Field(description="Where in the request: `comments[0].channel`, `body`, a query parameter.")
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, for programs: `invalid_input`, `unauthorized`, `not_found`, ...")
    message: str = Field(description="For people; may change between versions.")
    field: str | None = Field(None, description="The field at fault, when there is one.")
    errors: list[FieldError] | None = Field(None, description="Every invalid field (422 only).")


class ErrorResponse(BaseModel):
    error: ErrorDetail


# status -> what the service means by it and an example of each code it sends with that status
ERRORS: dict[int, tuple[str, list[tuple[str, str, str | None]]]] = {
    400: ("The body is not JSON in UTF-8.", [("invalid_body", "body: not valid JSON in UTF-8", "body")]),
    401: ("No API key, or an invalid or revoked one (`Authorization: Bearer KEY`).",
          [(Unauthorized.code, "missing API key: send 'Authorization: Bearer KEY'", None)]),
    403: ("The key's role may not do this.", [(Forbidden.code, "role 'intake' may not cases:read", None)]),
    404: ("No such resource.", [(NotFound.code, "no case 42", None)]),
    408: ("The body did not arrive within PVOICE_BODY_TIMEOUT_S.",
          [(BodyTimeout.code, "request body not received within 15 s", None)]),
    409: ("The resource is not in a state that allows this.", [(Conflict.code, "case 42 is already resolved", None)]),
    413: ("The body is over PVOICE_MAX_BODY_BYTES.",
          [(PayloadTooLarge.code, "request body over 10485760 bytes (PVOICE_MAX_BODY_BYTES)", None)]),
    422: ("A field is invalid; `field` names the first, `errors` lists all.",
          [(InvalidInput.code, "comments[0].channel: unknown channel 'fax'", "comments[0].channel")]),
    503: ("Not able to take work now; retry after `Retry-After` seconds.",
          [(StorageUnavailable.code, "the database is not accepting work (OperationalError); retry later", None),
           (NotReady.code, "the model is not loaded", None)]),
}


ERROR_REF = "#/components/schemas/ErrorResponse"


def error_components() -> dict[str, dict]:
    """The OpenAPI component schemas `ERROR_REF` points at."""
    schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "ErrorResponse": schema}


def _example(code: str, message: str, field: str | None) -> dict:
    body: dict = {"code": code, "message": message}
    if field:
        body["field"] = field
    if code == InvalidInput.code and field:
        body["errors"] = [{"field": field, "message": message.split(": ", 1)[-1]}]
    return {"error": body}


def error_response(status: int, *, codes: tuple[str, ...] | None = None) -> dict:
    """The OpenAPI response object of `status`, limited to `codes` when given (e.g. 503 without `not_ready`
    where no model is used)."""
    description, examples = ERRORS[status]
    chosen = [e for e in examples if codes is None or e[0] in codes] or examples
    return {
        "description": description + " Codes: " + ", ".join(f"`{c}`" for c, _, _ in chosen) + ".",
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}, "examples": {
            code: {"summary": message, "value": _example(code, message, field)} for code, message, field in chosen}}},
    }


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """For a route decorator's `responses=`: the errors a route raises that its signature does not show
    (a 409 from a service); `serving/api/docs.py` adds the component schemas they refer to."""
    return {status: error_response(status) for status in statuses}


# /readyz answers 503 with its checks rather than an error body: a load balancer reads the status, a person
# reads which check failed
READINESS_RESPONSES: dict[int | str, dict] = {503: {
    "description": "Not ready: the failing checks say why (model not loaded, migrations behind, database not "
                   "writable).",
    "content": {"application/json": {"example": {"status": "not ready", "checks": {
        "model": "ok (e5-small-ft-20260301)", "migrations": "ok", "database": "not writable: OperationalError"}}}},
}}

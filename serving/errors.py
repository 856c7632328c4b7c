"""Domain errors: each carries a stable code; `install_error_handlers` maps them to HTTP in one place."""

from __future__ import annotations

import logging
import traceback

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("pvoice.errors")


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code, status = "invalid_input", 422


class Unauthorized(DomainError):
    code, status = "unauthorized", 401


class Forbidden(DomainError):
    code, status = "forbidden", 403


class NotFound(DomainError):
    code, status = "not_found", 404


class Conflict(DomainError):
    code, status = "conflict", 409


class NotReady(DomainError):
    code, status = "not_ready", 503


class StorageUnavailable(DomainError):
    """The database refuses writes or cannot be reached (disk full, read-only, down): retry later."""

    code, status = "storage_unavailable", 503


class PayloadTooLarge(DomainError):
    code, status = "too_large", 413


class BodyTimeout(DomainError):
    code, status = "body_timeout", 408


class ConfigError(RuntimeError):
    """A configuration the service refuses to start with (routing file, unsafe secrets)."""


def error_body(code: str, message: str, *, field: str | None = None, errors: list | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return {"error": body}


def error_field(loc: tuple) -> str:
    # ("body", "comments", 0, "channel") -> "comments[0].channel"
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or (str(loc[0]) if loc else "body")


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def validation_errors(exc: RequestValidationError) -> list[dict]:
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            errors.append({"field": "body", "message": f"invalid JSON: {err.get('ctx', {}).get('error', err['msg'])}"})
        else:
            errors.append({"field": error_field(tuple(err.get("loc", ()))), "message": _clean(str(err.get("msg", "")))})
    return errors


def domain_response(exc: DomainError) -> JSONResponse:
    headers = {401: {"WWW-Authenticate": "Bearer"}, 503: {"Retry-After": "5"}}.get(exc.status)
    return JSONResponse(error_body(exc.code, exc.message, field=exc.field), status_code=exc.status, headers=headers)


def storage_error(exc: DBAPIError) -> StorageUnavailable:
    # the driver's message can quote the statement's parameters, so only its class is told
    return StorageUnavailable(f"the database is not accepting work ({type(exc.orig).__name__}); retry later")


async def _domain_handler(_: Request, exc: DomainError) -> JSONResponse:
    return domain_response(exc)


async def _storage_handler(_: Request, exc: OperationalError) -> JSONResponse:
    log.error("database unavailable", extra={"error": type(exc.orig).__name__})
    return domain_response(storage_error(exc))


async def _validation_handler(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = validation_errors(exc)
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    return JSONResponse(error_body("invalid_input", message, field=first["field"], errors=errors), status_code=422)


async def _http_handler(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = http_code(exc)
    if code == "invalid_body":
        return JSONResponse(error_body(code, "body: not valid JSON in UTF-8", field="body"), status_code=400)
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


def http_code(exc: StarletteHTTPException) -> str:
    """The code an HTTP error (an unknown path, a method a route does not take) is answered with; the pages word
    their answer by it too."""
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        return "invalid_body"  # what FastAPI says of a body that is not UTF-8 (or not decodable at all)
    return {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code,
                                                                                                  "http_error")


def internal_error(exc: BaseException, *, request_id: str, route: str) -> JSONResponse:
    """The last resort, for a bug: logged with the request id and where it happened, never with the
    exception's message (it may quote a comment or a key)."""
    if isinstance(exc, OperationalError):
        return domain_response(storage_error(exc))
    frames = traceback.format_tb(exc.__traceback__)[-5:]
    log.error("unhandled error", extra={"request_id": request_id, "route": route, "error": type(exc).__name__,
                                        "where": "".join(frames)})
    return JSONResponse(error_body("internal", f"internal error; it has been logged as request {request_id}"),
                        status_code=500)


# A page answer for an error, or None to send the JSON one: `pages(request, exc, status)` (serving/web/errors.py)
PageErrors = Callable[[Request, Exception, int], Response | None]


def install_error_handlers(app: FastAPI, *, pages: PageErrors | None = None) -> None:
    """Domain, validation, HTTP and database errors; anything else reaches `internal_error` through the
    request guard (serving/api/guard.py), which keeps the connection open. `pages` answers the web app's
    requests with a page instead (a redirect to the login page, a 403 page), keeping the same status."""

    def answering(handler):
        async def handle(request: Request, exc: Exception) -> Response:
            response = await handler(request, exc)
            if pages is not None:
                page = pages(request, exc, response.status_code)
                if page is not None:
                    return page
            return response

        return handle

    app.add_exception_handler(DomainError, answering(_domain_handler))
    app.add_exception_handler(RequestValidationError, answering(_validation_handler))
    app.add_exception_handler(StarletteHTTPException, answering(_http_handler))
    app.add_exception_handler(OperationalError, answering(_storage_handler))

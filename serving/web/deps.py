"""Dependencies of the pages, as `Annotated` aliases: the signed-in user from the session cookie, the role's
permission for a page (the API's own `Perm`s), and the CSRF check of every state-changing request.

A request without a valid session raises `Unauthorized`; the page error handler (serving/web/errors.py) turns
it into a redirect to the login page for a page and a 401 for a fetch call."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from pvoice.serving.api.deps import ContextDep
from pvoice.serving.db.engine import transaction
from pvoice.serving.errors import Forbidden
from pvoice.serving.services.auth import Perm, Principal
from pvoice.serving.services.web_sessions import SignedIn, session_of

SESSION_COOKIE = "pvoice_session"
LOGIN_CSRF_COOKIE = "pvoice_login_csrf"  # the double-submit token of the login form, before any session exists
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
COOKIE_PATH = "/app"


class CsrfRefused(Forbidden):
    code = "csrf_refused"


def get_signed_in(request: Request, ctx: ContextDep) -> SignedIn:
    with transaction(ctx.factory) as session:
        signed_in = session_of(session, token=request.cookies.get(SESSION_COOKIE),
                               pepper=ctx.settings.api_key_pepper, now=ctx.clock.now())
    request.state.signed_in = signed_in
    request.state.actor = signed_in.principal.actor  # for the request log line
    request.scope["state"]["actor"] = signed_in.principal.actor
    return signed_in


SignedInDep = Annotated[SignedIn, Depends(get_signed_in)]


def get_page_user(signed_in: SignedInDep) -> Principal:
    return signed_in.principal


PageUser = Annotated[Principal, Depends(get_page_user)]


def tokens_match(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def check_csrf(request: Request, signed_in: SignedInDep) -> SignedIn:
    """A state-changing request carries the session's CSRF token: a form in its hidden field, a fetch call in
    the X-CSRF-Token header. Anything else is refused before the handler runs, so nothing is stored."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get(CSRF_FIELD)
    if not tokens_match(given if isinstance(given, str) else None, signed_in.csrf_token):
        raise CsrfRefused("missing or wrong CSRF token: send the session's token in the form's csrf_token field "
                          "or the X-CSRF-Token header; nothing was done")
    return signed_in


CsrfChecked = Annotated[SignedIn, Depends(check_csrf)]


def require_page(perm: Perm):
    """A page (or a page's action) for roles with `perm`; others get a 403 page saying so."""

    def check(who: PageUser) -> Principal:
        who.require(perm)
        return who

    check.perm = perm
    return Depends(check)


def PageAllowed(perm: Perm):  # noqa: N802 - reads as a type in signatures: `who: PageAllowed(Perm.cases_read)`
    return Annotated[Principal, require_page(perm)]


def ActionAllowed(perm: Perm):  # noqa: N802
    """A state-changing request: a valid session, its CSRF token, then the role's permission."""

    def check(signed_in: CsrfChecked) -> Principal:
        signed_in.principal.require(perm)
        return signed_in.principal

    check.perm = perm
    return Annotated[Principal, Depends(check)]

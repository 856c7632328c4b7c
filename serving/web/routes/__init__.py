"""One router per page family of the web app."""

from pvoice.serving.web.routes import admin, auth, cases, dashboard, review

ROUTERS = [auth.router, cases.router, review.router, dashboard.router, admin.router]

__all__ = ["ROUTERS"]

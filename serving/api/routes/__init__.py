"""One router per resource."""

from pvoice.serving.api.routes import admin, alerts, cases, classify, comments, labels, ops

ROUTERS = [ops.router, classify.router, comments.router, cases.router, labels.router, alerts.router, admin.router]

__all__ = ["ROUTERS"]

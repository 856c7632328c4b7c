"""The HTTP API: routers, schemas and dependencies."""

from pvoice.serving.api.routes import ROUTERS

__all__ = ["ROUTERS"]

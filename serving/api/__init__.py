"""The HTTP API: routers, schemas and dependencies."""

from serving.api.routes import ROUTERS

__all__ = ["ROUTERS"]

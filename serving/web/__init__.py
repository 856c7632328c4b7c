"""The web app: server-rendered pages (Jinja2 templates, a little vanilla JavaScript) on the API's own app,
under /app. Pages load through the same service functions and views as the JSON API, so its roles and masking
apply page by page; sessions live in the database (serving/services/web_sessions.py)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pvoice.serving.web.errors import page_error
from pvoice.serving.web.pages import STATIC_PATH
from pvoice.serving.web.routes import ROUTERS


def install_web(app: FastAPI) -> None:
    """The pages' routers and their static files (served by the app itself: nothing from a CDN)."""
    app.mount(STATIC_PATH, StaticFiles(packages=[("pvoice.serving.web", "static")]), name="web-static")
    for router in ROUTERS:
        app.include_router(router)


__all__ = ["ROUTERS", "install_web", "page_error"]

"""The web console: server-rendered pages (Jinja2) with small scripts over the REST API.

`add_console(app)` mounts it on the hub's aiohttp application: the pages at `/`, their
static files under /console/static. See hub.console.pages for who may open what.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from hub.console import views
from hub.console.pages import CONSOLE, ENV, STATIC_PREFIX, page_handler, template_env

STATIC = Path(__file__).parent / "static"


def add_console(app: web.Application) -> None:
    app[ENV] = template_env()
    app.router.add_routes(views.routes)
    for page in CONSOLE.pages:
        app.router.add_get(page.path, page_handler(page))
    app.router.add_static(STATIC_PREFIX, STATIC)


__all__ = ["add_console"]

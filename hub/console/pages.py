"""The console's pages: who may open each, the navigation, and rendering.

The server decides: a page is rendered only for the roles it names; anyone else gets the
"not allowed" page (403) and none of the page's content, and the navigation lists only the
pages of the user's role. The data on most pages comes from the REST API (/api/v1) through
small scripts, with the same session cookie; a few summaries are computed here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from hub.api.core.auth import authenticate
from hub.api.core.errors import UnauthorizedError
from hub.console.i18n import MESSAGES, choose_language, translate
from hub.models import User
from hub.texts import LANGUAGES

TEMPLATES = Path(__file__).parent / "templates"
STATIC_PREFIX = "/console/static"

MANAGERS = frozenset({"admin", "company_admin", "manager"})
OPERATORS = MANAGERS | {"guard"}
TECHNICIANS = frozenset({"technician"})  # managers work orders at /manage/orders
RESIDENTS = frozenset({"resident"})

HOME = {"admin": "/manage", "company_admin": "/manage", "manager": "/manage", "guard": "/guard",
        "technician": "/tech", "resident": "/me"}

Context = Callable[[web.Request, User], Awaitable[dict[str, Any]]]


async def _no_context(_request: web.Request, _user: User) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Page:
    path: str
    template: str
    roles: frozenset[str]
    nav: str | None = None  # the message key of its navigation entry; None: not in the menu
    context: Context = _no_context
    scripts: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()  # live channels the page listens to
    wide: bool = False  # control-room layout (no max width)


@dataclass
class Console:
    """The pages, in menu order."""

    pages: list[Page] = field(default_factory=list)

    def page(self, path: str, template: str, roles: frozenset[str], **options: Any
             ) -> Callable[[Context], Context]:
        def register(context: Context) -> Context:
            self.pages.append(Page(path, template, roles, context=context, **options))
            return context
        return register

    def add(self, page: Page) -> None:
        self.pages.append(page)

    def nav_for(self, role: str) -> list[Page]:
        return [p for p in self.pages if p.nav and role in p.roles]


CONSOLE = Console()
ENV = web.AppKey("console_templates", jinja2.Environment)


def template_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


async def current_user(request: web.Request) -> User | None:
    """The user of the session cookie, or None when there is none or it is no longer good."""
    try:
        return await authenticate(request)
    except UnauthorizedError:
        return None


def render(request: web.Request, template: str, *, status: int = 200, user: User | None = None,
           page: Page | None = None, **values: Any) -> web.Response:
    lang = choose_language(request)

    def t(key: str, **fields: object) -> str:
        return translate(lang, key, **fields)

    html = request.app[ENV].get_template(template).render(
        t=t, lang=lang, other_lang=next(x for x in LANGUAGES if x != lang),
        user=user, page=page, nav=CONSOLE.nav_for(user.role) if user else [],
        here=request.path, next_path=quote(request.path_qs, safe=""),
        home=HOME.get(user.role, "/") if user else "/login",
        static=STATIC_PREFIX, messages=MESSAGES[lang], **values)
    return web.Response(text=html, status=status, content_type="text/html",
                        headers={"Cache-Control": "no-store",
                                 "Content-Language": lang,
                                 "X-Frame-Options": "DENY"})


def page_handler(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        user = await current_user(request)
        if user is None:
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
        if user.role not in page.roles:
            return forbidden(request, user)
        values = await page.context(request, user)
        return render(request, page.template, user=user, page=page, **values)
    return handle


def forbidden(request: web.Request, user: User) -> web.Response:
    return render(request, "forbidden.html", status=403, user=user,
                  role=translate(choose_language(request), f"role.{user.role}"))

"""Endpoint declarations: one record per route drives routing, parsing, auth and OpenAPI.

A view is declared with the pydantic models of its query, body and answer; the wrapper
parses and validates the request with those same models and serialises the answer with
the declared response model, so the OpenAPI document cannot drift from the code.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.api.core.auth import STAFF_ROLES, WRITER_ROLES, authenticate, require_role
from hub.api.core.errors import BadRequestError, InvalidError, NotFoundError

View = Callable[..., Awaitable[BaseModel | web.StreamResponse | None]]
_V = TypeVar("_V", bound=View)  # a decorated view keeps its own signature for its callers


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # relative to /api/v1, aiohttp syntax: "/cards/{id:\d+}"
    view: View
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    produces: tuple[str, ...] = ()  # media types of a view that answers with its own body
    # None: GET for any staff role (auth.STAFF_ROLES), other methods for admin and manager
    # (auth.WRITER_ROLES); each view then limits the answer to the user's scope (hub.api.core.scope)
    roles: frozenset[str] | None = None
    # for views that read their own body (CSV upload): content type -> OpenAPI schema
    upload: dict[str, Any] | None = None
    # the largest JSON body it takes, when more than hub.api.core.middleware.MAX_JSON_BYTES
    max_body: int | None = None
    # answers other than the declared success, e.g. {422: ImportRejectedOut}
    errors: dict[int, type[BaseModel]] = field(default_factory=dict)

    @property
    def allowed_roles(self) -> frozenset[str]:
        if self.roles is not None:
            return self.roles
        return STAFF_ROLES if self.method == "GET" else WRITER_ROLES

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.public:
            user = await authenticate(request)
            require_role(user, *self.allowed_roles)
        kwargs: dict[str, Any] = {}
        if self.query is not None:
            kwargs["query"] = _validate(self.query, dict(request.query))
        elif request.query:
            raise InvalidError.one(next(iter(request.query)), "unknown query parameter",
                                   "invalid.unknown_field")
        if self.body is not None:
            kwargs["body"] = _validate(self.body, await _json_body(request))
        result = await self.view(request, **kwargs)
        if isinstance(result, web.StreamResponse):  # a view that shapes its own answer
            return result
        if self.response is None:
            return web.Response(status=204 if result is None else self.status)
        if not isinstance(result, self.response):
            raise TypeError(
                f"{self.view.__name__} returned {type(result).__name__}, "
                f"declared {self.response.__name__}"
            )
        return web.json_response(result.model_dump(mode="json"), status=self.status)


ENDPOINTS = web.AppKey("endpoints", list[Endpoint])


@dataclass
class EndpointTable:
    """Collects a module's endpoints, like aiohttp's RouteTableDef but with models."""

    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(self, method: str, path: str, **options: Any) -> Callable[[_V], _V]:
        def register(view: _V) -> _V:
            rest = {k: v for k, v in options.items() if k != "summary"}
            summary = options.get("summary") or (view.__doc__ or view.__name__).strip()
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    view=view,
                    summary=summary.splitlines()[0],
                    tag=self.tag,
                    **rest,
                )
            )
            return view

        return register

    def get(self, path: str, **options: Any) -> Callable[[_V], _V]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[_V], _V]:
        return self.route("POST", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[_V], _V]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[_V], _V]:
        return self.route("DELETE", path, **options)

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self.endpoints)


def path_id(request: web.Request, what: str) -> int:
    """The integer `{id}` of the path; routes only match digits, so this is a lookup key."""
    try:
        value = int(request.match_info["id"])
    except (KeyError, ValueError) as exc:
        raise NotFoundError(what, request.match_info.get("id")) from exc
    if value > 2**31 - 1:  # beyond the id columns: no such row (and no driver overflow)
        raise NotFoundError(what, value)
    return value


def _validate(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidError.from_pydantic(exc) from exc


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise BadRequestError("request body is empty; a JSON object is expected",
                              ("error.body_empty", {}))
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"request body is not UTF-8: {exc.reason}",
                              ("error.body_not_utf8", {})) from exc
    except json.JSONDecodeError as exc:
        raise BadRequestError(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            ("error.body_not_json", {"line": exc.lineno, "column": exc.colno})) from exc

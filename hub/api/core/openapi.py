"""The OpenAPI 3.1 document, generated from the endpoint table and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from hub.api.core.endpoints import Endpoint
from hub.api.core.schemas import ErrorOut, ValidationErrorOut

_PATH_PARAM = re.compile(r"\{(\w+)(?::((?:[^{}]|\{[^{}]*\})*))?\}")
_REF = "#/components/schemas/{model}"
_ERROR_TEXT = {401: "wrong username or password", 503: "a service the hub needs is down"}


def openapi_path(path: str) -> str:
    """aiohttp's `/cards/{id:\\d+}` spelled the OpenAPI way, `/cards/{id}`."""
    return _PATH_PARAM.sub(r"{\1}", path)


def _path_schema(pattern: str | None) -> dict[str, Any]:
    """Ids are integers, unless the route says otherwise (e.g. a UUID's pattern)."""
    if pattern is None or pattern == r"\d+":
        return {"type": "integer"}
    return {"type": "string", "pattern": f"^{pattern}$"}


def _error(description: str, model: type[BaseModel], refs: dict[Any, Any]) -> dict[str, Any]:
    schema = refs[(model, "serialization")]
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def build_openapi(endpoints: list[Endpoint], prefix: str, version: str = "1") -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (ErrorOut, "serialization"),
        (ValidationErrorOut, "serialization"),
    ]
    for ep in endpoints:
        wanted += [(m, "validation") for m in (ep.body, ep.query) if m is not None]
        if ep.response is not None:
            wanted.append((ep.response, "serialization"))
        wanted += [(m, "serialization") for m in ep.errors.values()]
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=_REF)
    schemas: dict[str, Any] = top.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        path = openapi_path(prefix + ep.path)
        op: dict[str, Any] = {
            "operationId": ep.view.__name__,
            "summary": ep.summary,
            "tags": [ep.tag],
            "parameters": [
                {"name": m[1], "in": "path", "required": True, "schema": _path_schema(m[2])}
                for m in _PATH_PARAM.finditer(ep.path)
            ],
            "responses": {},
        }
        if ep.query is not None:
            name = refs[(ep.query, "validation")]["$ref"].rsplit("/", 1)[-1]
            props = schemas[name].get("properties", {})
            for field, info in ep.query.model_fields.items():
                param = {
                    "name": field,
                    "in": "query",
                    "required": info.is_required(),
                    "schema": props[field],
                }
                if info.description:
                    param["description"] = info.description
                op["parameters"].append(param)
        if ep.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
            }
        elif ep.upload is not None:
            op["requestBody"] = {"required": True, "content": ep.upload}
        responses = op["responses"]
        if ep.response is not None:
            responses[str(ep.status)] = {
                "description": "success",
                "content": {"application/json": {"schema": refs[(ep.response, "serialization")]}},
            }
        elif ep.produces:
            responses[str(ep.status)] = {"description": "success", "content": {}}
        elif ep.view.__name__ == "get_openapi":
            responses["200"] = {
                "description": "this document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        else:
            responses["204"] = {"description": "done"}
        for media in ep.produces:  # views that answer with an image (too)
            responses[str(ep.status)]["content"].setdefault(
                media, {"schema": {"type": "string", "format": "binary"}})
            responses.setdefault("404", _error("no such record", ErrorOut, refs))
        if ep.body is not None:
            responses["400"] = _error("the body is not JSON", ErrorOut, refs)
        if not ep.public:
            responses["401"] = _error("no valid bearer token", ErrorOut, refs)
            responses["403"] = _error("the role or scope may not do this", ErrorOut, refs)
            op["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
            op["x-roles"] = sorted(ep.allowed_roles)  # who may call it (then within scope)
        else:
            op["security"] = []
        if "{id" in ep.path:
            responses["404"] = _error("no such record", ErrorOut, refs)
        if ep.method in ("POST", "PATCH", "DELETE") and not ep.public:
            responses["409"] = _error("conflicts with existing data", ErrorOut, refs)
        if ep.body is not None or ep.query is not None:
            responses["422"] = _error("a field is invalid", ValidationErrorOut, refs)
        for status, model in ep.errors.items():
            extra = _error(_ERROR_TEXT.get(status, "refused, with the reasons"), model, refs)
            if str(status) in responses:  # either shape may come back
                schemas_ = [
                    responses[str(status)]["content"]["application/json"]["schema"],
                    extra["content"]["application/json"]["schema"],
                ]
                extra["content"]["application/json"]["schema"] = {"anyOf": schemas_}
            responses[str(status)] = extra
        if ep.upload is not None:
            responses["400"] = _error("the body is not an upload this takes", ErrorOut, refs)
        paths.setdefault(path, {})[ep.method.lower()] = op

    return {
        "openapi": "3.1.0",
        "info": {"title": "Lintel hub API", "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "lintel_session"},
            },
        },
    }

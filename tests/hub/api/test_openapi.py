from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.api.core.openapi import openapi_path
from hub.api.credentials.schemas import CardCreate

Client = TestClient[Any, Any]


async def test_openapi_lists_every_route_of_the_app(client: Client) -> None:
    resp = await client.get("/api/v1/openapi.json")  # public, like health
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    routes = {
        (route.method.lower(), openapi_path(route.resource.canonical))
        for route in client.app.router.routes()
        if route.resource is not None
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert {("post", "/api/v1/auth/login"), ("get", "/api/v1/access-events"),
            ("post", "/api/v1/doors/{id}/unlock")} <= routes


async def test_schemas_come_from_the_models(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    post = doc["paths"]["/api/v1/cards"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    expected = CardCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schemas[name]["properties"] == expected["properties"]
    assert schemas[name]["additionalProperties"] is False
    assert set(post["responses"]) >= {"201", "401", "409", "422"}
    params = {p["name"]: p for p in doc["paths"]["/api/v1/access-events"]["get"]["parameters"]}
    assert set(params) >= {
        "door",
        "resident_id",
        "result",
        "reason",
        "since",
        "until",
        "limit",
        "cursor",
    }
    assert params["limit"]["schema"]["maximum"] == 500
    item = doc["paths"]["/api/v1/residents/{id}"]
    assert set(item) == {"get", "patch", "delete"}
    assert item["get"]["parameters"][0] == {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert doc["paths"]["/api/v1/health"]["get"]["security"] == []
    # every reference resolves
    text = str(doc)
    for ref_name in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert ref_name in schemas, ref_name

"""A visitor pass's QR image and share link open the door: only the guard desk, managers and
the host unit's residents get them; a technician reads the list but gets neither."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.hub.api.test_signed_credentials import login, pass_body, people  # noqa: F401

Client = TestClient[Any, Any]


async def test_only_the_desk_managers_and_the_host_get_the_qr(
        client: Client, people: dict[str, int], auth: dict[str, str]) -> None:  # noqa: F811
    guard = await login(client, "gina")
    issued = await (await client.post("/api/v1/visitor-passes", headers=guard,
                                      json=pass_body())).json()
    qr = f"/api/v1/visitor-passes/{issued['id']}/qr.png"
    for who in (guard, auth, await login(client, "alice")):  # desk, admin, the host unit
        resp = await client.get(qr, headers=who)
        assert resp.status == 200 and (await resp.read()).startswith(b"\x89PNG")
        seen = await (await client.get(f"/api/v1/visitor-passes/{issued['id']}",
                                       headers=who)).json()
        assert seen["share_url"] == issued["share_url"] and seen["qr_url"].endswith("/qr.png")
    tech = await login(client, "tom")
    resp = await client.get(qr, headers=tech)
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    # nor does the list or the pass itself hand the technician the share link's code
    listed = await (await client.get("/api/v1/visitor-passes", headers=tech)).json()
    assert [(p["id"], p["qr_url"], p["share_url"]) for p in listed["items"]] == [
        (issued["id"], None, None)]
    one = await (await client.get(f"/api/v1/visitor-passes/{issued['id']}", headers=tech)).json()
    assert (one["qr_url"], one["share_url"]) == (None, None)
    code = issued["share_url"].rsplit("code=", 1)[1]
    assert not any(code in str(v) for p in listed["items"] for v in p.values())
    # another unit's resident sees nothing of it
    dave = await login(client, "dave")
    assert (await client.get(qr, headers=dave)).status == 404


async def test_a_revoked_pass_has_no_qr_to_show(client: Client, people: dict[str, int],  # noqa: F811
                                                auth: dict[str, str]) -> None:
    issued = await (await client.post("/api/v1/visitor-passes", headers=auth,
                                      json=pass_body())).json()
    qr = f"/api/v1/visitor-passes/{issued['id']}/qr.png"
    assert (await client.get(qr, headers=auth)).status == 200
    await client.post(f"/api/v1/visitor-passes/{issued['id']}/revoke", headers=auth)
    resp = await client.get(qr, headers=auth)
    assert resp.status == 409 and "revoked" in (await resp.json())["detail"]

"""The role matrix's patrol objects: per site a checkpoint and a route; per place a round,
walked by the sunrise guard at home and next door, by moonbay's guard away."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.models import User
from hub.patrol.models import Round

if TYPE_CHECKING:
    from tests.hub.api.world import World

SITES = {"home": "sunrise", "neighbour": "sunrise", "away": "moonbay"}


async def add_patrol(world: World) -> None:
    by_site: dict[str, dict[str, Any]] = {}
    for site in ("sunrise", "moonbay"):
        _, cp = await world.call("POST", "/patrol/checkpoints", "admin", 201, json={
            "site_id": site, "code": f"CP-{site}", "name": "Gatehouse", "name_zh": "岗亭"})
        _, route = await world.call("POST", "/patrol/routes", "admin", 201, json={
            "site_id": site, "code": f"night-{site}", "name": "Night", "name_zh": "夜班",
            "stops": [{"checkpoint": cp["code"], "allowance_s": 600}]})
        by_site[site] = {"cp": cp, "route": route}
    async with world.sessions() as session, session.begin():
        away_guard = await session.scalar(select(User.username).where(
            User.id == world.ids["users"]["away"]))
        rounds = {}
        for place, site in SITES.items():
            now = datetime.now(UTC)
            row = Round(site_id=site, route_id=by_site[site]["route"]["id"],
                        guard="guard" if site == "sunrise" else away_guard, started_at=now,
                        deadline=now, state="open")
            session.add(row)
            await session.flush()
            rounds[place] = row.id
    world.ids["patrol-rounds"] = rounds
    world.ids["patrol-guards"] = {p: "guard" if s == "sunrise" else away_guard
                                  for p, s in SITES.items()}
    world.ids["patrol-checkpoints"] = {p: by_site[s]["cp"]["id"] for p, s in SITES.items()}
    world.ids["patrol-checkpoint-codes"] = {p: by_site[s]["cp"]["code"]
                                            for p, s in SITES.items()}
    world.ids["patrol-routes"] = {p: by_site[s]["route"]["id"] for p, s in SITES.items()}
    world.ids["patrol-route-codes"] = {p: by_site[s]["route"]["code"] for p, s in SITES.items()}

"""Record visitor pass uses from access events: once per event, whatever the redeliveries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import VisitorPass, VisitorPassUse

PREFIX = "pass:"


async def record_pass_uses(session: AsyncSession, access_rows: Sequence[dict[str, Any]]) -> None:
    """From access-event rows about to be committed: each granted pass use, stored by event id,
    and the pass's `uses` recounted (so a redelivered event counts once)."""
    uses = []
    for row in access_rows:
        credential = row["credential"]
        if row["result"] != "granted" or not credential.startswith(PREFIX):
            continue
        number = credential[len(PREFIX):]
        if number.isdigit():
            uses.append({"event_id": row["id"], "pass_id": int(number), "door": row["door"],
                         "ts": row["ts"]})
    if not uses:
        return
    known = set(await session.scalars(
        select(VisitorPass.id).where(VisitorPass.id.in_({u["pass_id"] for u in uses}))
    ))
    uses = [u for u in uses if u["pass_id"] in known]  # a pass deleted meanwhile: nothing to count
    if not uses:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(cast(Table, VisitorPassUse.__table__)).on_conflict_do_nothing(index_elements=["event_id"]), uses
    )
    counted = (
        select(func.count()).select_from(VisitorPassUse)
        .where(VisitorPassUse.pass_id == VisitorPass.id).scalar_subquery()
    )
    await session.execute(
        update(VisitorPass).where(VisitorPass.id.in_(known)).values(uses=counted)
        .execution_options(synchronize_session=False)
    )

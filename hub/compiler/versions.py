"""Versions: each edge's permission version and content hash in `permission_versions`. They
only grow, also with several hub workers (each site is compiled under a lock on its row,
see load.lock_site): a version is bumped with a conditional UPDATE only when the hash changed."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import EdgeConfigVersion, PermissionVersion, utcnow


async def bump_version(
    session: AsyncSession, edge_id: int, digest: str,
    of: type[PermissionVersion | EdgeConfigVersion] = PermissionVersion,
) -> int | None:
    """The new version if the hash changed (or the edge had none), else None. A conditional
    UPDATE: two workers publishing at once still get distinct, growing versions. `of`: the
    table of versions (the permissions', or the pushed configuration's)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    created = await session.execute(
        insert(of)
        .values(edge_id=edge_id, version=1, hash=digest, published_at=now)
        .on_conflict_do_nothing(index_elements=["edge_id"])
        .returning(of.version)  # rowcount is not reliable here on psycopg
    )
    if created.scalar_one_or_none() is not None:
        return 1
    bumped = await session.execute(
        update(of)
        .where(of.edge_id == edge_id, of.hash != digest)
        .values(version=of.version + 1, hash=digest, published_at=now)
        .returning(of.version)
        .execution_options(synchronize_session=False)
    )
    return bumped.scalar_one_or_none()


async def current_version(session: AsyncSession, edge_id: int) -> int:
    return int((await session.execute(
        select(PermissionVersion.version).where(PermissionVersion.edge_id == edge_id)
    )).scalar_one())


__all__ = ["bump_version", "current_version"]

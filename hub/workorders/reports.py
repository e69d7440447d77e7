"""Work-order figures: mean time to resolve and the share resolved within the due time, for
all orders and by priority, skill and kind."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.workorders.models import WorkOrder

GROUPS = ("priority", "skill", "kind")
CSV_COLUMNS = ("group", "key", "opened", "resolved", "mean_resolve_minutes", "within_due",
               "within_due_share", "mean_rating")


@dataclass
class Row:
    group: str
    key: str
    opened: int = 0
    resolved: int = 0
    mean_resolve_minutes: float | None = None
    within_due: int = 0
    within_due_share: float | None = None
    mean_rating: float | None = None


@dataclass
class _Tally:
    opened: int = 0
    resolved: int = 0
    minutes: float = 0.0
    within_due: int = 0
    ratings: list[int] | None = None

    def add(self, created: datetime, due: datetime, resolved: datetime | None,
            rating: int | None) -> None:
        self.opened += 1
        if resolved is not None:
            self.resolved += 1
            self.minutes += (resolved - created).total_seconds() / 60
            self.within_due += resolved <= due
        if rating is not None:
            self.ratings = [*(self.ratings or []), rating]

    def row(self, group: str, key: str) -> Row:
        return Row(group=group, key=key, opened=self.opened, resolved=self.resolved,
                   mean_resolve_minutes=round(self.minutes / self.resolved, 1)
                   if self.resolved else None,
                   within_due=self.within_due,
                   within_due_share=round(self.within_due / self.resolved, 4)
                   if self.resolved else None,
                   mean_rating=round(sum(self.ratings) / len(self.ratings), 2)
                   if self.ratings else None)


async def resolution_report(session: AsyncSession, where: ColumnElement[bool],
                            since: datetime | None, until: datetime | None) -> list[Row]:
    """Orders opened in [since, until) within `where` (the caller's scope)."""
    stmt = select(WorkOrder.priority, WorkOrder.skill, WorkOrder.kind, WorkOrder.created_at,
                  WorkOrder.due_at, WorkOrder.resolved_at, WorkOrder.rating).where(where)
    if since is not None:
        stmt = stmt.where(WorkOrder.created_at >= since)
    if until is not None:
        stmt = stmt.where(WorkOrder.created_at < until)
    total = _Tally()
    by: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for priority, skill, kind, created, due, resolved, rating in await session.execute(stmt):
        total.add(created, due, resolved, rating)
        for group, key in zip(GROUPS, (priority, skill, kind), strict=True):
            by[(group, key)].add(created, due, resolved, rating)
    return [total.row("all", "all")] + [by[k].row(*k) for k in sorted(by)]


def as_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values: dict[str, Any] = asdict(row)
        writer.writerow({k: "" if v is None else v for k, v in values.items()})
    return out.getvalue()


__all__ = ["Row", "as_csv", "resolution_report"]

"""The patrol report: rounds per route and guard with their completion rate and exceptions
(missed checkpoints, stopped guards, late and out-of-order readings). The API answers it as
JSON or CSV; the supervisor's page draws it (per route, per guard)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Integer, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.patrol.models import Checkpoint, Reading, Round, RoundException, Route, RouteStop


@dataclass(frozen=True)
class ReportRow:
    site_id: str
    route: str
    guard: str  # "-": a scheduled round nobody took
    completed: int
    incomplete: int
    open: int
    missed: int
    stalled: int
    late: int
    out_of_order: int

    @property
    def rounds(self) -> int:
        return self.completed + self.incomplete + self.open

    @property
    def completion_rate(self) -> float:
        """completed / (completed + incomplete); open rounds are not judged yet."""
        judged = self.completed + self.incomplete
        return round(self.completed / judged, 3) if judged else 0.0


async def report_rows(session: AsyncSession, where: Iterable[ColumnElement[bool]]
                      ) -> list[ReportRow]:
    """One row per (site, route, guard) of the rounds `where` selects (on Round)."""
    where = list(where)
    key = (Round.site_id, Route.code, func.coalesce(Round.guard, "-"))
    rows: dict[tuple[str, str, str], dict[str, int]] = {}
    for site, route, guard, state, n in await session.execute(
            select(*key, Round.state, func.count()).join(Route, Route.id == Round.route_id)
            .where(*where).group_by(*key, Round.state)):
        rows.setdefault((site, route, guard), {})[state] = n
    for site, route, guard, kind, n in await session.execute(
            select(*key, RoundException.kind, func.count())
            .join(Round, Round.id == RoundException.round_id)
            .join(Route, Route.id == Round.route_id)
            .where(*where).group_by(*key, RoundException.kind)):
        rows.setdefault((site, route, guard), {})[kind] = n
    for site, route, guard, late, disorder in await session.execute(
            select(*key, func.sum(func.cast(Reading.late, Integer)),
                   func.sum(func.cast(Reading.out_of_order, Integer)))
            .join(Round, Round.id == Reading.round_id)
            .join(Route, Route.id == Round.route_id)
            .where(*where).group_by(*key)):
        entry = rows.setdefault((site, route, guard), {})
        entry["late"], entry["out_of_order"] = int(late or 0), int(disorder or 0)
    return [ReportRow(site_id=site, route=route, guard=guard, completed=c.get("completed", 0),
                      incomplete=c.get("incomplete", 0), open=c.get("open", 0),
                      missed=c.get("missed", 0), stalled=c.get("stalled", 0),
                      late=c.get("late", 0), out_of_order=c.get("out_of_order", 0))
            for (site, route, guard), c in sorted(rows.items())]


@dataclass(frozen=True)
class ExceptionRow:
    at: datetime
    round_id: int
    route: str
    guard: str
    kind: str  # missed / stalled
    checkpoint: str  # its code
    checkpoint_name: str
    checkpoint_name_zh: str | None


async def exception_rows(session: AsyncSession, where: Iterable[ColumnElement[bool]],
                         limit: int = 200) -> list[ExceptionRow]:
    """The exceptions of the rounds `where` selects, newest first."""
    rows = await session.execute(
        select(RoundException.at, Round.id, Route.code, func.coalesce(Round.guard, "-"),
               RoundException.kind, Checkpoint.code, Checkpoint.name, Checkpoint.name_zh)
        .join(Round, Round.id == RoundException.round_id)
        .join(Route, Route.id == Round.route_id)
        .join(RouteStop, (RouteStop.route_id == Round.route_id)
              & (RouteStop.position == RoundException.position))
        .join(Checkpoint, Checkpoint.id == RouteStop.checkpoint_id)
        .where(*where).order_by(RoundException.at.desc(), Round.id.desc()).limit(limit))
    return [ExceptionRow(*row) for row in rows]


__all__ = ["ExceptionRow", "ReportRow", "exception_rows", "report_rows"]

"""The supervisor's patrol report on the page: completion rate per route and per guard, drawn
as inline SVG bars (0–100 %), and the latest exceptions (hub.patrol.report computes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.scope import Scope
from hub.console.reports import PALETTE
from hub.patrol.models import Round, Route
from hub.patrol.report import ExceptionRow, ReportRow, exception_rows, report_rows

BAD = "#D55E00"  # under GOOD_RATE (Okabe-Ito vermillion)
GOOD_RATE = 0.9


@dataclass(frozen=True)
class Rate:
    label: str
    completed: int
    judged: int  # completed + incomplete

    @property
    def rate(self) -> float:
        return self.completed / self.judged if self.judged else 0.0


@dataclass(frozen=True)
class PatrolSummary:
    by_route: list[Rate]
    by_guard: list[Rate]
    exceptions: list[ExceptionRow]
    rows: list[ReportRow]

    @property
    def route_svg(self) -> Markup:
        return rate_bars(self.by_route)

    @property
    def guard_svg(self) -> Markup:
        return rate_bars(self.by_guard)


def _rates(rows: list[ReportRow], key: str, names: dict[str, str]) -> list[Rate]:
    done: dict[str, list[int]] = {}
    for row in rows:
        entry = done.setdefault(getattr(row, key), [0, 0])
        entry[0] += row.completed
        entry[1] += row.completed + row.incomplete
    return [Rate(names.get(k, k), c, j) for k, (c, j) in sorted(done.items()) if j]


async def patrol_summary(session: AsyncSession, scope: Scope, since: datetime, lang: str
                         ) -> PatrolSummary:
    """Rounds started since `since` in the user's sites."""
    where = [scope.where(Round.site_id), Round.started_at >= since]
    rows = await report_rows(session, where)
    names = {code: (name_zh if lang == "zh" and name_zh else name) or code
             for code, name, name_zh in await session.execute(
                 select(Route.code, Route.name, Route.name_zh).where(scope.where(Route.site_id)))}
    return PatrolSummary(by_route=_rates(rows, "route", names), by_guard=_rates(rows, "guard", {}),
                         exceptions=await exception_rows(session, where, limit=50), rows=rows)


def rate_bars(rates: list[Rate], width: int = 560) -> Markup:
    """One bar per label on a 0–100 % scale, with "83% (5/6)"; below GOOD_RATE in red."""
    label_w, bar_h, gap, value_w = 150, 24, 10, 90
    height = max(len(rates), 1) * (bar_h + gap) + gap
    plot_w = width - label_w - value_w
    parts = [(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
              f'xmlns="http://www.w3.org/2000/svg">')]
    for i, r in enumerate(rates):
        y = gap + i * (bar_h + gap)
        w = plot_w * r.rate
        value = f"{r.rate:.0%} ({r.completed}/{r.judged})"
        colour = PALETTE[0] if r.rate >= GOOD_RATE else BAD
        parts.append(f'<text x="{label_w - 10}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" '
                     f'class="legend">{escape(r.label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="{bar_h}" rx="3" '
                     f'fill="#eef1f5"/>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" '
                     f'rx="3" fill="{colour}"><title>{escape(r.label)}: {value}</title></rect>')
        parts.append(f'<text x="{label_w + plot_w + 8}" y="{y + bar_h * 0.7:.1f}" '
                     f'class="legend">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["PatrolSummary", "Rate", "patrol_summary", "rate_bars"]

"""The rules engine: events in, alarms / work orders / edge commands / notices out.

Exactly once per event: the ingest calls `evaluate` inside the transaction that stored the
events, with only the events stored for the first time (a redelivery, or an event another
hub worker already stored, never gets here). Everything a rule remembers is in the
database (`rule_state`), its rows locked while a batch changes them, so any hub worker may
take the next event. Timers (`persist`, `absence`) come due in `check_timers`, which claims
them with one UPDATE .. RETURNING (SKIP LOCKED on PostgreSQL): a timer fires once, whichever
workers run the check. What leaves the database (live pushes, edge commands) is sent after
the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast, get_args

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import BindParameter

from hub.boards.notices import BOARD_FIRES, edges_with_boards
from hub.errors import HubError
from hub.installation.publish import ConfigPublisher
from hub.live import LiveItem
from hub.models import Device, Door, Edge
from hub.rules import alarms as alarm_ops
from hub.rules.clock import Clock, SystemClock
from hub.rules.loader import RuleBook
from hub.rules.models import Notice, RuleState
from hub.rules.schema import Action, Conditions, ParamTemplate, Rule, Severity, TextPair
from hub.rules.templates import render
from hub.rules.view import EventView
from hub.tasks import Periodic
from hub.texts import render as render_text
from hub.workorders import open_fault_order
from hub.workorders.priority import fault_priority
from wire.state import EdgeState

log = logging.getLogger(__name__)
CLAIM_BATCH = 200
SEVERITIES = frozenset(get_args(Severity))
_STATE_TABLE = cast(Table, RuleState.__table__)

After = Callable[[], Awaitable[None]]

# Built once, the keys bound at each execution: building a statement and its cache key cost
# the ingest more than running it, once per batch for each of them.
_KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
_EDGE_BUILDINGS = select(Edge.site_id, Edge.name, Edge.building_id).where(
    tuple_(Edge.site_id, Edge.name).in_(_KEYS))
_DOOR_IDS = select(Door.site_id, Door.name, Door.id).where(
    tuple_(Door.site_id, Door.name).in_(_KEYS))
_DEVICE_IDS = select(Device.site_id, Device.edge, Device.name, Device.id).where(
    tuple_(Device.site_id, Device.edge, Device.name).in_(_KEYS))
_LOCK_STATES = (select(RuleState)
                .where(tuple_(RuleState.rule, RuleState.site_id, RuleState.key).in_(_KEYS))
                .order_by(RuleState.id)
                .with_for_update())


@cache
def _make_states(dialect: str) -> Any:
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return dialect_insert(_STATE_TABLE).on_conflict_do_nothing(
        index_elements=["rule", "site_id", "key"])


@dataclass(frozen=True)
class LivePush:
    """A live message to send after the commit (see hub.live)."""

    channel: str
    data: dict[str, Any]
    site_id: str
    building_id: int | None = None
    household_id: int | None = None  # a notice to one unit: that unit's household


@dataclass
class Effects:
    """What a transaction decided that must leave the database after its commit."""

    live: list[LivePush] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    work_orders: list[dict[str, Any]] = field(default_factory=list)  # for the live feed
    # site -> the scopes (a building id, None: the whole site) whose LED boards must change:
    # a notice posted for them, or a fire alarm opened or cleared on the site
    boards: dict[str, set[int | None]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.live or self.commands or self.work_orders or self.boards)


@dataclass
class EngineStats:
    matched: int = 0
    actions: int = 0
    alarms_opened: int = 0
    timers_fired: int = 0
    effect_errors: int = 0


def holds(conditions: Conditions, view: EventView) -> bool:
    for path, condition in conditions.items():
        value, present = view.get(path)
        if not condition.holds(value, present):
            return False
    return True


def key_of(rule: Rule, view: EventView) -> str:
    return "|".join(str(view.get(path)[0]) for path in rule.key_fields)


def text_params(params: dict[str, ParamTemplate], ctx: dict[str, Any]) -> dict[str, Any]:
    """A coded text's parameters, filled from the event: a language pair keeps the languages
    the event has (a missing one falls back to the other when read)."""
    out: dict[str, Any] = {}
    for name, template in params.items():
        if isinstance(template, str):
            out[name] = render(template, ctx)
        elif isinstance(template, TextPair):
            out[name] = {lang: text for lang, text in
                         (("en", render(template.en, ctx)), ("zh", render(template.zh, ctx)))
                         if text != "-"}
        else:
            code = render(template.code, ctx)
            out[name] = {"code": code, "fallback": code.rpartition(".")[2]}
    return out


def _seconds(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class _Refs:
    """Per transaction: lookups of the registry rows an alarm links to, and the alarms raised
    but not yet written (written together, in one statement, by `flush`)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._buildings: dict[tuple[str, str], int | None] = {}
        self._doors: dict[tuple[str, str], int | None] = {}
        self._devices: dict[tuple[str, str, str], int | None] = {}
        self.raises: list[alarm_ops.AlarmRaise] = []

    async def flush(self, effects: Effects, stats: EngineStats, now: datetime) -> None:
        """Write the pending raises (before a clear, and at the end of the transaction)."""
        if not self.raises:
            return
        pending, self.raises = self.raises, []
        await self._resolve(pending)
        specs = [replace(
            spec, building_id=self._buildings.get((spec.site_id, spec.edge or "")),
            device_id=self._devices.get((spec.site_id, spec.edge or "", spec.device or "")),
            door_id=self._doors.get((spec.site_id, spec.door)) if spec.door else None)
            for spec in pending]
        for alarm, created in await alarm_ops.raise_alarms(self._session, specs, now):
            stats.alarms_opened += created
            effects.live.append(_alarm_push(alarm, "raised" if created else "repeated"))
            if created and alarm.type in BOARD_FIRES:  # every board of the site takes over
                effects.boards.setdefault(alarm.site_id, set()).add(None)

    async def _resolve(self, specs: list[alarm_ops.AlarmRaise]) -> None:
        """Look up, in one query each, the edges' buildings, the doors and the devices."""
        edges = {(s.site_id, s.edge or "") for s in specs} - self._buildings.keys()
        doors = {(s.site_id, s.door) for s in specs if s.door} - self._doors.keys()
        devices = {(s.site_id, s.edge or "", s.device or "") for s in specs} - self._devices.keys()
        session = self._session
        if edges:
            self._buildings.update(dict.fromkeys(edges))
            buildings = await session.execute(_EDGE_BUILDINGS, {"keys": sorted(edges)})
            self._buildings.update({(s, e): b for s, e, b in buildings})
        if doors:
            self._doors.update(dict.fromkeys(doors))
            door_ids = await session.execute(_DOOR_IDS, {"keys": sorted(doors)})
            self._doors.update({(s, n): i for s, n, i in door_ids})
        if devices:
            self._devices.update(dict.fromkeys(devices))
            device_ids = await session.execute(_DEVICE_IDS, {"keys": sorted(devices)})
            self._devices.update({(s, e, n): i for s, e, n, i in device_ids})

    async def building(self, site: str, edge: str) -> int | None:
        if (site, edge) not in self._buildings:
            self._buildings[(site, edge)] = await self._session.scalar(
                select(Edge.building_id).where(Edge.site_id == site, Edge.name == edge))
        return self._buildings[(site, edge)]

    async def device(self, site: str, edge: str, name: str) -> int | None:
        if (site, edge, name) not in self._devices:
            self._devices[(site, edge, name)] = await self._session.scalar(
                select(Device.id).where(Device.site_id == site, Device.edge == edge,
                                        Device.name == name))
        return self._devices[(site, edge, name)]


class RuleEngine:
    """Holds the rule book and where effects go; no rule state of its own."""

    def __init__(self, book: RuleBook, sessions: async_sessionmaker[AsyncSession], *,
                 clock: Clock | None = None, commands: Any = None, live: Any = None) -> None:
        self.book = book
        self.clock = clock or SystemClock()
        self.commands = commands  # hub.commands.CommandSender, set once the hub has one
        self.live = live  # hub.live.LiveBus
        self.boards: ConfigPublisher | None = None  # the edges' configuration pusher
        self._sessions = sessions
        self.stats = EngineStats()

    # -- events, inside the ingest's transaction --------------------------------------------

    async def evaluate(self, session: AsyncSession, rows: Sequence[dict[str, Any]],
                       states: Sequence[tuple[str, str, EdgeState]] = ()) -> After | None:
        """Run the rules on events just stored (event_log rows) and on edge state messages;
        returns what to call after the commit, or None when nothing matched."""
        # only the events some rule watches: most kinds have none, and a view costs a little
        watched = [r for r in rows if self.book.watching(r["site_id"], r["kind"])]
        views = [EventView.of_row(r) for r in sorted(watched, key=lambda r: (r["ts"], r["seq"]))]
        if states:
            now = self.clock.now()
            views += [EventView.of_state(site, edge, state, now) for site, edge, state in states]
        work = self._match(views)
        if not work:
            return None
        self.stats.matched += len(work)
        effects = Effects()
        refs = _Refs(session)
        state_rows = await self._lock_states(session, work)
        now = self.clock.now()
        for phase, rule, view in work:
            st = state_rows.get((rule.name, view.site, key_of(rule, view)))
            ctx = {**view.fields, "rule": rule.name}
            if phase == "act":
                await self._run(session, rule, rule.actions, ctx, view, refs, effects, now)
            elif phase == "count":
                assert st is not None and rule.count is not None
                hits = self._count(st, view, rule.count.within_s, rule.count.n)
                if hits >= rule.count.n:
                    await self._run(session, rule, rule.actions, {**ctx, "count": hits},
                                    view, refs, effects, now)
            else:
                assert st is not None
                await self._timer(session, phase, rule, st, view, ctx, refs, effects, now)
        await refs.flush(effects, self.stats, now)
        return self._after(effects) if effects else None

    def _match(self, views: Sequence[EventView]) -> list[tuple[str, Rule, EventView]]:
        work: list[tuple[str, Rule, EventView]] = []
        for view in views:
            for rule in self.book.watching(view.site, view.kind):
                matched = holds(rule.match.where, view)
                if rule.persist is not None:
                    if matched:
                        work.append(("start", rule, view))
                    elif holds(rule.persist.until, view):
                        work.append(("reset", rule, view))
                elif matched:
                    phase = ("arm" if rule.absence else "count" if rule.count else "act")
                    work.append((phase, rule, view))
        return work

    async def _lock_states(self, session: AsyncSession, work: list[tuple[str, Rule, EventView]]
                           ) -> dict[tuple[str, str, str], RuleState]:
        """Make and lock the state row of every (rule, site, key) the batch touches, in one
        order for every worker (no deadlocks between them)."""
        keys = sorted({(rule.name, view.site, key_of(rule, view))
                       for phase, rule, view in work if phase != "act"})
        if not keys:
            return {}
        await session.execute(
            _make_states(session.get_bind().dialect.name),
            [{"rule": r, "site_id": s, "key": k, "state": "idle"} for r, s, k in keys])
        found = await session.scalars(_LOCK_STATES, {"keys": keys},
                                      execution_options={"populate_existing": True})
        return {(s.rule, s.site_id, s.key): s for s in found}

    @staticmethod
    def _count(st: RuleState, view: EventView, within_s: float, n: int) -> int:
        """Add this hit and return the hits within the window ending at the newest one."""
        hits = [datetime.fromisoformat(h) for h in st.hits or ()] + [view.ts]
        newest = max(hits)
        kept = sorted(h for h in hits if h > newest - timedelta(seconds=within_s))[-n:]
        st.hits = [h.isoformat() for h in kept]
        st.last_ts = newest
        return len(kept)

    async def _timer(self, session: AsyncSession, phase: str, rule: Rule, st: RuleState,
                     view: EventView, ctx: dict[str, Any], refs: _Refs, effects: Effects,
                     now: datetime) -> None:
        if st.last_ts is not None and view.ts < st.last_ts:
            return  # an older event arriving late says nothing new
        st.last_ts = view.ts
        timing = rule.persist or rule.absence
        assert timing is not None
        due = view.ts + timedelta(seconds=timing.for_s)
        if phase == "start":
            if st.state == "idle":
                st.state, st.started_at, st.due_at, st.fired_at = "pending", view.ts, due, None
                st.context = view.fields
            return
        if st.state == "fired":  # a reset (persist) or the silence ending (absence)
            reset_ctx = {**(st.context or {}), **ctx, "for_s": _seconds(timing.for_s)}
            await self._run(session, rule, rule.on_reset, reset_ctx, view, refs, effects, now)
        if phase == "reset":
            st.state, st.started_at, st.due_at, st.fired_at, st.context = (
                "idle", None, None, None, None)
        else:  # absence: every matching event re-arms the timer
            if st.state != "pending":
                st.started_at = view.ts
            st.state, st.due_at, st.fired_at, st.context = "pending", due, None, view.fields

    # -- timers ---------------------------------------------------------------------------

    async def check_timers(self) -> int:
        """Fire every due timer once (whatever other workers do); returns how many fired."""
        fired = 0
        while True:
            now = self.clock.now()
            effects = Effects()
            async with self._sessions() as session, session.begin():
                dialect = session.get_bind().dialect.name
                due = (select(RuleState.id)
                       .where(RuleState.state == "pending", RuleState.due_at <= now)
                       .order_by(RuleState.due_at).limit(CLAIM_BATCH))
                if dialect == "postgresql":
                    due = due.with_for_update(skip_locked=True)
                claimed = list(await session.scalars(
                    update(RuleState)
                    .where(RuleState.id.in_(due.scalar_subquery()), RuleState.state == "pending")
                    .values(state="fired", fired_at=now)
                    .returning(RuleState)
                    .execution_options(populate_existing=True, synchronize_session=False)))
                refs = _Refs(session)
                for st in claimed:
                    await self._fire(session, st, refs, effects, now)
                await refs.flush(effects, self.stats, now)
            fired += len(claimed)
            self.stats.timers_fired += len(claimed)
            if effects:
                await self._after(effects)()
            if len(claimed) < CLAIM_BATCH:
                return fired

    async def _fire(self, session: AsyncSession, st: RuleState, refs: _Refs, effects: Effects,
                    now: datetime) -> None:
        rule = self.book.find(st.site_id, st.rule)
        if rule is None or not rule.enabled:
            log.info("timer of rule %s (%s) came due but the rule is gone or off", st.rule,
                     st.site_id)
            return
        timing = rule.persist or rule.absence
        assert timing is not None
        context = dict(st.context or {})
        ctx = {**context, "rule": rule.name, "for_s": _seconds(timing.for_s)}
        view = EventView.of_context(context, kind=rule.match.kind, site=st.site_id,
                                    ts=st.started_at or now)
        await self._run(session, rule, rule.actions, ctx, view, refs, effects, now)

    # -- actions --------------------------------------------------------------------------

    async def _run(self, session: AsyncSession, rule: Rule, actions: Sequence[Action],
                   ctx: dict[str, Any], view: EventView, refs: _Refs, effects: Effects,
                   now: datetime) -> None:
        for action in actions:
            self.stats.actions += 1
            if action.raise_alarm is not None:
                a = action.raise_alarm
                door = view.get("data.door")[0]
                snapshot = view.get("data.snapshot_id")[0]
                severity = a.severity
                if a.severity_from is not None:
                    own = view.get(a.severity_from)[0]
                    severity = own if own in SEVERITIES else severity
                # a site's own `message` (over a built-in rule's code) is what it wants shown
                code = None if a.message else a.text
                params = text_params(a.params, ctx) if code else None
                message = (render_text(code, params, "en") if code
                           else render(a.message or "", ctx))
                spec = alarm_ops.AlarmRaise(
                    site_id=view.site, dedup_key=render(a.key, ctx)[:300], type=a.type,
                    severity=severity, message=message, ts=view.ts,
                    message_code=code, message_params=params,
                    rule=rule.name, event_id=view.id or None,
                    edge=view.edge or None, device=view.device or None,
                    door=door if isinstance(door, str) else None,
                    snapshot_id=snapshot if isinstance(snapshot, str) else None)
                refs.raises.append(spec)
            elif action.clear_alarm is not None:
                c = action.clear_alarm
                await refs.flush(effects, self.stats, now)  # a raise before it comes first
                code = None if c.note else (c.text or "alarm_note.fault_cleared")
                params = text_params(c.params, ctx) if code else None
                note = render_text(code, params, "en") if code else render(c.note or "", ctx)
                alarm = await alarm_ops.clear_by_key(
                    session, view.site, render(c.key, ctx)[:300], f"rule:{rule.name}",
                    note, now, note_code=code, note_params=params)
                if alarm is not None:
                    effects.live.append(_alarm_push(alarm, "cleared"))
                    if alarm.type in BOARD_FIRES:
                        effects.boards.setdefault(alarm.site_id, set()).add(None)
            elif action.post_notice is not None:
                p = action.post_notice
                building = (await refs.building(view.site, view.edge)
                            if p.audience == "building" else None)
                code = None if p.title and p.body else p.text
                params = text_params(p.params, ctx) if code else None
                if code:
                    title = render_text(f"{code}.title", params, "en")
                    body = render_text(f"{code}.body", params, "en")
                else:
                    title, body = render(p.title or "", ctx), render(p.body or "", ctx)
                notice = Notice(site_id=view.site, building_id=building, unit_id=None,
                                title=title[:200], body=body, text_code=code,
                                text_params=params,
                                valid_from=now, valid_until=now + timedelta(seconds=p.valid_s),
                                source=f"rule:{rule.name}", created_by=f"rule:{rule.name}",
                                created_at=now, on_boards=p.on_boards)
                session.add(notice)
                if p.on_boards:
                    effects.boards.setdefault(view.site, set()).add(building)
                await session.flush()
                effects.live.append(LivePush("notices", alarm_ops.notice_data(notice),
                                             view.site, building))
            elif action.send_command is not None:
                s = action.send_command
                effects.commands.append({
                    "site": view.site, "edge": render(s.edge, ctx), "command": s.command,
                    "door": render(s.door, ctx) if s.door else None,
                    "reason": render(s.reason, ctx), "issued_by": f"rule:{rule.name}",
                    "duration_s": s.duration_s})
            elif action.open_work_order is not None:
                await self._work_order(session, rule, action, ctx, view, refs, effects, now)

    async def _work_order(self, session: AsyncSession, rule: Rule, action: Action,
                          ctx: dict[str, Any], view: EventView, refs: _Refs, effects: Effects,
                          now: datetime) -> None:
        w = action.open_work_order
        assert w is not None
        device_id = await refs.device(view.site, view.edge, view.device)
        if device_id is None:
            log.warning("rule %s: no registered device %s/%s/%s for a work order", rule.name,
                        view.site, view.edge, view.device)
            return
        priority: str = w.priority
        if w.priority_from is not None:
            priority = fault_priority(view.get(w.priority_from)[0],
                                      view.get("data.device_type")[0], w.priority)
        code = None if w.title else w.text
        params = text_params(w.params, ctx) if code else None
        title = render_text(code, params, "en") if code else render(w.title or "", ctx)
        request = {"site_id": view.site, "device_id": device_id,
                   "fault_code": render(w.fault_code, ctx)[:64],
                   "skill": render(w.skill, ctx)[:64], "priority": priority,
                   "title": title[:200], "title_code": code, "title_params": params,
                   "now": now, "source": f"rule:{rule.name}"}
        opened = await open_work_order(session, request)
        if opened is not None:
            effects.work_orders.append(opened)

    # -- after the commit -----------------------------------------------------------------

    def _after(self, effects: Effects) -> After:
        async def dispatch() -> None:
            if self.live is not None and effects.live:
                try:
                    await self.live.publish([
                        LiveItem(channel=p.channel, data=p.data, site_id=p.site_id,
                                 building_id=p.building_id, household_id=p.household_id)
                        for p in effects.live])
                except Exception:  # pushes are best effort; the rows are committed
                    self.stats.effect_errors += 1
                    log.exception("live push of %d items failed", len(effects.live))
            if effects.boards:
                await self._to_boards(effects.boards)
            for command in effects.commands:
                if self.commands is None:
                    log.warning("rule command %s not sent: the hub has no command sender",
                                command["command"])
                    continue
                try:
                    await self.commands.send(**command)
                except Exception:
                    self.stats.effect_errors += 1
                    log.exception("rule command %s to %s/%s failed", command["command"],
                                  command["site"], command["edge"])
        return dispatch

    async def _to_boards(self, scopes: dict[str, set[int | None]]) -> None:
        """The edges whose boards show these scopes get their configuration again (notices
        and a site's fire ride in it, signed)."""
        if self.boards is None:
            return
        try:
            async with self._sessions() as session:
                for site, buildings in scopes.items():
                    edges: set[int] = set()
                    for building in buildings:
                        edges.update(await edges_with_boards(session, site, building))
                    if edges:
                        self.boards.edges_changed(site, sorted(edges))
        except Exception:  # the rows are committed; the next sweep carries them
            self.stats.effect_errors += 1
            log.exception("boards of %s not told", sorted(scopes))


async def open_work_order(session: AsyncSession, request: dict[str, Any]
                          ) -> dict[str, Any] | None:
    """Open (or find) the work order for a device fault through hub.workorders."""
    try:
        order, created = await open_fault_order(session, **request)
    except HubError as exc:  # e.g. the device moved site: the alarm stands, no order
        log.warning("work order for device %s fault %s not opened: %s", request["device_id"],
                    request["fault_code"], exc)
        return None
    return {"id": order.id, "created": created, "site_id": request["site_id"]}


def _alarm_push(alarm: Any, what: str) -> LivePush:
    return LivePush("alarms", {"event": what, "alarm": alarm_ops.alarm_data(alarm)},
                    alarm.site_id, alarm.building_id)


class TimerChecker(Periodic):
    """`async with TimerChecker(engine, interval_s):` fires the due rule timers until exit."""

    task_name = "rules-timers"

    def __init__(self, engine: RuleEngine, interval_s: float) -> None:
        super().__init__(interval_s)
        self._engine = engine

    async def run_once(self) -> None:
        await self._engine.check_timers()


__all__ = ["Effects", "EngineStats", "LivePush", "RuleEngine", "TimerChecker", "holds",
           "key_of"]

"""The audit of every write through the API, recorded in one place.

A middleware opens an `AuditContext` for each authenticated write (any method but GET and
HEAD) of a declared endpoint. While the view runs, every flush of any session of that
request's task adds the rows it inserted, changed or deleted (before and after, secrets
left out) to the context; just before the transaction commits, one `AuditEntry` with all of
them goes into the same transaction. A refused write rolls back and leaves nothing. The
installation's functions keep writing their own richer entries (hub.installation): a
transaction that holds one of those is not recorded twice, its entry gets the request's
context instead.

The client's address is the peer's, or, when the peer is one of the proxies the operator
trusts (`trusted_proxies`), the nearest untrusted address of `X-Forwarded-For`.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session, UOWTransaction

from hub.api.core.endpoints import Endpoint
from hub.api.core.keys import CURRENT_USER, SESSIONS, TRUSTED_PROXIES
from hub.audit import AuditAction, AuditEntry
from hub.models import Site, utcnow

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# never into the trail: what opens a door, signs in, or decrypts
_SECRET_WORDS = ("password", "secret", "token", "_hash", "sealed_key", "reader_key",
                 "share_code", "private")
_SKIPPED_TABLES = frozenset({"audit_log", "login_attempts", "login_failures"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def parse_proxies(values: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """`10.0.0.1`, `10.0.0.0/8`, `::1` … as networks; ValueError naming a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"trusted proxy {value!r} is not an address or network") from exc
    return tuple(networks)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(request: web.Request) -> str:
    """The client's address: X-Forwarded-For is believed only from a trusted proxy, and then
    read from the right (each trusted hop appends the address it saw)."""
    peer = request.remote or "unknown"
    proxies = request.app.get(TRUSTED_PROXIES, ())
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, proxies):
            return hop[:64]
    return peer


@dataclass
class AuditContext:
    """One write request: who, from where, and the rows its transactions changed."""

    request: web.Request
    task: asyncio.Task[Any] | None
    # per session: table#key -> (table, key, action, before, after, site_id)
    rows: dict[int, dict[str, list[Any]]] = field(default_factory=dict)
    # per session: the entries the installation recorded itself
    own: dict[int, list[AuditEntry]] = field(default_factory=dict)
    all_rows: dict[str, list[Any]] = field(default_factory=dict)  # of every transaction
    entry_id: int | None = None  # the request's entry, once written
    written: bool = False  # an entry (the request's or the installation's) is in


_CONTEXT: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "lintel_audit", default=None)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _secret(name: str) -> bool:
    return any(word in name for word in _SECRET_WORDS)


def _columns(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {attr.key: ("(secret)" if _secret(attr.key) else _plain(getattr(obj, attr.key)))
            for attr in state.mapper.column_attrs if attr.key in state.dict}


def _changed(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if _secret(attr.key):
            before[attr.key], after[attr.key] = "(secret)", "(secret changed)"
        else:
            before[attr.key], after[attr.key] = _plain(old), _plain(new)
    return before, after


def _key(obj: Any) -> str:
    """The row's primary key (assigned by the flush that inserted it), as text."""
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(k) for k in key)


def _collect(session: Session, _flush: UOWTransaction) -> None:
    """After each flush (keys assigned, histories still there): the rows it changed."""
    ctx = _CONTEXT.get()
    if ctx is None or ctx.task is not asyncio.current_task():
        return  # not an API write, or a task the request spawned (it is not the request)
    held = ctx.rows.setdefault(id(session), {})
    for action, objs in (("create", session.new), ("update", session.dirty),
                         ("delete", session.deleted)):
        for obj in objs:
            table = getattr(obj, "__tablename__", "")
            if isinstance(obj, AuditEntry) and action == "create":
                ctx.own.setdefault(id(session), []).append(obj)
            if table in _SKIPPED_TABLES:
                continue
            if action == "update":
                if not session.is_modified(obj, include_collections=False):
                    continue
                before, after = _changed(obj)
                if not after:
                    continue
            elif action == "create":
                before, after = None, _columns(obj)
            else:
                before, after = _columns(obj), None
            ref = f"{table}#{_key(obj)}"
            site = getattr(obj, "site_id", None) if table != "sites" else _key(obj)
            if ref in held:  # changed twice in one transaction: first before, last after
                was = held[ref]
                was[2] = "create" if was[2] == "create" else action
                was[4] = after if after is None or was[4] is None else {**was[4], **after}
                continue
            held[ref] = [table, _key(obj), action, before, after, site]


def _commit(session: Session) -> None:
    """Before a commit: the request's one entry, added with its first transaction that
    changed anything and brought up to date by any later one (or the request's context on
    the entries the installation wrote itself)."""
    ctx = _CONTEXT.get()
    if ctx is None or ctx.task is not asyncio.current_task():
        return
    session.flush()  # what the view left pending: collected now, not after this hook
    rows = ctx.rows.pop(id(session), {})
    own = ctx.own.pop(id(session), [])
    request = ctx.request
    user = request.get(CURRENT_USER)
    if user is None or (not rows and not own):
        return
    address, method, path = client_address(request), request.method, request.path[:300]
    for entry in own:
        entry.remote_addr, entry.method, entry.path = address, method, path
        entry.company_id = _company(session, entry.site_id, user.company_id)
        ctx.written = True
    if own or (ctx.written and ctx.entry_id is None):
        return
    for ref, row in rows.items():
        ctx.all_rows.setdefault(ref, row)
    values = _values(session, request, user, ctx.all_rows)
    if ctx.entry_id is not None:  # a later transaction of the same request
        session.execute(update(AuditEntry).where(AuditEntry.id == ctx.entry_id).values(
            before=values["before"], after=values["after"]))
        return
    entry = AuditEntry(at=utcnow(), actor=user.username, actor_id=user.id,
                       remote_addr=address, method=method, path=path, **values)
    session.add(entry)
    session.flush()
    ctx.entry_id, ctx.written = entry.id, True


def _values(session: Session, request: web.Request, user: Any,
            rows: dict[str, list[Any]]) -> dict[str, Any]:
    """What the entry says of the rows: the main one's resource and key, and before and after
    (of that row alone, or of every row by table#key when the write touched several)."""
    main = _main(request, list(rows.values()))
    table, key, action, _before, _after, site_id = main
    site_id = site_id or next((r[5] for r in rows.values() if r[5]), None)
    if len(rows) == 1:
        before, after = main[3], main[4]
    else:
        before = {ref: r[3] for ref, r in rows.items() if r[3] is not None} or None
        after = {ref: r[4] for ref, r in rows.items() if r[4] is not None} or None
    company = (key if table == "companies" else
               _company(session, site_id, user.company_id or _created_company(rows)))
    return {"site_id": site_id, "resource": table[:32],
            "resource_id": int(key) if key.isdigit() and len(key) < 10 else None,
            "resource_key": key[:100], "name": _name(request),
            "action": _action(request.method, action), "before": before, "after": after,
            "company_id": company}


async def _unchanged(request: web.Request) -> None:
    """A write that changed nothing (the same value again) is recorded too, as such."""
    user = request.get(CURRENT_USER)
    if user is None:
        return
    key = request.match_info.get("id")
    resource = request.path.removeprefix("/api/v1/").split("/", 1)[0]
    async with request.app[SESSIONS]() as session, session.begin():
        site_id = key if resource == "sites" else None
        company = await session.scalar(select(Site.company_id).where(Site.id == site_id)) \
            if site_id else None
        session.add(AuditEntry(
            at=utcnow(), actor=user.username, actor_id=user.id, site_id=site_id,
            resource=resource[:32], resource_id=int(key) if key and key.isdigit() and
            len(key) < 10 else None, resource_key=key, name=_name(request),
            action=_action(request.method, "update"), before=None, after=None,
            company_id=company or user.company_id, remote_addr=client_address(request),
            method=request.method, path=request.path[:300]))


def _main(request: web.Request, rows: list[list[Any]]) -> list[Any]:
    """The row the request is about: the one its path names, else the first it created, else
    the first it changed."""
    named = request.match_info.get("id")
    if named is not None:
        for row in rows:
            if row[1] == named:
                return row
    return next((r for r in rows if r[2] == "create"), rows[0])


def _created_company(rows: dict[str, list[Any]]) -> str | None:
    for row in rows.values():
        after = row[4]
        if row[0] == "users" and after and after.get("company_id"):
            return str(after["company_id"])
    return None


def _company(session: Session, site_id: str | None, fallback: str | None) -> str | None:
    if site_id is None:
        return fallback
    company = session.execute(select(Site.company_id).where(Site.id == site_id)).scalar()
    return company or fallback


def _name(request: web.Request) -> str:
    endpoint = getattr(request.match_info.handler, "__self__", None)
    view = endpoint.view.__name__ if isinstance(endpoint, Endpoint) else request.path
    return view[:64]


def _action(method: str, row_action: str) -> AuditAction:
    if method == "DELETE":
        return "delete"
    return "create" if row_action == "create" and method == "POST" else "update"


event.listen(Session, "after_flush", _collect)
event.listen(Session, "before_commit", _commit)


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Open the audit context of a write to a declared endpoint."""
    endpoint = getattr(request.match_info.handler, "__self__", None)
    if request.method not in WRITE_METHODS or not isinstance(endpoint, Endpoint):
        return await handler(request)
    ctx = AuditContext(request, asyncio.current_task())
    token = _CONTEXT.set(ctx)
    try:
        response = await handler(request)
    finally:
        _CONTEXT.reset(token)
    dry_run = request.query.get("dry_run", "").lower() in ("true", "1", "yes")
    if not ctx.written and response.status < 400 and not dry_run:  # a dry run changes nothing
        await _unchanged(request)
    return response


__all__ = ["audit_middleware", "client_address", "parse_proxies"]

"""The audit log page: the API's search (hub.api.registry.audit) with its filters in the
address, a page of entries at a time, and the same filters exported as CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import ValidationError

from hub.api.core.errors import ApiError
from hub.api.core.keys import COMPANY_SITES
from hub.api.core.scope import scope_for
from hub.api.core.store import reading
from hub.api.registry.audit import AuditQuery, search
from hub.audit import AuditEntry
from hub.console.i18n import choose_language, translate
from hub.models import User

PAGE_SIZE = 50
FILTERS = ("user", "resource", "resource_id", "q", "since", "until")


def _local_input(value: str) -> str | None:
    """A `datetime-local` field (no zone) read as UTC; empty stays unset."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value  # the query model names it
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """`field: old → new` per field, short enough for a table cell."""
    keys = sorted(set(before or {}) | set(after or {}))
    parts = []
    for key in keys[:8]:
        old = (before or {}).get(key)
        new = (after or {}).get(key)
        text = json.dumps(old if after is None else new, ensure_ascii=False)[:60]
        if before is not None and after is not None:
            text = f"{json.dumps(old, ensure_ascii=False)[:40]} → {text}"
        parts.append(f"{key}: {text}")
    if len(keys) > 8:
        parts.append(f"… +{len(keys) - 8}")
    return "; ".join(parts)


async def audit_page(request: web.Request, user: User) -> dict[str, Any]:
    lang = choose_language(request)
    given = {k: request.query.get(k, "").strip() for k in FILTERS}
    raw: dict[str, Any] = {k: v for k, v in given.items() if v}
    for key in ("since", "until"):
        if key in raw:
            raw[key] = _local_input(raw[key])
    before = request.query.get("before", "")
    if before.isdigit():
        raw["before"] = before
    error: str | None = None
    rows: list[AuditEntry] = []
    older: int | None = None
    try:
        query = AuditQuery.model_validate({**raw, "limit": PAGE_SIZE})
        async with reading(request) as session:
            rows, older = await search(session, scope_for(user, request.get(COMPANY_SITES)),
                                       query)
    except ValidationError as exc:
        error = translate(lang, "audit.bad_filter", detail="; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    except ApiError as exc:
        error = translate(lang, "audit.bad_filter", detail=str(exc))
    kept = {k: v for k, v in given.items() if v}
    export = {k: v for k, v in raw.items() if k != "before"} | {"format": "csv"}
    return {
        "filters": given,
        "entries": [{"entry": r, "change": _change(r.before, r.after)} for r in rows],
        "older": "?" + urlencode(kept | {"before": older}) if older else None,
        "newest": "?" + urlencode(kept) if before else None,
        "export": "/api/v1/audit?" + urlencode(export),
        "error": error,
    }

"""texts the hub writes are kept as a code with parameters (read in the reader's language)

Alarms (message), alarm history (note), notices a rule posts (title and body) and work
orders (title) gain a hub/texts code and its parameters. Rows written before keep their
text and are given a code where it can be told from the row: an alarm reads by its type
and where it is; a fault or preventive order by its device, fault code and the fault's own
English and Chinese; an elevator notice by its device.

Revision ID: 0023a
Revises: 0007, 0008
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0023a"
down_revision: str | tuple[str, ...] | None = ("0007", "0008")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = {
    "alarms": ("message_code", "message_params"),
    "alarm_history": ("note_code", "note_params"),
    "notices": ("text_code", "text_params"),
    "work_orders": ("title_code", "title_params"),
}


def upgrade() -> None:
    # nullable, no default: ADD COLUMN rewrites nothing, on SQLite or PostgreSQL
    for table, (code, params) in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(code, sa.String(64), nullable=True))
            batch.add_column(sa.Column(params, sa.JSON(), nullable=True))
    conn = op.get_bind()
    _backfill_alarms(conn)
    _backfill_orders(conn)
    _backfill_notices(conn)


def _word(code: str, value: str) -> dict[str, str]:
    return {"code": code, "fallback": value}


def _update(conn: sa.Connection, table: str, code: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    t = sa.table(table, sa.column("id"), sa.column(code, sa.String),
                 sa.column(code.replace("_code", "_params"), sa.JSON))
    stmt = (sa.update(t).where(t.c.id == sa.bindparam("row_id"))
            .values({code: sa.bindparam("c"), code.replace("_code", "_params"): sa.bindparam("p")}))
    conn.execute(stmt, rows)


def _backfill_alarms(conn: sa.Connection) -> None:
    rows = conn.execute(sa.text("SELECT id, type, door, device, edge FROM alarms")).all()
    _update(conn, "alarms", "message_code", [
        {"row_id": i, "c": "alarm_msg.legacy",
         "p": {"type": _word(f"alarm_type.{kind}", kind), "where": door or device or edge or "-"}}
        for i, kind, door, device, edge in rows])


def _backfill_orders(conn: sa.Connection) -> None:
    rows = conn.execute(sa.text(
        "SELECT w.id, w.kind, w.fault_code, w.pm_due_on, d.name, d.id FROM work_orders w "
        "JOIN devices d ON d.id = w.device_id WHERE w.kind IN ('fault', 'preventive')")).all()
    faults = {(device_id, code): (text, text_zh) for device_id, code, text, text_zh in conn.execute(
        sa.text("SELECT device_id, code, text, text_zh FROM device_faults ORDER BY id")).all()}
    out = []
    for order_id, kind, code, due, device, device_id in rows:
        if kind == "preventive":
            out.append({"row_id": order_id, "c": "wo_title.preventive",
                        "p": {"device": device, "due": str(due)}})
        elif code and (device_id, code) in faults:
            text, text_zh = faults[(device_id, code)]
            out.append({"row_id": order_id, "c": "wo_title.device_fault",
                        "p": {"device": device, "code": code,
                              "fault": {"en": text, "zh": text_zh}}})
    _update(conn, "work_orders", "title_code", out)


def _backfill_notices(conn: sa.Connection) -> None:
    rows = conn.execute(sa.text(
        "SELECT id, title FROM notices WHERE source = 'rule:elevator-out-of-service'")).all()
    out = []
    for notice_id, title in rows:
        device = title.rsplit(": ", 1)[-1]
        code = "notice.elevator_back" if title.startswith("电梯恢复") else "notice.elevator_out"
        out.append({"row_id": notice_id, "c": code, "p": {"device": device}})
    _update(conn, "notices", "text_code", out)


def downgrade() -> None:
    for table, (code, params) in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_column(params)
            batch.drop_column(code)

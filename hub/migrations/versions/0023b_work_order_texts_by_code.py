"""the notes and descriptions the hub writes on work orders are kept as a code too

A preventive order's description ("every 30 days") and the escalation's history note
("overdue by 3 h 05 min") gain a hub/texts code with parameters; rows written before keep
their English text (preventive orders get their code back from the text).

Revision ID: 0023b
Revises: 0023a
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023b"
down_revision: str | None = "0023a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVERY = re.compile(r"^every (\d+) days$")


def upgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("description_code", sa.String(64), nullable=True))
        batch.add_column(sa.Column("description_params", sa.JSON(), nullable=True))
    with op.batch_alter_table("work_order_history") as batch:
        batch.add_column(sa.Column("note_code", sa.String(64), nullable=True))
        batch.add_column(sa.Column("note_params", sa.JSON(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, description FROM work_orders WHERE kind = 'preventive'")).all()
    orders = sa.table("work_orders", sa.column("id"), sa.column("description_code", sa.String),
                      sa.column("description_params", sa.JSON))
    found = [{"row_id": i, "c": "wo_note.every_days", "p": {"days": int(m.group(1))}}
             for i, text in rows if (m := _EVERY.match(text or ""))]
    if found:
        conn.execute(sa.update(orders).where(orders.c.id == sa.bindparam("row_id"))
                     .values(description_code=sa.bindparam("c"),
                             description_params=sa.bindparam("p")), found)


def downgrade() -> None:
    with op.batch_alter_table("work_order_history") as batch:
        batch.drop_column("note_params")
        batch.drop_column("note_code")
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("description_params")
        batch.drop_column("description_code")

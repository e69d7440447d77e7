"""the audit of every write: any key, the company, the client's address, method and path

Revision ID: 0041b
Revises: 0019a, 0041a
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041b"
down_revision: tuple[str, ...] = ("0019a", "0041a")  # audit_log; companies (sites.company_id)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("resource_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("resource_key", sa.String(100), nullable=True))
        batch.add_column(sa.Column("company_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("remote_addr", sa.String(64), nullable=True))
        batch.add_column(sa.Column("method", sa.String(8), nullable=True))
        batch.add_column(sa.Column("path", sa.String(300), nullable=True))
        batch.create_index("ix_audit_log_company_id_at", ["company_id", "at"])
        batch.create_index("ix_audit_log_resource_key", ["resource", "resource_key"])
    # the entries from before: their key as text, their company as their site's
    op.execute("UPDATE audit_log SET resource_key = CAST(resource_id AS VARCHAR(100))")
    op.execute("UPDATE audit_log SET company_id = (SELECT sites.company_id FROM sites "
               "WHERE sites.id = audit_log.site_id)")


def downgrade() -> None:
    op.execute("DELETE FROM audit_log WHERE resource_id IS NULL")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_resource_key")
        batch.drop_index("ix_audit_log_company_id_at")
        for column in ("path", "method", "remote_addr", "company_id", "resource_key"):
            batch.drop_column(column)
        batch.alter_column("resource_id", existing_type=sa.Integer(), nullable=False)

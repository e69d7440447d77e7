"""companies above sites: every existing site goes into the default company; a company
admin's company on the user

Revision ID: 0041a
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0041a"
down_revision: str | None = "0004"  # users.household_id … (the people registry)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_COMPANY = "default"


def upgrade() -> None:
    companies = op.create_table(
        "companies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(companies, [{"id": DEFAULT_COMPANY, "name": "Default company",
                                "created_at": datetime.now(UTC)}])
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("company_id", sa.String(64), nullable=False,
                                   server_default=DEFAULT_COMPANY))
        batch.create_foreign_key("fk_sites_company_id", "companies", ["company_id"], ["id"])
        batch.create_index("ix_sites_company_id", ["company_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("company_id", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_users_company_id", "companies", ["company_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_company_id", type_="foreignkey")
        batch.drop_column("company_id")
    with op.batch_alter_table("sites") as batch:
        batch.drop_index("ix_sites_company_id")
        batch.drop_constraint("fk_sites_company_id", type_="foreignkey")
        batch.drop_column("company_id")
    op.drop_table("companies")

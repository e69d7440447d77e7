"""the downlink messages each edge refused, as it last reported them

Revision ID: 0026a
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026a"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edges") as batch:
        batch.add_column(sa.Column("downlink_refused", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("edges") as batch:
        batch.drop_column("downlink_refused")

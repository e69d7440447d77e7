"""the installation kept by the hub (issue 15): lines, lifts and their floors, cameras, the
readers and wiring of doors, how installed devices are reached, and the audit trail

Revision ID: 0019a
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.models import UtcDateTime

revision: str = "0019a"
# 0002: the devices table, whose rows installed devices are
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edges") as batch:
        batch.add_column(sa.Column("label", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("edge_id", sa.Integer(), sa.ForeignKey("edges.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("port", sa.String(200), nullable=False),
        sa.Column("baudrate", sa.Integer(), nullable=False),
        sa.Column("parity", sa.String(1), nullable=False),
        sa.Column("stopbits", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.UniqueConstraint("edge_id", "name"),
        sa.UniqueConstraint("edge_id", "port"),
    )
    op.create_index("ix_lines_site_id", "lines", ["site_id"])
    op.create_index("ix_lines_edge_id", "lines", ["edge_id"])
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("edge_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("label", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("transport", sa.String(8), nullable=True))
        batch.add_column(sa.Column("line_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("host", sa.String(200), nullable=True))
        batch.add_column(sa.Column("tcp_port", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("poll_interval_s", sa.Float(), nullable=True))
        batch.create_foreign_key("fk_devices_edge_id_edges", "edges", ["edge_id"], ["id"])
        batch.create_foreign_key("fk_devices_line_id_lines", "lines", ["line_id"], ["id"])
        batch.create_unique_constraint("uq_devices_line_id_unit_id", ["line_id", "unit_id"])
        batch.create_index("ix_devices_edge_id", ["edge_id"])
        batch.create_index("ix_devices_line_id", ["line_id"])
    op.create_table(
        "lifts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("edge_id", sa.Integer(), sa.ForeignKey("edges.id"), nullable=False),
        sa.Column("building_id", sa.Integer(), sa.ForeignKey("buildings.id"), nullable=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False,
                  unique=True),
        sa.Column("floor_enable_s", sa.Float(), nullable=False),
        sa.UniqueConstraint("site_id", "name"),
    )
    op.create_index("ix_lifts_site_id", "lifts", ["site_id"])
    op.create_index("ix_lifts_edge_id", "lifts", ["edge_id"])
    op.create_table(
        "lift_floors",
        sa.Column("lift_id", sa.Integer(), sa.ForeignKey("lifts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("floor", sa.Integer(), primary_key=True),
        sa.Column("label", sa.String(16), nullable=False),
        sa.UniqueConstraint("lift_id", "label"),
    )
    with op.batch_alter_table("doors") as batch:
        batch.add_column(sa.Column("line_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reader_address", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reader_key", sa.String(32), nullable=True))
        batch.add_column(sa.Column("relay_output", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("contact_input", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rex_input", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("fail_safe_egress", sa.Boolean(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("unlock_s", sa.Float(), nullable=False, server_default="5"))
        batch.add_column(sa.Column("held_open_s", sa.Float(), nullable=False,
                                   server_default="30"))
        batch.add_column(sa.Column("lift_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_doors_line_id_lines", "lines", ["line_id"], ["id"])
        batch.create_foreign_key("fk_doors_lift_id_lifts", "lifts", ["lift_id"], ["id"])
        batch.create_unique_constraint("uq_doors_line_id_reader_address",
                                       ["line_id", "reader_address"])
        batch.create_index("ix_doors_line_id", ["line_id"])
        batch.create_index("ix_doors_lift_id", ["lift_id"])
    # the doors there are: wired as the edge's file assumed (contact on 0, exit button on 1);
    # null means "none wired", so no server default
    op.execute("UPDATE doors SET contact_input = 0, rex_input = 1")
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("edge_id", sa.Integer(), sa.ForeignKey("edges.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("door_id", sa.Integer(), sa.ForeignKey("doors.id"), nullable=True),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.UniqueConstraint("site_id", "edge_id", "name"),
    )
    op.create_index("ix_cameras_site_id", "cameras", ["site_id"])
    op.create_index("ix_cameras_edge_id", "cameras", ["edge_id"])
    op.create_index("ix_cameras_door_id", "cameras", ["door_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_site_id_at", "audit_log", ["site_id", "at"])
    op.create_index("ix_audit_log_resource", "audit_log", ["resource", "resource_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("cameras")
    with op.batch_alter_table("doors") as batch:
        batch.drop_index("ix_doors_lift_id")
        batch.drop_index("ix_doors_line_id")
        batch.drop_constraint("uq_doors_line_id_reader_address", type_="unique")
        batch.drop_constraint("fk_doors_lift_id_lifts", type_="foreignkey")
        batch.drop_constraint("fk_doors_line_id_lines", type_="foreignkey")
        for column in ("lift_id", "held_open_s", "unlock_s", "fail_safe_egress", "rex_input",
                       "contact_input", "relay_output", "reader_key", "reader_address",
                       "line_id"):
            batch.drop_column(column)
    op.drop_table("lift_floors")
    op.drop_table("lifts")
    with op.batch_alter_table("devices") as batch:
        batch.drop_index("ix_devices_line_id")
        batch.drop_index("ix_devices_edge_id")
        batch.drop_constraint("uq_devices_line_id_unit_id", type_="unique")
        batch.drop_constraint("fk_devices_line_id_lines", type_="foreignkey")
        batch.drop_constraint("fk_devices_edge_id_edges", type_="foreignkey")
        for column in ("poll_interval_s", "tcp_port", "host", "unit_id", "line_id", "transport",
                       "label", "edge_id"):
            batch.drop_column(column)
    op.drop_table("lines")
    with op.batch_alter_table("edges") as batch:
        batch.drop_column("label")

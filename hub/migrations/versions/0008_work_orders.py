"""work orders with history, notes, parts and photos; technician skills; equipment ledger;
the work-order notification outbox

Revision ID: 0008
Revises: 0002, 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
# A merge of 0002 (devices) and 0004 (households), whose tables it references by foreign
# key. Not `down_revision = "0001"` with `depends_on = ("0002", "0004")`: Alembic 1.20 then
# treats the revision as a merge of 0001, 0002 and 0004 and fails (KeyError '0001') when
# 0002 and 0004 are the only heads.
down_revision: str | tuple[str, ...] | None = ("0002", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('equipment_ledger',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('install_date', sa.Date(), nullable=True),
    sa.Column('cycle_days', sa.Integer(), nullable=True),
    sa.Column('last_maintained_on', sa.Date(), nullable=True),
    sa.Column('next_due_on', sa.Date(), nullable=True),
    sa.Column('lead_days', sa.Integer(), nullable=True),
    sa.Column('skill', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_index(op.f('ix_equipment_ledger_next_due_on'), 'equipment_ledger', ['next_due_on'], unique=False)
    op.create_table('technician_skills',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('skill', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'skill')
    )
    op.create_table('work_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('fault_code', sa.String(length=32), nullable=True),
    sa.Column('open_key', sa.String(length=100), nullable=True),
    sa.Column('pm_due_on', sa.Date(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('skill', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.String(length=500), nullable=True),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id', 'pm_due_on', name='uq_work_orders_pm_cycle'),
    sa.UniqueConstraint('open_key', name='uq_work_orders_open_key')
    )
    op.create_index('ix_work_orders_assignee_state', 'work_orders', ['assignee_id', 'state'], unique=False)
    op.create_index(op.f('ix_work_orders_device_id'), 'work_orders', ['device_id'], unique=False)
    op.create_index(op.f('ix_work_orders_household_id'), 'work_orders', ['household_id'], unique=False)
    op.create_index('ix_work_orders_site_created', 'work_orders', ['site_id', 'created_at'], unique=False)
    op.create_index('ix_work_orders_state_due', 'work_orders', ['state', 'due_at'], unique=False)
    op.create_table('work_order_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_work_order_history_order_id'), 'work_order_history', ['order_id'], unique=False)
    op.create_table('work_order_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_work_order_notes_order_id'), 'work_order_notes', ['order_id'], unique=False)
    op.create_table('work_order_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('live_sent', sa.Boolean(), nullable=False),
    sa.Column('webhook_attempts', sa.Integer(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_work_order_outbox_pending', 'work_order_outbox', ['done', 'next_attempt_at'], unique=False)
    op.create_table('work_order_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_work_order_parts_order_id'), 'work_order_parts', ['order_id'], unique=False)
    op.create_table('work_order_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_work_order_photos_order_id'), 'work_order_photos', ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_work_order_photos_order_id'), table_name='work_order_photos')
    op.drop_table('work_order_photos')
    op.drop_index(op.f('ix_work_order_parts_order_id'), table_name='work_order_parts')
    op.drop_table('work_order_parts')
    op.drop_index('ix_work_order_outbox_pending', table_name='work_order_outbox')
    op.drop_table('work_order_outbox')
    op.drop_index(op.f('ix_work_order_notes_order_id'), table_name='work_order_notes')
    op.drop_table('work_order_notes')
    op.drop_index(op.f('ix_work_order_history_order_id'), table_name='work_order_history')
    op.drop_table('work_order_history')
    op.drop_index('ix_work_orders_state_due', table_name='work_orders')
    op.drop_index('ix_work_orders_site_created', table_name='work_orders')
    op.drop_index(op.f('ix_work_orders_household_id'), table_name='work_orders')
    op.drop_index(op.f('ix_work_orders_device_id'), table_name='work_orders')
    op.drop_index('ix_work_orders_assignee_state', table_name='work_orders')
    op.drop_table('work_orders')
    op.drop_table('technician_skills')
    op.drop_index(op.f('ix_equipment_ledger_next_due_on'), table_name='equipment_ledger')
    op.drop_table('equipment_ledger')

"""outbox notices: alert_outbox rows without an escalation (the caller's chat link SMS)

Revision ID: 0005_outbox_notices
Revises: 0004_stats
Create Date: 2026-11-28 06:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_outbox_notices"
down_revision = "0004_stats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.alter_column('escalation_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=True)
        batch_op.alter_column('task_id', existing_type=sa.String(length=64), type_=sa.String(length=128),
                              existing_nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM alert_outbox WHERE escalation_id IS NULL")
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.alter_column('task_id', existing_type=sa.String(length=128), type_=sa.String(length=64),
                              existing_nullable=False)
        batch_op.alter_column('escalation_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=False)

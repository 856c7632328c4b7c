"""Delivery window: alerts are retried for a time window, urgent ones that cannot arrive in time escalate once,
and robots' rate windows are kept in the database so that every process counts against one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # both nullable: existing rows keep their created_at as the start of their window and escalate at most once
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('retry_since', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('escalated_at', sa.DateTime(), nullable=True))
    op.create_table('rate_windows',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('stamps', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_windows'))
    )


def downgrade() -> None:
    op.drop_table('rate_windows')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('escalated_at')
        batch.drop_column('retry_since')

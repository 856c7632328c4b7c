"""Review band: suggestions and cases say when a complaint came near the paging threshold.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('suggestions') as batch:
        batch.add_column(sa.Column('needs_review', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('review_reasons', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('needs_review', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index(batch.f('ix_cases_needs_review'), ['needs_review'])


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_index(batch.f('ix_cases_needs_review'))
        batch.drop_column('needs_review')
    with op.batch_alter_table('suggestions') as batch:
        batch.drop_column('review_reasons')
        batch.drop_column('needs_review')

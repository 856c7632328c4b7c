"""Managers' view indexes: the label facts indexed in the order of each aggregate's GROUP BY (so that counting a
period reads an index once, with no sort), each case's comment time and channel copied in with a covering index
for the SLA and urgent-reason counts, and the comments' departments indexed for the filter's list. Existing cases
are backfilled.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SLA_COLUMNS = ['urgency', 'received_at', 'department', 'channel', 'answer_due_at', 'resolved_at', 'ack_due_at',
               'acknowledged_at']


def upgrade() -> None:
    # nullable, added in place: a NOT NULL column would make SQLite copy the cases table, and dropping the old
    # one with foreign keys on cascades into every case's reasons, touchpoints, events and timers
    op.add_column('cases', sa.Column('received_at', sa.DateTime(), nullable=True))
    op.add_column('cases', sa.Column('channel', sa.String(length=32), nullable=True))
    bind = op.get_bind()
    meta = sa.MetaData()
    cases = sa.Table('cases', meta, autoload_with=bind)
    comments = sa.Table('comments', meta, autoload_with=bind)

    def of_comment(column):
        return sa.select(column).where(comments.c.id == cases.c.comment_id).scalar_subquery()

    bind.execute(cases.update().values(received_at=of_comment(comments.c.received_at),
                                       channel=of_comment(comments.c.channel)))
    op.create_index('ix_cases_sla', 'cases', SLA_COLUMNS)
    op.create_index('ix_comments_department', 'comments', ['department'])
    op.drop_index('ix_comment_aspects_period', table_name='comment_aspects')
    op.drop_index('ix_comment_aspects_week', table_name='comment_aspects')
    op.create_index('ix_comment_aspects_weeks', 'comment_aspects',
                    ['week', 'touchpoint', 'sentiment', 'received_at', 'department', 'channel'])
    op.create_index('ix_comment_aspects_negative', 'comment_aspects', ['sentiment', 'week', 'touchpoint', 'department'])
    op.create_index('ix_comment_aspects_labels', 'comment_aspects',
                    ['touchpoint', 'sentiment', 'received_at', 'department', 'channel'])


def downgrade() -> None:
    op.drop_index('ix_comment_aspects_labels', table_name='comment_aspects')
    op.drop_index('ix_comment_aspects_negative', table_name='comment_aspects')
    op.drop_index('ix_comment_aspects_weeks', table_name='comment_aspects')
    op.create_index('ix_comment_aspects_week', 'comment_aspects', ['week', 'sentiment', 'touchpoint', 'department'])
    op.create_index('ix_comment_aspects_period', 'comment_aspects',
                    ['received_at', 'week', 'touchpoint', 'sentiment', 'department', 'channel'])
    op.drop_index('ix_comments_department', table_name='comments')
    op.drop_index('ix_cases_sla', table_name='cases')
    # ALTER TABLE DROP COLUMN (SQLite 3.35 and later) rather than a batch copy, for the same reason
    op.drop_column('cases', 'channel')
    op.drop_column('cases', 'received_at')

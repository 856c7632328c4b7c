"""Managers' view: each comment's jieba words, label facts per comment and touchpoint, urgent reasons per case, the SLA as set when a case
opened, spike flags, and the indexes the view's aggregates read. Existing rows are backfilled.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    op.create_index('ix_comments_received_at', 'comments', ['received_at'])
    with op.batch_alter_table('comments') as batch:
        batch.add_column(sa.Column('words', sa.JSON(), nullable=True))
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('ack_due_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('answer_due_at', sa.DateTime(), nullable=True))
    op.create_table('case_reasons',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_reasons_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'reason', name=op.f('pk_case_reasons'))
    )
    op.create_index(op.f('ix_case_reasons_reason'), 'case_reasons', ['reason'])
    op.create_table('comment_aspects',
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('touchpoint', sa.String(length=32), nullable=False),
    sa.Column('sentiment', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_comment_aspects_comment_id_comments'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('comment_id', 'touchpoint', name=op.f('pk_comment_aspects'))
    )
    op.create_index('ix_comment_aspects_period', 'comment_aspects',
                    ['received_at', 'week', 'touchpoint', 'sentiment', 'department', 'channel'])
    op.create_index('ix_comment_aspects_week', 'comment_aspects', ['week', 'sentiment', 'touchpoint', 'department'])
    op.create_table('spike_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('touchpoint', sa.String(length=32), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=False),
    sa.Column('detected_at', sa.DateTime(), nullable=False),
    sa.Column('alerted_at', sa.DateTime(), nullable=True),
    sa.Column('route', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spike_flags')),
    sa.UniqueConstraint('week', 'touchpoint', 'department', name='uq_spike_flags_cell_week')
    )
    op.create_index(op.f('ix_spike_flags_week'), 'spike_flags', ['week'])
    _backfill(op.get_bind())


def _backfill(bind) -> None:
    """Facts of the comments stored before this revision (latest human labels first, else the model's), the
    reasons of their cases, and each case's SLA deadlines (from its first timer; the answer deadline of an
    urgent case, which had no such timer, from the working-day calendar)."""
    from pvoice.serving.insights.facts import HUMAN, MODEL, aspect_rows, content_words
    from pvoice.serving.routing import add_working_days, load_calendar
    from pvoice.settings import get_settings

    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    meta = sa.MetaData()
    comments = sa.Table('comments', meta, autoload_with=bind)
    suggestions = sa.Table('suggestions', meta, autoload_with=bind)
    responses = sa.Table('label_responses', meta, autoload_with=bind)
    cases = sa.Table('cases', meta, autoload_with=bind)
    timers = sa.Table('timers', meta, autoload_with=bind)
    aspects = sa.Table('comment_aspects', meta, autoload_with=bind)
    reasons = sa.Table('case_reasons', meta, autoload_with=bind)

    def utc(value):
        return None if value is None else value.replace(tzinfo=timezone.utc)

    latest = sa.select(sa.func.max(responses.c.id)).group_by(responses.c.comment_id).scalar_subquery()
    human = {r.comment_id: r for r in bind.execute(sa.select(responses).where(responses.c.id.in_(latest)))}
    last = 0
    while True:
        rows = bind.execute(
            sa.select(comments.c.id, comments.c.text, comments.c.received_at, comments.c.department,
                      comments.c.channel, suggestions.c.touchpoints, suggestions.c.aspects, suggestions.c.sentiment)
            .join(suggestions, suggestions.c.comment_id == comments.c.id)
            .where(comments.c.id > last).order_by(comments.c.id).limit(BATCH)).all()
        if not rows:
            break
        out = []
        for row in rows:
            labels, source = (human[row.id], HUMAN) if row.id in human else (row, MODEL)
            for fact in aspect_rows(comment_id=row.id, touchpoints=labels.touchpoints or [],
                                    aspects=labels.aspects or {}, sentiment=labels.sentiment,
                                    received_at=utc(row.received_at), department=row.department,
                                    channel=row.channel, source=source, zone=zone):
                out.append({**fact, "received_at": row.received_at})  # stored naive, in UTC
        if out:
            bind.execute(aspects.insert(), out)
        for row in rows:
            bind.execute(comments.update().where(comments.c.id == row.id).values(words=content_words(row.text)))
        last = rows[-1].id

    for row in bind.execute(sa.select(cases.c.id, suggestions.c.urgent_reasons)
                            .join(suggestions, suggestions.c.comment_id == cases.c.comment_id)).all():
        if row.urgent_reasons:
            bind.execute(reasons.insert(), [{"case_id": row.id, "reason": r} for r in dict.fromkeys(row.urgent_reasons)])

    calendar = load_calendar(settings.holidays_path)
    first = {(t.case_id, t.kind): t.due_at for t in bind.execute(
        sa.select(timers.c.case_id, timers.c.kind, timers.c.due_at).where(timers.c.level == 0))}
    for case in bind.execute(sa.select(cases.c.id, cases.c.urgency, cases.c.created_at)).all():
        ack = first.get((case.id, 'ack_due')) if case.urgency == 'urgent' else None
        answer = first.get((case.id, 'answer_due'))
        if answer is None:
            local = utc(case.created_at).astimezone(zone)
            answer = add_working_days(local, settings.sla_complaint_working_days, calendar).astimezone(
                timezone.utc).replace(tzinfo=None)
        if ack is None and case.urgency == 'urgent':
            ack = case.created_at + timedelta(minutes=settings.sla_urgent_ack_minutes)
        bind.execute(cases.update().where(cases.c.id == case.id).values(ack_due_at=ack, answer_due_at=answer))


def downgrade() -> None:
    op.drop_index(op.f('ix_spike_flags_week'), table_name='spike_flags')
    op.drop_table('spike_flags')
    op.drop_index('ix_comment_aspects_week', table_name='comment_aspects')
    op.drop_index('ix_comment_aspects_period', table_name='comment_aspects')
    op.drop_table('comment_aspects')
    op.drop_index(op.f('ix_case_reasons_reason'), table_name='case_reasons')
    op.drop_table('case_reasons')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('answer_due_at')
        batch.drop_column('ack_due_at')
    with op.batch_alter_table('comments') as batch:
        batch.drop_column('words')
    op.drop_index('ix_comments_received_at', table_name='comments')

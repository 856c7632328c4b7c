"""Tables of the triage service. Change them only together with a new migration in `migrations/versions`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import (
    JSON, Date, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Text, TypeDecorator, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, whatever the backend keeps (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings so a person can tell keys apart
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_received_at", "received_at"),
        # the managers' view lists the departments by walking this index, one look-up per department
        Index("ix_comments_department", "department"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    department: Mapped[str | None] = mapped_column(String(100), nullable=True)
    ward: Mapped[str | None] = mapped_column(String(100), nullable=True)
    patient_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    truncated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    # jieba's content words of the text (stop words out), cut once when the comment is stored, so that the
    # managers' view counts keywords without cutting texts on every page
    words: Mapped[list | None] = mapped_column(JSON, nullable=True)

    suggestion: Mapped[Suggestion] = relationship(back_populates="comment", uselist=False)
    responses: Mapped[list[LabelResponse]] = relationship(back_populates="comment", order_by="LabelResponse.id")
    case: Mapped[Case | None] = relationship(back_populates="comment", uselist=False)


class Suggestion(Base):
    """What the model said about a comment; never edited, so it stays comparable with human labels."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), unique=True)
    model_version: Mapped[str] = mapped_column(String(100))
    touchpoints: Mapped[list] = mapped_column(JSON)
    aspects: Mapped[dict] = mapped_column(JSON)
    sentiment: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    urgent_reasons: Mapped[list] = mapped_column(JSON)
    probabilities: Mapped[dict] = mapped_column(JSON)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    # a complaint whose strongest sentence came near the paging threshold: a person decides
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reasons: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    comment: Mapped[Comment] = relationship(back_populates="suggestion")


class LabelResponse(Base):
    """A person's labels for a comment, kept apart from the suggestion they may correct."""

    __tablename__ = "label_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    touchpoints: Mapped[list] = mapped_column(JSON)
    aspects: Mapped[dict] = mapped_column(JSON)
    sentiment: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    urgent_reasons: Mapped[list] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the model version of the suggestion this person saw, and the taxonomy the labels come from
    suggestion_model_version: Mapped[str] = mapped_column(String(100))
    taxonomy_version: Mapped[int] = mapped_column(Integer)

    comment: Mapped[Comment] = relationship(back_populates="responses")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # covering: the managers' view's SLA and urgent-reason counts of a period, per urgency, filtered by
        # department and channel, read this index alone
        Index("ix_cases_sla", "urgency", "received_at", "department", "channel", "answer_due_at", "resolved_at",
              "ack_due_at", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | acknowledged | resolved
    urgency: Mapped[str] = mapped_column(String(16), index=True)
    department: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    responsible_role: Mapped[str] = mapped_column(String(100))
    route: Mapped[str] = mapped_column(String(100))
    assignee: Mapped[str] = mapped_column(String(100), index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    needs_review: Mapped[bool] = mapped_column(default=False, index=True)  # possibly urgent: a person decides
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the SLA as set when the case opened (`due_at` moves with each escalation): acknowledged by `ack_due_at`
    # (urgent cases), answered (resolved) by `answer_due_at`, working days counted; read by the managers' view
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the comment's time and channel, copied in (a comment never changes) so that the view counts a period's
    # cases without a join; set with every case, nullable only because SQLite adds a NOT NULL column to an
    # existing table by rebuilding it (migration 0006 fills the older rows)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)

    comment: Mapped[Comment] = relationship(back_populates="case")
    touchpoints: Mapped[list[CaseTouchpoint]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    events: Mapped[list[CaseEvent]] = relationship(order_by="CaseEvent.id", cascade="all, delete-orphan")

    @property
    def touchpoint_ids(self) -> list[str]:
        return [t.touchpoint for t in self.touchpoints]


class CaseTouchpoint(Base):
    """One row per touchpoint of a case, so that filtering by touchpoint is an index look-up on any backend."""

    __tablename__ = "case_touchpoints"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    touchpoint: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class CaseReason(Base):
    """One row per urgent reason of a case (the model's, when the case opened): counted by the managers' view."""

    __tablename__ = "case_reasons"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class CommentAspect(Base):
    """One row per touchpoint of a comment with the sentiment about it: what the managers' view counts.

    The labels are the latest a person gave the comment (`source` human), else the model's suggestion
    (`source` model); they are rewritten when a person labels it. The comment's own filter columns (when,
    local ISO week, department, channel) are copied in, since a comment never changes, so that each
    aggregate of the view reads one index with no join."""

    __tablename__ = "comment_aspects"
    __table_args__ = (
        # covering, in the order of the period's GROUP BY (week, touchpoint, sentiment), so that the heatmap and
        # the trend are counted as the index is read, with no sort; filtered by time, department and channel
        Index("ix_comment_aspects_weeks", "week", "touchpoint", "sentiment", "received_at", "department", "channel"),
        # the spike test's negatives per week, touchpoint and department, likewise in GROUP BY order
        Index("ix_comment_aspects_negative", "sentiment", "week", "touchpoint", "department"),
        # one touchpoint and sentiment, newest first: the keyword samples and the drill-downs
        Index("ix_comment_aspects_labels", "touchpoint", "sentiment", "received_at", "department", "channel"),
    )

    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True)
    touchpoint: Mapped[str] = mapped_column(String(32), primary_key=True)
    sentiment: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    week: Mapped[date] = mapped_column(Date)  # the Monday of the received day's ISO week, in the service's zone
    department: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(8))  # model | human


class SpikeFlag(Base):
    """A touchpoint x department whose negative comments in a week were far above its own history (one row per
    cell and week: found again, it is updated, never doubled; alerted at most once)."""

    __tablename__ = "spike_flags"
    __table_args__ = (UniqueConstraint("week", "touchpoint", "department", name="uq_spike_flags_cell_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[date] = mapped_column(Date, index=True)
    touchpoint: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(100))
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)  # the history's mean, floored
    p_value: Mapped[float] = mapped_column(Float)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    route: Mapped[str | None] = mapped_column(String(100), nullable=True)


class CaseEvent(Base):
    """The timeline of a case: what happened, when, and who (a key's name, or `system`)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class AuditEntry(Base):
    """Every action a person took through the API, with who and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Timer(Base):
    """An SLA deadline. `fired_at` is set in the same transaction as the escalation it causes."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "fired_at", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # ack_due | answer_due
    level: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)  # escalated | reminded | moot | cancelled


class OutboxAlert(Base):
    """An alert to deliver, written in the transaction of the event that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True, index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), nullable=True)
    event: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))
    recipient: Mapped[str] = mapped_column(String(100))
    urgency: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    # pending -> sending -> delivered; a failed try goes back to `failed` and is retried until the retry window
    # (alert_retry_window_hours from retry_since) has passed or the error is permanent: `dead`
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # start of the current retry window: None means created_at; an admin's retry opens a new window
    retry_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # when this urgent alert, unable to arrive within the case's SLA, was handed to the next escalation level
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def retry_deadline(self, window_seconds: float) -> datetime:
        return (self.retry_since or self.created_at) + timedelta(seconds=window_seconds)


class RateWindow(Base):
    """The recent sends to one robot, shared by every process that delivers alerts: the robot counts messages
    per minute whoever sends them. One row per target, locked while a slot is taken."""

    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the robot URL: its token is not kept
    stamps: Mapped[list] = mapped_column(JSON, default=list)  # unix seconds of the sends still in the window


class WebSession(Base):
    """A web sign-in: the cookie holds a random token, the row only its hash, the key it was opened with and the
    CSRF token its forms carry. Signing out or revoking the key ends it; so does `expires_at`."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

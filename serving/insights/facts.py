"""The label facts the managers' view counts: one `CommentAspect` row per touchpoint of a comment.

Written with the comment's suggestion when it is stored, and rewritten when a person labels the comment, so
that the view always counts the latest labels: a person's where there is one, the model's otherwise."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.orm import Session

from pvoice.scoring.summary import Keywords
from pvoice.serving.db.models import Comment, CommentAspect

MODEL, HUMAN = "model", "human"


@lru_cache(maxsize=1)
def keyword_cutter() -> Keywords:
    """Batch scoring's keyword rules (jieba, its stop words and the domain's), loaded once per process."""
    return Keywords()


def content_words(text: str) -> list[str]:
    """The distinct content words of `text`, in order: what the view's keywords count, one per comment."""
    return list(dict.fromkeys(keyword_cutter().words(text)))


def local_week(when: datetime, zone: ZoneInfo) -> date:
    """The Monday of the ISO week of `when`'s day in `zone` (the hospital's week, not UTC's)."""
    day = when.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def aspect_rows(*, comment_id: int, touchpoints: list[str], aspects: dict[str, str], sentiment: str,
                received_at: datetime, department: str | None, channel: str, source: str, zone: ZoneInfo
                ) -> list[dict]:
    """The rows of one comment, as plain dicts (bulk inserts use them as they are). A touchpoint without its
    own sentiment gets the comment's overall one."""
    week = local_week(received_at, zone)
    return [{"comment_id": comment_id, "touchpoint": t, "sentiment": aspects.get(t) or sentiment,
             "received_at": received_at, "week": week, "department": department, "channel": channel,
             "source": source} for t in dict.fromkeys(touchpoints)]


def record_aspects(session: Session, *, comment: Comment, touchpoints: list[str], aspects: dict[str, str],
                   sentiment: str, source: str, zone: ZoneInfo) -> None:
    """Replace the comment's facts with these labels, in the caller's transaction."""
    session.execute(delete(CommentAspect).where(CommentAspect.comment_id == comment.id)
                    .execution_options(synchronize_session=False))
    rows = aspect_rows(comment_id=comment.id, touchpoints=touchpoints, aspects=aspects, sentiment=sentiment,
                       received_at=comment.received_at, department=comment.department, channel=comment.channel,
                       source=source, zone=zone)
    session.add_all(CommentAspect(**row) for row in rows)
    session.flush()

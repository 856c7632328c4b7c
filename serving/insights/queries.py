"""The managers' view's aggregates: GROUP BY queries over the label facts and the cases, each reading an index;
nothing here loads the rows it counts. Every function takes the same `ViewFilter`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from pvoice.labels import Taxonomy
from pvoice.serving.db.models import Case, CaseReason, Comment, CommentAspect
from pvoice.serving.insights.filters import ViewFilter
from pvoice.serving.services.triage import CASE_URGENCIES

NEGATIVE = "negative"
URGENT = "urgent"


def _facts(query: Select, f: ViewFilter) -> Select:
    lo, hi = f.bounds()
    query = query.where(CommentAspect.received_at >= lo, CommentAspect.received_at < hi)
    if f.department:
        query = query.where(CommentAspect.department == f.department)
    if f.channel:
        query = query.where(CommentAspect.channel == f.channel)
    return query


def _weeks(f: ViewFilter):
    """The facts' weeks that can hold the period's days: the same rows as the period's time bounds, stated on the
    column that leads the GROUP BY index, so that the count streams in index order. A week either side is
    included, since a fact's week was read in the zone of its day when it was stored."""
    weeks = f.period.weeks()
    return CommentAspect.week.between(weeks[0] - timedelta(weeks=1), weeks[-1] + timedelta(weeks=1))


def _cases(query: Select, f: ViewFilter) -> Select:
    """Cases of the comments received in the period (by the comment's time and channel, copied into the case)."""
    lo, hi = f.bounds()
    query = query.where(Case.received_at >= lo, Case.received_at < hi)
    if f.department:
        query = query.where(Case.department == f.department)
    if f.channel:
        query = query.where(Case.channel == f.channel)
    return query


def departments(session: Session) -> list[str]:
    """Every department the stored comments name, for the filter's choices: the department index walked one
    look-up per department (a recursive query, the next name after the last), never a scan of the comments;
    sorted here so that the order is the same whatever the database's collation."""
    walk = select(func.min(Comment.department).label("name")).where(Comment.department.is_not(None)).cte(
        "departments", recursive=True)
    after = select(func.min(Comment.department)).where(Comment.department > walk.c.name).scalar_subquery()
    walk = walk.union_all(select(after).where(walk.c.name.is_not(None)))
    return sorted(session.scalars(select(walk.c.name).where(walk.c.name.is_not(None))))


# ---- touchpoint x sentiment ----------------------------------------------------------------------------------
@dataclass
class Heatmap:
    touchpoints: list[str]  # taxonomy order, those with at least one mention first kept in that order
    sentiments: list[str]
    counts: dict[str, dict[str, int]]  # touchpoint -> sentiment -> comments

    def total(self, touchpoint: str) -> int:
        return sum(self.counts.get(touchpoint, {}).values())

    def share(self, touchpoint: str, sentiment: str) -> float | None:
        total = self.total(touchpoint)
        return self.counts.get(touchpoint, {}).get(sentiment, 0) / total if total else None

    @property
    def comments(self) -> int:
        return sum(self.total(t) for t in self.touchpoints)


def heatmap(session: Session, f: ViewFilter, taxonomy: Taxonomy) -> Heatmap:
    """Mentions of each touchpoint by the sentiment about it (a comment counts once per touchpoint it names)."""
    return heatmap_and_trend(session, f, taxonomy)[0]


# ---- weekly trend and the change against the previous period ---------------------------------------------------
@dataclass
class Change:
    touchpoint: str
    negative: int
    mentions: int
    previous_negative: int
    previous_mentions: int

    @property
    def change(self) -> float | None:
        """Relative change of the negative count; None when the previous period had none."""
        if not self.previous_negative:
            return None
        return (self.negative - self.previous_negative) / self.previous_negative

    @property
    def share(self) -> float | None:
        return self.negative / self.mentions if self.mentions else None

    @property
    def previous_share(self) -> float | None:
        return self.previous_negative / self.previous_mentions if self.previous_mentions else None


@dataclass
class Trend:
    weeks: list[date]  # Mondays
    negative: dict[str, list[int]]  # touchpoint -> negative mentions per week
    mentions: dict[str, list[int]]
    changes: list[Change] = field(default_factory=list)  # taxonomy order


def weekly_trend(session: Session, f: ViewFilter, taxonomy: Taxonomy) -> Trend:
    """Negative mentions per touchpoint and local ISO week of the period; each touchpoint's negatives in the
    period against the period of the same length before it."""
    return heatmap_and_trend(session, f, taxonomy)[1]


def _by_week(f: ViewFilter) -> Select:
    """Mentions per week, touchpoint and sentiment in the period: counted as the covering GROUP BY index is read."""
    return _facts(select(CommentAspect.week, CommentAspect.touchpoint, CommentAspect.sentiment, func.count())
                  .where(_weeks(f))
                  .group_by(CommentAspect.week, CommentAspect.touchpoint, CommentAspect.sentiment), f)


def _previous(session: Session, f: ViewFilter) -> dict[str, tuple[int, int]]:
    """touchpoint -> (mentions, negative mentions) in the period before: the weekly counts, added up here (a
    GROUP BY touchpoint alone would sort every fact of the period)."""
    out: dict[str, tuple[int, int]] = {}
    for _, touchpoint, sentiment, n in session.execute(_by_week(f.with_period(f.period.previous()))):
        mentions, negative = out.get(touchpoint, (0, 0))
        out[touchpoint] = (mentions + n, negative + (n if sentiment == NEGATIVE else 0))
    return out


def heatmap_and_trend(session: Session, f: ViewFilter, taxonomy: Taxonomy) -> tuple[Heatmap, Trend]:
    """Both from one GROUP BY (week, touchpoint, sentiment) over the period, which the covering index of the
    facts answers alone, in its order; the change from the same over the period before."""
    weeks = f.period.weeks()
    index = {w: i for i, w in enumerate(weeks)}
    counts: dict[str, dict[str, int]] = {}
    negative = {t: [0] * len(weeks) for t in taxonomy.touchpoint_ids}
    mentions = {t: [0] * len(weeks) for t in taxonomy.touchpoint_ids}
    for week, touchpoint, sentiment, n in session.execute(_by_week(f)):
        cell = counts.setdefault(touchpoint, {})
        cell[sentiment] = cell.get(sentiment, 0) + n
        if week in index and touchpoint in mentions:
            mentions[touchpoint][index[week]] += n
            if sentiment == NEGATIVE:
                negative[touchpoint][index[week]] += n
    before = _previous(session, f)
    changes = [Change(t, sum(negative[t]), sum(mentions[t]), before.get(t, (0, 0))[1], before.get(t, (0, 0))[0])
               for t in taxonomy.touchpoint_ids]
    return (Heatmap(list(taxonomy.touchpoint_ids), list(taxonomy.sentiment_ids), counts),
            Trend(weeks, negative, mentions, changes))


# ---- urgent cases by reason ------------------------------------------------------------------------------------
@dataclass
class UrgentReasons:
    cases: int  # urgent cases of the period (a case with two reasons counts once here)
    counts: dict[str, int]  # reason -> urgent cases giving it, taxonomy order


def urgent_by_reason(session: Session, f: ViewFilter, taxonomy: Taxonomy) -> UrgentReasons:
    query = _cases(select(CaseReason.reason, func.count()).select_from(CaseReason)
                   .join(Case, Case.id == CaseReason.case_id).where(Case.urgency == URGENT)
                   .group_by(CaseReason.reason), f)
    found = dict(session.execute(query).all())
    total = session.scalar(_cases(select(func.count()).select_from(Case).where(Case.urgency == URGENT), f)) or 0
    return UrgentReasons(int(total), {r: int(found.get(r, 0)) for r in taxonomy.reason_ids})


# ---- SLA compliance --------------------------------------------------------------------------------------------
SLA_STATUSES = ("met", "missed", "pending")


@dataclass
class Compliance:
    measure: str  # ack | answer
    urgency: str  # urgent | complaint
    met: int
    missed: int
    pending: int  # not done yet, and not due yet

    @property
    def rate(self) -> float | None:
        """Met among the decided (met or missed); None before any is decided."""
        decided = self.met + self.missed
        return self.met / decided if decided else None


def _sla_columns(measure: str):
    return (Case.acknowledged_at, Case.ack_due_at) if measure == "ack" else (Case.resolved_at, Case.answer_due_at)


def sla_condition(measure: str, status: str, now: datetime):
    """Whether a case is `status` for `measure`: met, done by the deadline; missed, done late or not done and
    overdue; pending, not done and not yet due. The aggregate and its drill-down both use it."""
    done, due = _sla_columns(measure)
    return {
        "met": and_(done.is_not(None), done <= due),
        "missed": or_(and_(done.is_not(None), done > due), and_(done.is_(None), due < now)),
        "pending": and_(done.is_(None), due >= now),
    }[status]


def _sla_counts(measure: str, now: datetime) -> list:
    # a case without this deadline (a complaint has no acknowledgement deadline) meets none of the conditions:
    # each compares with the missing deadline, which is never true
    return [func.count().filter(sla_condition(measure, s, now)) for s in SLA_STATUSES]


def sla_compliance(session: Session, f: ViewFilter, *, now: datetime) -> list[Compliance]:
    """Urgent cases acknowledged by their deadline (the acknowledgement SLA, 30 minutes by default); urgent cases
    and complaints answered (resolved) by theirs (2 working days by default). Deadlines are those set when each
    case opened. One pass over the covering SLA index, per urgency."""
    query = _cases(select(Case.urgency, *_sla_counts("ack", now), *_sla_counts("answer", now)).select_from(Case)
                   .where(Case.urgency.in_(CASE_URGENCIES)).group_by(Case.urgency), f)
    found = {urgency: [int(n or 0) for n in counts] for urgency, *counts in session.execute(query)}
    none = [0] * 2 * len(SLA_STATUSES)
    out = [Compliance("ack", URGENT, *found.get(URGENT, none)[:len(SLA_STATUSES)])]
    out += [Compliance("answer", urgency, *found.get(urgency, none)[len(SLA_STATUSES):]) for urgency in CASE_URGENCIES]
    return out



# ---- the urgent cases of a period (the weekly report lists them) ------------------------------------------------
def urgent_cases(session: Session, f: ViewFilter, *, limit: int) -> tuple[list[Case], int]:
    """The period's urgent cases, oldest first, with their comment and reasons loaded; and how many there are."""
    from sqlalchemy.orm import selectinload

    query = _cases(select(Case).where(Case.urgency == URGENT), f)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.options(selectinload(Case.comment).selectinload(Comment.suggestion))
                           .order_by(Case.received_at, Case.id).limit(limit))
    return list(rows), int(total)

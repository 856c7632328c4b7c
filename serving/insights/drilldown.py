"""The comments behind one cell or bar of the managers' view, newest first, with the model's evidence marked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool

from pvoice.labels import Taxonomy
from pvoice.serving.db.models import Case, CaseReason, Comment, CommentAspect, Suggestion
from pvoice.serving.errors import InvalidInput
from pvoice.serving.masking import mask_pii
from pvoice.serving.insights.filters import ViewFilter, check_label, parse_date
from pvoice.serving.insights.queries import NEGATIVE, SLA_STATUSES, URGENT, _cases, _facts, sla_condition
from pvoice.serving.services.batcher import MicroBatcher
from pvoice.serving.services.classify import classify_texts, evidence_dict
from pvoice.serving.services.comments import store_evidence
from pvoice.serving.services.context import ServiceContext

KINDS = ("aspect", "week", "keyword", "reason", "sla")
DRILL_LIMIT = 20  # comments a drill-down page shows
KEYWORD = "keyword"  # the marks of a searched word, beside the evidence's
MEASURES = ("ack", "answer")
MAX_WORD_CHARS = 20


@dataclass(frozen=True)
class Cell:
    """What was clicked: a heatmap cell (touchpoint, sentiment), a week of a touchpoint's negative trend, a
    keyword of a touchpoint's negatives, an urgent reason, or an SLA bar (measure, urgency, status)."""

    kind: str
    touchpoint: str | None = None
    sentiment: str | None = None
    week: date | None = None
    word: str | None = None
    reason: str | None = None
    measure: str | None = None
    urgency: str | None = None
    status: str | None = None

    @property
    def evidence_key(self) -> str:
        """Which of the suggestion's evidence lists explains this cell: the touchpoint's, or the urgency's."""
        return self.touchpoint if self.kind in ("aspect", "week", "keyword") else "urgency"

    def query(self) -> dict[str, str]:
        out = {"kind": self.kind}
        for name in ("touchpoint", "sentiment", "word", "reason", "measure", "urgency", "status"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.week:
            out["week"] = self.week.isoformat()
        return out


def parse_cell(taxonomy: Taxonomy, *, kind: str | None, touchpoint: str | None = None, sentiment: str | None = None,
               week: str | None = None, word: str | None = None, reason: str | None = None,
               measure: str | None = None, urgency: str | None = None, status: str | None = None) -> Cell:
    kind = check_label(kind, list(KINDS), field="kind")
    if kind is None:
        raise InvalidInput(f"kind: say which chart was clicked, one of {', '.join(KINDS)}", field="kind")

    def need(value, name: str, valid: list[str]) -> str:
        checked = check_label(value, valid, field=name)
        if checked is None:
            raise InvalidInput(f"{name}: a {kind} drill-down needs a {name}", field=name)
        return checked

    if kind in ("aspect", "week", "keyword"):
        tp = need(touchpoint, "touchpoint", taxonomy.touchpoint_ids)
        if kind == "aspect":
            return Cell(kind, touchpoint=tp, sentiment=need(sentiment, "sentiment", taxonomy.sentiment_ids))
        if kind == "week":
            if not (week or "").strip():
                raise InvalidInput("week: a week drill-down needs the week's Monday (YYYY-MM-DD)", field="week")
            monday = parse_date(week, field="week")
            if monday.weekday() != 0:
                raise InvalidInput(f"week: {monday.isoformat()} is not a Monday", field="week")
            return Cell(kind, touchpoint=tp, sentiment=NEGATIVE, week=monday)
        word = (word or "").strip()
        if not word or len(word) > MAX_WORD_CHARS:
            raise InvalidInput(f"word: a keyword of 1 to {MAX_WORD_CHARS} characters", field="word")
        return Cell(kind, touchpoint=tp, sentiment=NEGATIVE, word=word)
    if kind == "reason":
        return Cell(kind, reason=need(reason, "reason", taxonomy.reason_ids), urgency=URGENT)
    measure = need(measure, "measure", list(MEASURES))
    allowed = [URGENT] if measure == "ack" else [URGENT, "complaint"]
    return Cell(kind, measure=measure, urgency=need(urgency, "urgency", allowed),
                status=need(status, "status", list(SLA_STATUSES)))


@dataclass
class DrillItem:
    comment_id: int
    received_at: datetime
    department: str | None
    channel: str
    labels: dict[str, str]  # touchpoint -> sentiment, as counted by the view
    urgency: str
    case_id: int | None
    case_status: str | None
    text: str  # masked for roles without pii:read
    spans: dict[str, list[dict]]  # what to mark: the cell's evidence (by its key) and a searched word (KEYWORD)
    has_evidence: bool  # the suggestion holds evidence for this cell


@dataclass
class DrillPage:
    cell: Cell
    items: list[DrillItem] = field(default_factory=list)
    total: int = 0
    offset: int = 0
    limit: int = 0


def _ids_query(f: ViewFilter, cell: Cell, now: datetime):
    """(comment id, received_at) of the cell's comments, newest first: an index read, no text loaded."""
    if cell.kind in ("aspect", "week", "keyword"):
        query = _facts(select(CommentAspect.comment_id, CommentAspect.received_at)
                       .where(CommentAspect.touchpoint == cell.touchpoint, CommentAspect.sentiment == cell.sentiment), f)
        if cell.week:
            query = query.where(CommentAspect.week == cell.week)
        if cell.word:
            query = query.join(Comment, Comment.id == CommentAspect.comment_id).where(Comment.text.contains(cell.word,
                                                                                                            autoescape=True))
        return query
    if cell.kind == "reason":
        return _cases(select(Case.comment_id, Case.received_at).select_from(CaseReason)
                      .join(Case, Case.id == CaseReason.case_id)
                      .where(CaseReason.reason == cell.reason, Case.urgency == URGENT), f)
    return _cases(select(Case.comment_id, Case.received_at).select_from(Case)
                  .where(Case.urgency == cell.urgency, sla_condition(cell.measure, cell.status, now)), f)


def drilldown(session: Session, f: ViewFilter, cell: Cell, *, mask: bool, now: datetime, limit: int = DRILL_LIMIT,
              offset: int = 0) -> DrillPage:
    """Up to `limit` comments of the cell from `offset`, with the count of all; texts masked when `mask`
    (roles without pii:read), with the spans to mark (the cell's evidence, and a searched keyword) for the
    pages' highlighter (`pvoice.serving.web.highlight`)."""
    ids = _ids_query(f, cell, now).subquery()
    total = session.scalar(select(func.count()).select_from(ids)) or 0
    page = list(session.scalars(select(ids.c.comment_id).order_by(ids.c.received_at.desc(), ids.c.comment_id.desc())
                                .limit(limit).offset(offset)))
    comments = {c.id: c for c in session.scalars(
        select(Comment).where(Comment.id.in_(page)).options(selectinload(Comment.suggestion),
                                                            selectinload(Comment.case)))}
    facts: dict[int, dict[str, str]] = {}
    for row in session.execute(select(CommentAspect.comment_id, CommentAspect.touchpoint, CommentAspect.sentiment)
                               .where(CommentAspect.comment_id.in_(page))):
        facts.setdefault(row.comment_id, {})[row.touchpoint] = row.sentiment
    items = []
    for cid in page:
        comment = comments[cid]
        suggestion = comment.suggestion
        evidence = list((suggestion.evidence or {}).get(cell.evidence_key, []) if suggestion else [])
        shown = mask_pii(comment.text) if mask else comment.text
        spans = {cell.evidence_key: evidence}
        if cell.word:
            spans[KEYWORD] = [{"text": cell.word, "start": s, "end": e} for s, e in word_spans(shown, cell.word)]
        items.append(DrillItem(
            comment_id=cid, received_at=comment.received_at, department=comment.department, channel=comment.channel,
            labels=facts.get(cid, {}), urgency=suggestion.urgency if suggestion else "none",
            case_id=comment.case.id if comment.case else None, case_status=comment.case.status if comment.case else None,
            text=shown, spans=spans, has_evidence=bool(evidence)))
    return DrillPage(cell, items, int(total), offset, limit)


def word_spans(text: str, word: str) -> list[tuple[int, int]]:
    """Every occurrence of `word` in `text`."""
    out, at = [], text.find(word) if word else -1
    while at >= 0:
        out.append((at, at + len(word)))
        at = text.find(word, at + len(word))
    return out


def missing_evidence(session: Session, comment_ids: list[int]) -> list[tuple[int, str]]:
    """(id, text) of those comments whose suggestion holds no evidence yet."""
    rows = session.execute(select(Comment.id, Comment.text, Suggestion.evidence)
                           .join(Suggestion, Suggestion.comment_id == Comment.id).where(Comment.id.in_(comment_ids)))
    return [(cid, text) for cid, text, evidence in rows if not evidence]


async def explain_missing(ctx: ServiceContext, batcher: MicroBatcher, comment_ids: list[int]) -> int:
    """Evidence for the shown comments that have none (evidence is computed for cases only when
    PVOICE_CASE_EVIDENCE is on), kept with their suggestion so that it is computed once. Bounded like
    /v1/classify: at most `evidence_max_texts` texts, each at most `evidence_max_chars` long. Returns how many
    were explained."""
    with ctx.factory() as session:
        todo = [(cid, text) for cid, text in missing_evidence(session, comment_ids)
                if len(text) <= ctx.settings.evidence_max_chars][:ctx.settings.evidence_max_texts]
    if not todo:
        return 0
    explained = await classify_texts(batcher, [text for _, text in todo], max_chars=ctx.settings.max_text_chars,
                                     evidence=True, evidence_max_chars=ctx.settings.evidence_max_chars)
    await run_in_threadpool(store_evidence, ctx, [(cid, evidence_dict(pred, prepared))
                                                  for (cid, _), (prepared, pred) in zip(todo, explained)])
    return len(todo)

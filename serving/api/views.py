"""ORM rows to public schemas, masking personal identifiers for roles that may not read them."""

from __future__ import annotations

from urllib.parse import urlsplit

from pvoice.serving.api.schemas import (
    AlertPublic, CaseBrief, CaseDetail, CaseEventPublic, CasePublic, CommentPublic, CommentResult, KeyPublic,
    LabelSet, ResponsePublic, Suggested, SuggestionPublic,
)
from pvoice.serving.db.models import ApiKey, Case, Comment, LabelResponse, OutboxAlert, Suggestion
from pvoice.serving.masking import mask_pii
from pvoice.serving.services.auth import Perm, Principal


def label_set(row: Suggestion | LabelResponse) -> dict:
    return {"touchpoints": row.touchpoints, "aspects": row.aspects, "sentiment": row.sentiment,
            "urgency": row.urgency, "urgent_reasons": row.urgent_reasons}


def case_brief(case: Case) -> CaseBrief:
    return CaseBrief(id=case.id, status=case.status, urgency=case.urgency, assignee=case.assignee,
                     responsible_role=case.responsible_role, due_at=case.due_at)


def comment_result(comment: Comment, *, created: bool, praise_to: list[str]) -> CommentResult:
    suggestion = comment.suggestion
    return CommentResult(id=comment.id, external_id=comment.external_id, created=created,
                         truncated=comment.truncated, labels=LabelSet(**label_set(suggestion)),
                         needs_review=suggestion.needs_review, review_reasons=suggestion.review_reasons,
                         model_version=suggestion.model_version,
                         case=case_brief(comment.case) if comment.case else None, praise_forwarded_to=praise_to)


def _for(who: Principal | None, text: str | None) -> str | None:
    """Free text as the role may read it: raw for roles with pii:read, masked for the rest (and for no one known)."""
    if not text or (who is not None and who.can(Perm.pii_read)):
        return text
    return mask_pii(text)


# staff write these in case events; a note can repeat the patient's number or name just as the comment does
_EVENT_TEXTS = ("note",)


def _event_detail(detail: dict, who: Principal) -> dict:
    return {k: _for(who, v) if k in _EVENT_TEXTS and isinstance(v, str) else v for k, v in (detail or {}).items()}


def comment_public(comment: Comment, who: Principal) -> CommentPublic:
    text = _for(who, comment.text)
    return CommentPublic(id=comment.id, external_id=comment.external_id, text=text, channel=comment.channel,
                         received_at=comment.received_at, department=comment.department, ward=comment.ward,
                         truncated=comment.truncated, created_at=comment.created_at)


def _evidence(suggestion: Suggestion, who: Principal) -> dict:
    if who.can(Perm.pii_read):
        return suggestion.evidence or {}
    return {k: [{**span, "text": mask_pii(span["text"])} for span in spans]
            for k, spans in (suggestion.evidence or {}).items()}


def case_public(case: Case, who: Principal) -> CasePublic:
    suggestion = case.comment.suggestion
    return CasePublic(
        id=case.id, status=case.status, urgency=case.urgency, touchpoints=case.touchpoint_ids,
        department=case.department, responsible_role=case.responsible_role, route=case.route,
        assignee=case.assignee, escalation_level=case.escalation_level, needs_review=case.needs_review,
        created_at=case.created_at,
        due_at=case.due_at, acknowledged_at=case.acknowledged_at, acknowledged_by=case.acknowledged_by,
        resolved_at=case.resolved_at, resolved_by=case.resolved_by, resolution_note=_for(who, case.resolution_note),
        comment=comment_public(case.comment, who),
        suggestion=Suggested(**label_set(suggestion), model_version=suggestion.model_version,
                             evidence=_evidence(suggestion, who), needs_review=suggestion.needs_review,
                             review_reasons=suggestion.review_reasons) if suggestion else None,
    )


def case_detail(case: Case, who: Principal, alerts: list[OutboxAlert]) -> CaseDetail:
    timeline = [CaseEventPublic(at=e.at, actor=e.actor, kind=e.kind, detail=_event_detail(e.detail, who))
                for e in case.events]
    return CaseDetail(**case_public(case, who).model_dump(), timeline=timeline,
                      alerts=[alert_public(a) for a in alerts])


def redact_target(target: str) -> str:
    """Robot URLs carry their access token in the query: never show it."""
    if "://" not in target:
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def alert_public(row: OutboxAlert) -> AlertPublic:
    return AlertPublic(
        id=row.id, idempotency_key=row.idempotency_key, case_id=row.case_id, comment_id=row.comment_id,
        event=row.event, channel=row.channel, target=redact_target(row.target), recipient=row.recipient,
        urgency=row.urgency, title=row.title, status=row.status, attempts=row.attempts,
        next_attempt_at=row.next_attempt_at, last_error=row.last_error, last_error_code=row.last_error_code,
        created_at=row.created_at, delivered_at=row.delivered_at)


def key_public(row: ApiKey) -> KeyPublic:
    return KeyPublic(id=row.id, role=row.role, name=row.name, prefix=row.prefix, created_at=row.created_at,
                     revoked_at=row.revoked_at)


def suggestion_public(row: Suggestion) -> SuggestionPublic:
    return SuggestionPublic(**label_set(row), model_version=row.model_version, needs_review=row.needs_review,
                            review_reasons=row.review_reasons, created_at=row.created_at)


def response_public(row: LabelResponse, who: Principal | None = None) -> ResponsePublic:
    return ResponsePublic(**label_set(row), id=row.id, author=row.author, created_at=row.created_at,
                          note=_for(who, row.note),
                          suggestion_model_version=row.suggestion_model_version,
                          taxonomy_version=row.taxonomy_version)

"""Request and response schemas, one module per resource."""

from pvoice.serving.api.schemas.alerts import AlertPublic, AlertsPublic, KeyCreate, KeyCreated, KeyPublic, RoutingReloaded
from pvoice.serving.api.schemas.cases import (
    CaseAck, CaseDetail, CaseEventPublic, CaseNote, CasePublic, CaseReassign, CaseResolve, CasesPublic, Suggested,
)
from pvoice.serving.api.schemas.classify import Classification, ClassifyRequest, ClassifyResponse
from pvoice.serving.api.schemas.comments import (
    CaseBrief, CommentCreate, CommentPublic, CommentResult, CommentsCreate, CommentsResponse, LabelSet,
)
from pvoice.serving.api.schemas.common import MAX_TEXTS, TEXT_HARD_MAX
from pvoice.serving.api.schemas.labels import CommentLabels, LabelsCreate, ResponsePublic, SuggestionPublic

__all__ = [
    "MAX_TEXTS", "TEXT_HARD_MAX", "AlertPublic", "AlertsPublic", "CaseAck", "CaseBrief", "CaseDetail",
    "CaseEventPublic", "CaseNote", "CasePublic", "CaseReassign", "CaseResolve", "CasesPublic", "Classification",
    "ClassifyRequest", "ClassifyResponse", "KeyCreate", "KeyCreated", "KeyPublic", "CommentCreate", "CommentLabels", "CommentPublic", "CommentResult",
    "CommentsCreate", "CommentsResponse", "LabelSet", "LabelsCreate", "ResponsePublic", "RoutingReloaded",
    "Suggested", "SuggestionPublic",
]

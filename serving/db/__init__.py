"""Storage: SQLAlchemy models, engine/session helpers and the Alembic migrations that ship with them."""

from pvoice.serving.db.engine import is_postgres, make_db_engine, make_session_factory, normalize_url, transaction
from pvoice.serving.db.migrate import MigrationError, current_revision, ensure_schema, head_revision, is_current, upgrade
from pvoice.serving.db.models import (
    ApiKey, AuditEntry, Base, Case, CaseEvent, CaseTouchpoint, Comment, LabelResponse, OutboxAlert, Suggestion,
    Timer,
)

__all__ = [
    "ApiKey", "AuditEntry", "Base", "Case", "CaseEvent", "CaseTouchpoint", "Comment", "LabelResponse",
    "MigrationError", "OutboxAlert", "Suggestion", "Timer", "current_revision", "ensure_schema", "head_revision",
    "is_current", "is_postgres", "make_db_engine", "make_session_factory", "normalize_url", "transaction", "upgrade",
]

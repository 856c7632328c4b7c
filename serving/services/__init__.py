"""Service functions behind the API routes: no HTTP here, only domain errors."""

from pvoice.serving.services.auth import PERMISSIONS, Perm, Principal, Role, authenticate, create_key, list_keys, revoke_key
from pvoice.serving.services.batcher import MicroBatcher
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.sla import fire_due_timers

__all__ = [
    "PERMISSIONS", "MicroBatcher", "Perm", "Principal", "Role", "ServiceContext", "authenticate", "create_key",
    "fire_due_timers", "list_keys", "revoke_key",
]

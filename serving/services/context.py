"""What the services share for the life of the app: settings, labels, routing, the clock and the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from pvoice.labels import Taxonomy
from pvoice.settings import Settings
from pvoice.serving.clock import Clock
from pvoice.serving.routing import RoutingTable, WorkCalendar


@dataclass
class ServiceContext:
    settings: Settings
    taxonomy: Taxonomy
    routing: RoutingTable  # replaced whole on reload, never edited in place
    clock: Clock
    factory: sessionmaker[Session]
    calendar: WorkCalendar = field(default_factory=WorkCalendar)  # working days, for the complaint SLA
    # wakes the delivery worker after a commit that wrote alerts; a no-op until the worker runs
    notify: Callable[[], None] = field(default=lambda: None)

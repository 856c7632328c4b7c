"""Routing: who is responsible for a case, who is on duty, whom to escalate to."""

from pvoice.serving.routing.schedule import ScheduleError, Window, add_working_days
from pvoice.serving.routing.table import (
    CHANNELS, Group, Level, Person, Route, RoutingError, RoutingTable, Target, default_routing_path, load_routing,
    parse_routing,
)

__all__ = [
    "CHANNELS", "Group", "Level", "Person", "Route", "RoutingError", "RoutingTable", "ScheduleError", "Target",
    "Window", "add_working_days", "default_routing_path", "load_routing", "parse_routing",
]

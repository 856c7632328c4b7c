"""Routing: who is responsible for a case, who is on duty, whom to escalate to."""

from serving.routing.schedule import ScheduleError, Window, add_working_days
from serving.routing.table import (
    CHANNELS, Group, Level, Person, Route, RoutingError, RoutingTable, Target, load_routing, parse_routing,
)

__all__ = [
    "CHANNELS", "Group", "Level", "Person", "Route", "RoutingError", "RoutingTable", "ScheduleError", "Target",
    "Window", "add_working_days", "load_routing", "parse_routing",
]

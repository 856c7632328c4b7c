"""Routing: who is responsible for a case, who is on duty, whom to escalate to."""

from pvoice.serving.routing.holidays import HolidaysError, WorkCalendar, load_calendar, parse_holidays
from pvoice.serving.routing.schedule import ScheduleError, Window, add_working_days
from pvoice.serving.routing.table import (
    CHANNELS, Group, Level, Person, Route, RoutingError, RoutingTable, Target, default_routing_path, load_routing,
    parse_routing,
)

__all__ = [
    "CHANNELS", "Group", "HolidaysError", "Level", "Person", "Route", "RoutingError", "RoutingTable", "ScheduleError",
    "Target", "Window", "WorkCalendar", "add_working_days", "default_routing_path", "load_calendar", "load_routing",
    "parse_holidays", "parse_routing",
]

"""On-duty windows such as `mon-fri 08:00-17:30`, `daily 00:00-24:00` or `sat,sun 20:00-08:00` (overnight)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pvoice.serving.routing.holidays import WorkCalendar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


DEFAULT_CALENDAR = WorkCalendar()


class ScheduleError(ValueError):
    pass


def _minutes(clock: str, *, allow_24: bool) -> int:
    hours, minutes = (int(x) for x in clock.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ScheduleError(f"invalid time {clock!r}")
    return hours * 60 + minutes


def _days(spec: str) -> frozenset[int]:
    if spec == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAYS for e in ends):
            raise ScheduleError(f"invalid days {part!r}; use daily, or names/ranges of {', '.join(DAYS)}")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        days.update(span)
    return frozenset(days)


@dataclass(frozen=True)
class Window:
    """Starts on one of `days` at `start` minutes after midnight; an end before the start runs past midnight."""

    days: frozenset[int]
    start: int
    end: int
    source: str

    @classmethod
    def parse(cls, text: str) -> Window:
        match = _WINDOW.match(str(text).lower())
        if not match:
            raise ScheduleError(f"invalid on-duty window {text!r}; expected e.g. 'mon-fri 08:00-17:30'")
        start = _minutes(match["start"], allow_24=False)
        end = _minutes(match["end"], allow_24=True)
        if start == end:
            raise ScheduleError(f"on-duty window {text!r} is empty (start equals end)")
        return cls(_days(match["days"]), start, end, str(text))

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= minute < self.end
        # overnight: the evening part on a listed day, or the morning part the day after one
        yesterday = (local - timedelta(days=1)).weekday()
        return (local.weekday() in self.days and minute >= self.start) or (yesterday in self.days and minute < self.end)


def on_duty(windows: tuple[Window, ...], local: datetime) -> bool:
    return any(w.contains(local) for w in windows)


def add_working_days(start: datetime, days: int, calendar: WorkCalendar | None = None) -> datetime:
    """The same clock time `days` working days later, by `calendar` (default: China's public holidays and 调休
    from chinesecalendar); a start on a day off counts from the next working day's midnight."""
    calendar = calendar or DEFAULT_CALENDAR
    current = start
    while not calendar.is_working_day(current.date()):
        current = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if calendar.is_working_day(current.date()):
            remaining -= 1
    return current

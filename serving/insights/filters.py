"""What the managers' view is asked for: a period of local dates, a department, a channel; checked where it
enters, so that a bad date or an unknown value is one clear message (InvalidInput, 422) naming its field."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from pvoice.labels import Taxonomy
from pvoice.serving.errors import InvalidInput

MAX_DAYS = 731  # two years: the view is for reading trends, not for scanning the whole history at once
DEFAULT_WEEKS = 8
_WEEK = re.compile(r"(?P<year>\d{4})-?W(?P<week>\d{1,2})")


@dataclass(frozen=True)
class Period:
    """Local dates, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def weeks(self) -> list[date]:
        """The Monday of every ISO week the period touches, in order."""
        first = self.start - timedelta(days=self.start.weekday())
        return [first + timedelta(weeks=n) for n in range((self.end - first).days // 7 + 1)]

    @property
    def iso_week(self) -> str | None:
        """`2026-W47` when the period is exactly one ISO week."""
        year, week, weekday = self.start.isocalendar()
        return f"{year}-W{week:02d}" if weekday == 1 and self.days == 7 else None

    def __str__(self) -> str:
        return self.iso_week or f"{self.start.isoformat()} – {self.end.isoformat()}"


@dataclass(frozen=True)
class ViewFilter:
    period: Period
    zone: ZoneInfo
    department: str | None = None
    channel: str | None = None

    def bounds(self) -> tuple[datetime, datetime]:
        """[local midnight of the first day, local midnight after the last day), in UTC."""
        lo = datetime.combine(self.period.start, time(), self.zone)
        hi = datetime.combine(self.period.end + timedelta(days=1), time(), self.zone)
        return lo.astimezone(timezone.utc), hi.astimezone(timezone.utc)

    def with_period(self, period: Period) -> ViewFilter:
        return replace(self, period=period)

    def with_department(self, department: str | None) -> ViewFilter:
        return replace(self, department=department)

    def query(self) -> dict[str, str]:
        """The filter as URL query parameters (for links: drill-down, export, the same view again)."""
        out = {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()}
        if self.department:
            out["department"] = self.department
        if self.channel:
            out["channel"] = self.channel
        return out


def parse_week(text: str, *, field: str = "period") -> Period:
    """An ISO week, `2026-W47` (Monday to Sunday)."""
    match = _WEEK.fullmatch(text.strip())
    if not match:
        raise InvalidInput(f"{field}: {text!r} is not an ISO week; write it as 2026-W47", field=field)
    try:
        monday = date.fromisocalendar(int(match["year"]), int(match["week"]), 1)
    except ValueError:
        raise InvalidInput(f"{field}: {text!r}: year {match['year']} has no week {int(match['week'])}",
                           field=field) from None
    return Period(monday, monday + timedelta(days=6))


def parse_date(text: str, *, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-16",
                           field=field) from None


def default_period(today: date, weeks: int = DEFAULT_WEEKS) -> Period:
    """The last `weeks` ISO weeks, the current one included, up to today."""
    monday = today - timedelta(days=today.weekday())
    return Period(monday - timedelta(weeks=weeks - 1), today)


def make_filter(*, zone: ZoneInfo, taxonomy: Taxonomy, departments: list[str], today: date,
                start: str | None = None, end: str | None = None, week: str | None = None,
                department: str | None = None, channel: str | None = None) -> ViewFilter:
    """The view's filter from its query parameters (empty strings count as not given). `week` wins over
    start/end; with neither, the last eight weeks. `departments`: those the stored comments name."""
    start, end, week = (v.strip() if v else None for v in (start, end, week))
    if week:
        period = parse_week(week, field="week")
    elif start or end:
        first = parse_date(start, field="start") if start else None
        last = parse_date(end, field="end") if end else today
        first = first or last - timedelta(days=DEFAULT_WEEKS * 7 - 1)
        if last < first:
            raise InvalidInput(f"end: {last.isoformat()} is before start {first.isoformat()}", field="end")
        period = Period(first, last)
    else:
        period = default_period(today)
    if period.days > MAX_DAYS:
        raise InvalidInput(f"start: a period of {period.days} days is longer than {MAX_DAYS}; choose a shorter one",
                           field="start")
    department = (department or "").strip() or None
    if department is not None and department not in departments:
        known = "、".join(departments[:20]) + ("…" if len(departments) > 20 else "")
        raise InvalidInput(f"department: no comments name department {department!r}"
                           + (f"; known: {known}" if departments else ""), field="department")
    channel = (channel or "").strip() or None
    if channel is not None and channel not in taxonomy.channel_ids:
        raise InvalidInput(f"channel: unknown channel {channel!r}; valid: {', '.join(taxonomy.channel_ids)}",
                           field="channel")
    return ViewFilter(period, zone, department, channel)


def check_label(value: str | None, valid: list[str], *, field: str) -> str | None:
    """A touchpoint, sentiment or reason id from a drill-down link, or InvalidInput naming the valid ones."""
    value = (value or "").strip() or None
    if value is not None and value not in valid:
        raise InvalidInput(f"{field}: unknown {field} {value!r}; valid: {', '.join(valid)}", field=field)
    return value

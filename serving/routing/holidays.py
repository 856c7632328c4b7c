"""Working days in mainland China: public holidays and 调休 (weekends worked in exchange) from the
`chinesecalendar` package, plus a local file for what it does not know yet.

The State Council announces each year's holidays late in the year before, so a service installed today will
outlive the package's data: for a year the package does not cover, days count Monday to Friday, corrected by
the override file (`PVOICE_HOLIDAYS_PATH`), and that is logged once per year. The file:

    # days off and extra working days the package does not have (or that this hospital keeps otherwise)
    holidays: [2027-01-01, 2027-02-05..2027-02-11]
    workdays: [2027-02-14]

Each entry is a date or a `first..last` range, both ends included. The file wins over the package.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar
import yaml

from pvoice.serving.errors import ConfigError

log = logging.getLogger("pvoice.routing")
_KEYS = ("holidays", "workdays")


class HolidaysError(ConfigError):
    """The override file is unreadable or wrong: the service does not start with it."""


@dataclass
class WorkCalendar:
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    source: str | None = None  # the override file, if any
    _warned: set[int] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:  # a year the package has no data for
            self._warn_once(day.year)
            return day.weekday() < 5

    def _warn_once(self, year: int) -> None:
        with self._lock:
            if year in self._warned:
                return
            self._warned.add(year)
        first, last = chinese_calendar_years()
        log.warning("no public holidays known for this year: working days are Monday to Friday plus the override "
                    "file", extra={"year": year, "known_years": f"{first}-{last}", "override": self.source})


@lru_cache(maxsize=1)
def chinese_calendar_years() -> tuple[int, int]:
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


def _dates(entries, key: str, where: str) -> set[date]:
    if entries in (None, ""):
        return set()
    if not isinstance(entries, list):
        raise HolidaysError(f"{where}: '{key}' must be a list of dates (YYYY-MM-DD) or ranges (YYYY-MM-DD..YYYY-MM-DD)")
    days: set[date] = set()
    for entry in entries:
        try:
            if isinstance(entry, date):
                days.add(entry)
                continue
            first, _, last = str(entry).partition("..")
            start, end = date.fromisoformat(first.strip()), date.fromisoformat((last or first).strip())
        except ValueError:
            raise HolidaysError(f"{where}: {key}: {entry!r} is not a date (YYYY-MM-DD) or range "
                                f"(YYYY-MM-DD..YYYY-MM-DD)") from None
        if end < start or (end - start).days > 366:
            raise HolidaysError(f"{where}: {key}: range {entry!r} is backwards or longer than a year")
        days.update(start + timedelta(days=n) for n in range((end - start).days + 1))
    return days


def parse_holidays(raw, where: str = "holidays file") -> WorkCalendar:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or set(raw) - set(_KEYS):
        raise HolidaysError(f"{where}: expected a mapping with only {' and '.join(_KEYS)}")
    holidays, workdays = (_dates(raw.get(key), key, where) for key in _KEYS)
    both = sorted(holidays & workdays)
    if both:
        raise HolidaysError(f"{where}: listed as both holiday and workday: {', '.join(map(str, both))}")
    return WorkCalendar(frozenset(holidays), frozenset(workdays), source=where)


_FIX = " — fix the file, or unset PVOICE_HOLIDAYS_PATH"


def load_calendar(path: Path | None) -> WorkCalendar:
    """The calendar of `chinesecalendar` corrected by the override file at `path` (None: none)."""
    if path is None:
        return WorkCalendar()
    try:
        # every scalar as text: dates are parsed below, so that an impossible one is named, not a YAML error
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # noqa: S506 - no tags
    except OSError as error:
        raise HolidaysError(f"cannot read the holidays file {path}: {error.strerror or error}{_FIX}") from None
    except yaml.YAMLError as error:
        raise HolidaysError(f"{path}: not valid YAML: {error}{_FIX}") from None
    try:
        return parse_holidays(raw, str(path))
    except HolidaysError as error:
        raise HolidaysError(f"{error}{_FIX}") from None


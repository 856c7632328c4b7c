"""Working days are China's: 春节 and 国庆 are days off, 调休 Saturdays are working days, and a local file covers
what chinesecalendar does not know (later years, local rules). The complaint SLA counts with them."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from fastapi.testclient import TestClient

from pvoice.serving import create_app
from pvoice.serving.routing import HolidaysError, WorkCalendar, add_working_days, load_calendar, parse_holidays
from pvoice.serving.routing.holidays import chinese_calendar_years
from serving_support import FakeSender, Harness, ManualClock, make_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
COMPLAINT = "挂号等了三个小时，窗口只开了一个"


def _holiday(name: str, year: int) -> list[date]:
    """The days of a holiday as the package itself lists them, so the test follows its data."""
    return sorted(d for d, n in chinese_calendar.holidays.items() if d.year == year and n == name)


SPRING_2026 = _holiday(chinese_calendar.Holiday.spring_festival.value, 2026)
NATIONAL_2026 = _holiday(chinese_calendar.Holiday.national_day.value, 2026)
SWAPPED_SATURDAYS_2026 = sorted(d for d in chinese_calendar.workdays if d.year == 2026 and d.weekday() == 5)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def _last_working_day_before(day: date) -> date:
    day -= timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def test_the_package_knows_2026():
    assert len(SPRING_2026) >= 7 and len(NATIONAL_2026) >= 7
    assert SWAPPED_SATURDAYS_2026, "2026 has 调休 Saturdays"


def test_a_complaint_just_before_spring_festival_is_due_after_it():
    received = _at(_last_working_day_before(SPRING_2026[0]))
    due = add_working_days(received, 2)
    assert due.date() > SPRING_2026[-1]
    assert (due.hour, due.minute) == (received.hour, received.minute)
    # Monday to Friday would have put it in the middle of the holiday
    assert SPRING_2026[0] <= add_working_days(received, 2, _weekdays_only()).date() <= SPRING_2026[-1]


def test_national_day_is_skipped_too():
    received = _at(_last_working_day_before(NATIONAL_2026[0]))
    assert add_working_days(received, 1).date() > NATIONAL_2026[-1]


def test_a_swapped_saturday_counts_as_a_working_day():
    saturday = SWAPPED_SATURDAYS_2026[0]
    friday = saturday - timedelta(days=1)
    if chinese_calendar.is_workday(friday):
        assert add_working_days(_at(friday), 1) == _at(saturday)
    # a complaint that arrives on that Saturday counts from it, not from Monday
    assert add_working_days(_at(saturday), 0) == _at(saturday)


def test_the_override_file_adds_a_holiday_and_a_working_day(tmp_path):
    path = tmp_path / "holidays.yaml"
    path.write_text("holidays: [2026-03-03, 2026-03-05..2026-03-06]\nworkdays: [2026-03-07]\n", encoding="utf-8")
    calendar = load_calendar(path)
    monday = date(2026, 3, 2)
    assert add_working_days(_at(monday), 1) == _at(date(2026, 3, 3))  # the package alone
    assert add_working_days(_at(monday), 1, calendar) == _at(date(2026, 3, 4))
    assert add_working_days(_at(monday), 2, calendar) == _at(date(2026, 3, 7))  # Saturday, made a working day


def test_a_year_the_package_does_not_know_is_monday_to_friday_plus_the_file(tmp_path, caplog):
    year = chinese_calendar_years()[1] + 1
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(year, 1, 5))
    new_year = date(year, 1, 1)
    # the first weekday of the year, and a weekend day the hospital works
    weekday = next(new_year + timedelta(days=n) for n in range(7) if (new_year + timedelta(days=n)).weekday() < 5)
    weekend = next(new_year + timedelta(days=n) for n in range(7) if (new_year + timedelta(days=n)).weekday() == 5)
    calendar = parse_holidays({"holidays": [weekday], "workdays": [str(weekend)]})
    caplog.set_level(logging.WARNING, logger="pvoice.routing")
    assert not calendar.is_working_day(weekday)
    assert calendar.is_working_day(weekend)
    days = [new_year + timedelta(days=n) for n in range(60)]
    counted = [d for d in days if calendar.is_working_day(d)]
    expected = [d for d in days if (d.weekday() < 5 and d != weekday) or d == weekend]
    assert counted == expected
    warnings = [r for r in caplog.records if "no public holidays known" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].year == year


@pytest.mark.parametrize("text, problem", [
    ("holidays: [2026-02-30]", "not a date"),
    ("holidays: 2026-03-03", "must be a list"),
    ("holiday: [2026-03-03]", "only holidays and workdays"),
    ("holidays: [2026-03-03]\nworkdays: [2026-03-03]", "both holiday and workday"),
    ("holidays: [2026-03-09..2026-03-01]", "backwards"),
    ("holidays: [", "not valid YAML"),
])
def test_a_wrong_override_file_names_the_problem(tmp_path, text, problem):
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HolidaysError, match=problem) as error:
        load_calendar(path)
    assert "PVOICE_HOLIDAYS_PATH" in str(error.value)
    with pytest.raises(HolidaysError, match="cannot read"):
        load_calendar(tmp_path / "missing.yaml")


def _weekdays_only() -> WorkCalendar:
    class Weekdays(WorkCalendar):
        def is_working_day(self, day: date) -> bool:
            return day.weekday() < 5

    return Weekdays()


# ---- through the service: the complaint's case is due after the holiday -------------------------------------
def _service(tmp_path, tiny_model_dir, scripted, start: datetime, **settings):
    app = create_app(make_settings(tmp_path, tiny_model_dir, **settings), clock=ManualClock(start),
                     senders={"webhook": FakeSender("webhook")}, classifier=scripted, start_workers=False)
    return app


def test_a_complaint_case_before_spring_festival_is_due_after_it(tmp_path, tiny_model_dir, scripted):
    received = _at(_last_working_day_before(SPRING_2026[0]))
    app = _service(tmp_path, tiny_model_dir, scripted, received.astimezone(timezone.utc))
    with TestClient(app) as client:
        case = Harness(app, client).comment(COMPLAINT)["case"]
    due = datetime.fromisoformat(case["due_at"]).astimezone(SHANGHAI)
    assert due == add_working_days(received, 2) and due.date() > SPRING_2026[-1]


def test_the_service_reads_the_override_file(tmp_path, tiny_model_dir, scripted):
    path = tmp_path / "holidays.yaml"
    path.write_text("holidays: [2026-03-03..2026-03-04]\n", encoding="utf-8")
    monday = _at(date(2026, 3, 2), 9)
    app = _service(tmp_path, tiny_model_dir, scripted, monday.astimezone(timezone.utc), holidays_path=path)
    with TestClient(app) as client:
        case = Harness(app, client).comment(COMPLAINT)["case"]
    assert datetime.fromisoformat(case["due_at"]).astimezone(SHANGHAI) == _at(date(2026, 3, 6), 9)


def test_a_wrong_override_file_stops_startup(tmp_path, tiny_model_dir, scripted):
    path = tmp_path / "holidays.yaml"
    path.write_text("holidays: [someday]\n", encoding="utf-8")
    app = _service(tmp_path, tiny_model_dir, scripted, datetime(2026, 3, 2, 1, tzinfo=timezone.utc),
                   holidays_path=path)
    with pytest.raises(HolidaysError, match="someday"), TestClient(app):
        pass

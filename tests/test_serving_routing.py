"""The routing file: what makes startup fail, on-duty windows, working days, route choice."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from fastapi.testclient import TestClient

from pvoice.labels import load_taxonomy
from pvoice.serving import create_app
from pvoice.serving.routing import RoutingError, Window, add_working_days, load_routing, parse_routing
from pvoice.serving.routing.schedule import ScheduleError
from serving_support import make_settings, write_routing

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOUCHPOINTS = load_taxonomy().touchpoint_ids


def _raw(tmp_path, **overrides) -> dict:
    return yaml.safe_load(write_routing(tmp_path / "base.yaml", **overrides).read_text(encoding="utf-8"))


def _parse(raw):
    return parse_routing(raw, touchpoints=TOUCHPOINTS, zone=SHANGHAI)


def test_the_shipped_routing_file_is_valid_and_posts_nowhere_outside():
    table = load_routing(None, touchpoints=TOUCHPOINTS, timezone="Asia/Shanghai")
    for person in table.people.values():
        for target in person.alerts:
            assert target.target.startswith("http://127.0.0.1:") or target.target.endswith(".invalid")


def _broken(tmp_path, mutate) -> RoutingError:
    raw = _raw(tmp_path)
    mutate(raw)
    with pytest.raises(RoutingError) as info:
        _parse(raw)
    return info.value


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda r: r["routes"][0]["touchpoints"].append("canteen"), "unknown touchpoint 'canteen'"),
    (lambda r: r["routes"][0]["people"].append("ghost"), "unknown person 'ghost'"),
    (lambda r: r["routes"][0].update(head=["ghost"]), "routes[0].head: unknown person 'ghost'"),
    (lambda r: r["fallback"].update(people=["ghost"]), "fallback.people: unknown person 'ghost'"),
    (lambda r: r.pop("medical_affairs"), "medical_affairs: missing"),
    (lambda r: r["routes"].pop(1), "touchpoint 'billing' is not covered"),
    (lambda r: r["people"]["psc"].update(on_duty=["mon-fri 25:00-26:00"]), "invalid time '25:00'"),
    (lambda r: r["people"]["psc"].update(on_duty=["weekdays 08:00-17:00"]), "invalid days 'weekdays'"),
    (lambda r: r["people"]["psc"].update(on_duty=["daily 08:00-08:00"]), "is empty"),
    (lambda r: r["people"]["psc"].update(on_duty=["8 to 5"]), "invalid on-duty window '8 to 5'"),
    (lambda r: r["people"]["psc"].update(on_duty=[]), "at least one window"),
    (lambda r: r["people"]["psc"]["alerts"].append({"channel": "fax", "target": "x"}), "'fax' is not one of"),
    (lambda r: r["people"]["psc"]["alerts"].append({"channel": "email", "target": "nobody"}), "not an e-mail"),
    (lambda r: r["people"]["psc"]["alerts"].append({"channel": "wecom", "target": "ftp://x"}), "not an http(s)"),
    (lambda r: r["routes"].append({"id": "again", "touchpoints": ["billing"], "people": ["psc"]}),
     "already routed by billing"),
    (lambda r: r.update(admin=["ghost"]), "admin: unknown person 'ghost'"),
    (lambda r: r.update(admin=[]), "admin: names nobody"),
    (lambda r: (r.update(admin=["psc"]), r["people"]["psc"].update(alerts=[])), "'psc' has no alerts to be paged on"),
])
def test_invalid_routing_is_refused_with_a_clear_message(tmp_path, mutate, expected):
    assert expected in str(_broken(tmp_path, mutate))


def test_every_problem_is_named_at_once(tmp_path):
    def mutate(raw):
        raw["routes"][0]["touchpoints"].append("canteen")
        raw["routes"][1]["people"] = ["ghost"]

    error = _broken(tmp_path, mutate)
    assert len(error.problems) == 2


def test_startup_fails_on_a_bad_routing_file(tmp_path, tiny_model_dir):
    path = write_routing(tmp_path / "bad.yaml")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["routes"][0]["people"] = ["ghost"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    app = create_app(make_settings(tmp_path, tiny_model_dir, routing_path=path), senders={}, start_workers=False)
    with pytest.raises(RoutingError, match="unknown person 'ghost'"):
        with TestClient(app):
            pass


def test_startup_fails_on_a_missing_routing_file(tmp_path, tiny_model_dir):
    app = create_app(make_settings(tmp_path, tiny_model_dir, routing_path=tmp_path / "none.yaml"), senders={},
                     start_workers=False)
    with pytest.raises(RoutingError, match="file not found"):
        with TestClient(app):
            pass


def test_production_refuses_development_secrets(tmp_path, tiny_model_dir):
    from pvoice.serving.errors import ConfigError

    app = create_app(make_settings(tmp_path, tiny_model_dir, environment="production"), senders={},
                     start_workers=False)
    with pytest.raises(ConfigError, match="PVOICE_API_KEY_PEPPER"):
        with TestClient(app):
            pass


def _local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)  # 2026-03-02 is a Monday


@pytest.mark.parametrize(("spec", "when", "inside"), [
    ("mon-fri 08:00-17:30", _local(2, 8), True),
    ("mon-fri 08:00-17:30", _local(2, 17, 30), False),
    ("mon-fri 08:00-17:30", _local(7, 10), False),  # Saturday
    ("sat,sun 09:00-12:00", _local(8, 11), True),
    ("daily 00:00-24:00", _local(4, 23, 59), True),
    ("fri 20:00-08:00", _local(6, 23), True),  # Friday night
    ("fri 20:00-08:00", _local(7, 7, 59), True),  # the morning after belongs to Friday's shift
    ("fri 20:00-08:00", _local(6, 7), False),  # Friday morning belongs to Thursday's, not listed
    ("sun-tue 10:00-11:00", _local(2, 10, 30), True),  # a range over the week's end
])
def test_on_duty_windows(spec, when, inside):
    assert Window.parse(spec).contains(when) is inside


def test_invalid_window_text_is_named():
    with pytest.raises(ScheduleError, match="'mon-fri 8-17'"):
        Window.parse("mon-fri 8-17")


@pytest.mark.parametrize(("start", "days", "due"), [
    (_local(2, 9), 2, _local(4, 9)),  # Monday -> Wednesday
    (_local(6, 15), 2, _local(10, 15)),  # Friday -> Tuesday
    (_local(7, 10), 2, _local(11, 0)),  # Saturday counts from Monday 00:00
])
def test_working_days(start, days, due):
    assert add_working_days(start, days) == due


def test_routes_prefer_the_department_and_the_most_probable_touchpoint(tmp_path):
    raw = _raw(tmp_path)
    raw["routes"].append({"id": "cardio", "touchpoints": ["nursing"], "department": "心内科", "role": "心内科护理",
                          "people": ["nurse_head"]})
    table = _parse(raw)
    assert table.route_for(["nursing"], "心内科").id == "cardio"
    assert table.route_for(["nursing"], "骨科").id == "nursing"
    assert table.route_for(["billing", "nursing"], None).id == "billing"
    chain = table.chain(table.route_for(["nursing"], None))
    assert [level.name for level in chain] == ["responsible", "department_head", "medical_affairs"]
    assert [level.name for level in table.chain(None)] == ["responsible", "medical_affairs"]


def test_nobody_on_duty_falls_back_to_the_service_center(tmp_path):
    raw = _raw(tmp_path)
    raw["people"]["nurse"]["on_duty"] = ["mon-fri 08:00-17:00"]
    table = _parse(raw)
    saturday = datetime(2026, 3, 7, 3, 0, tzinfo=timezone.utc)
    assert [p.id for p in table.reachable(("nurse",), saturday)] == ["psc"]
    monday = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)
    assert [p.id for p in table.reachable(("nurse",), monday)] == ["nurse"]


def test_dead_letters_page_the_admin_named_in_routing_else_the_service_center(tmp_path):
    assert _parse(_raw(tmp_path)).admin_people == ("psc",)  # the fallback's people
    assert _parse(_raw(tmp_path, admin=["yiwu", "nurse_head"])).admin_people == ("yiwu", "nurse_head")
    shipped = load_routing(None, touchpoints=TOUCHPOINTS, timezone="Asia/Shanghai")
    assert shipped.admin and all(shipped.people[p].alerts for p in shipped.admin_people)


def test_praise_names_find_staff_unless_forwarding_is_off(tmp_path):
    table = _parse(_raw(tmp_path))
    assert [p.id for p in table.praised_staff("李医生讲得很耐心")] == ["dr_li"]
    table = _parse(_raw(tmp_path, praise={"forward": False}))
    assert table.praised_staff("李医生讲得很耐心") == []

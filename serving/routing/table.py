"""`data/routing.yaml`: who answers for which touchpoint, when they are on duty, whom to escalate to.

Loaded once at startup (and on an admin's reload) and validated as a whole: every problem is named in one
error, so a broken file never half-applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from pvoice.serving.errors import ConfigError
from pvoice.serving.routing.schedule import ScheduleError, Window, on_duty

CHANNELS = ("wecom", "dingtalk", "webhook", "email")


class RoutingError(ConfigError):
    def __init__(self, source: Path | str, problems: list[str]):
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"routing file {source} is invalid ({len(problems)} problem(s)):\n{listed}")


@dataclass(frozen=True)
class Target:
    channel: str
    target: str


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    windows: tuple[Window, ...]
    alerts: tuple[Target, ...]
    praise_names: tuple[str, ...] = ()

    def on_duty(self, local: datetime) -> bool:
        return on_duty(self.windows, local)


@dataclass(frozen=True)
class Group:
    role: str
    people: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    id: str
    touchpoints: tuple[str, ...]
    department: str | None
    role: str
    people: tuple[str, ...]
    head: tuple[str, ...]


@dataclass(frozen=True)
class Level:
    """One rung of an escalation chain."""

    name: str  # responsible | department_head | medical_affairs
    role: str
    people: tuple[str, ...]


@dataclass
class RoutingTable:
    people: dict[str, Person]
    routes: list[Route]
    fallback: Group
    medical_affairs: Group
    forward_praise: bool = True
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    admin: tuple[str, ...] = ()  # paged about dead letters; empty: the fallback's people

    @property
    def admin_people(self) -> tuple[str, ...]:
        return self.admin or self.fallback.people

    def route_for(self, touchpoints: list[str], department: str | None) -> Route | None:
        """The route of the first touchpoint (most probable first) that has one; a department match wins."""
        for touchpoint in touchpoints:
            if department:
                for route in self.routes:
                    if route.department == department and touchpoint in route.touchpoints:
                        return route
            for route in self.routes:
                if route.department is None and touchpoint in route.touchpoints:
                    return route
        return None

    def chain(self, route: Route | None) -> list[Level]:
        levels = []
        if route is not None:
            levels.append(Level("responsible", route.role, route.people))
            if route.head:
                levels.append(Level("department_head", f"{route.role}负责人", route.head))
        else:
            levels.append(Level("responsible", self.fallback.role, self.fallback.people))
        levels.append(Level("medical_affairs", self.medical_affairs.role, self.medical_affairs.people))
        return levels

    def on_duty(self, people: tuple[str, ...], now: datetime) -> list[Person]:
        local = now.astimezone(self.zone)
        return [self.people[p] for p in people if self.people[p].on_duty(local)]

    def reachable(self, people: tuple[str, ...], now: datetime) -> list[Person]:
        """Those on duty now; when nobody is, the service center's people on duty; failing that, everybody
        named, because an urgent alert sent to someone off duty beats one sent to no one."""
        present = self.on_duty(people, now) or self.on_duty(self.fallback.people, now)
        return present or [self.people[p] for p in people]

    def praised_staff(self, text: str) -> list[Person]:
        if not self.forward_praise:
            return []
        return [p for p in self.people.values() if any(name in text for name in p.praise_names)]


def _as_list(value, where: str, problems: list[str]) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list")
        return []
    return value


def _parse_person(pid: str, raw, problems: list[str]) -> Person | None:
    where = f"people.{pid}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with name, on_duty, alerts")
        return None
    windows = []
    for i, spec in enumerate(_as_list(raw.get("on_duty"), f"{where}.on_duty", problems)):
        try:
            windows.append(Window.parse(spec))
        except ScheduleError as error:
            problems.append(f"{where}.on_duty[{i}]: {error}")
    if not raw.get("on_duty"):
        problems.append(f"{where}.on_duty: at least one window is needed (e.g. 'daily 00:00-24:00')")
    alerts = []
    for i, entry in enumerate(_as_list(raw.get("alerts"), f"{where}.alerts", problems)):
        channel = entry.get("channel") if isinstance(entry, dict) else None
        target = str(entry.get("target", "")).strip() if isinstance(entry, dict) else ""
        if channel not in CHANNELS:
            problems.append(f"{where}.alerts[{i}].channel: {channel!r} is not one of {', '.join(CHANNELS)}")
        elif channel == "email" and "@" not in target:
            problems.append(f"{where}.alerts[{i}].target: {target!r} is not an e-mail address")
        elif channel != "email" and not target.startswith(("http://", "https://")):
            problems.append(f"{where}.alerts[{i}].target: {target!r} is not an http(s) URL")
        else:
            alerts.append(Target(channel, target))
    names = tuple(str(n) for n in _as_list(raw.get("praise_names"), f"{where}.praise_names", problems))
    return Person(pid, str(raw.get("name") or pid), tuple(windows), tuple(alerts), names)


def _people_refs(value, where: str, people: dict, problems: list[str], *, required: bool) -> tuple[str, ...]:
    refs = tuple(str(p) for p in _as_list(value, where, problems))
    for ref in refs:
        if ref not in people:
            problems.append(f"{where}: unknown person {ref!r} (define it under people:)")
    if required and not refs:
        problems.append(f"{where}: names nobody")
    return refs


def _parse_group(raw, where: str, people: dict, problems: list[str]) -> Group:
    if not isinstance(raw, dict):
        problems.append(f"{where}: missing; expected a mapping with role and people")
        return Group(where, ())
    return Group(str(raw.get("role") or where), _people_refs(raw.get("people"), f"{where}.people", people,
                                                            problems, required=True))


def _parse_routes(raw_routes, people: dict, touchpoints: list[str], problems: list[str]) -> list[Route]:
    routes, seen = [], {}
    for i, raw in enumerate(_as_list(raw_routes, "routes", problems)):
        where = f"routes[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        rid = str(raw.get("id") or f"route-{i}")
        tps = tuple(str(t) for t in _as_list(raw.get("touchpoints"), f"{where}.touchpoints", problems))
        for t in tps:
            if t not in touchpoints:
                problems.append(f"{where}.touchpoints: unknown touchpoint {t!r}; valid: {', '.join(touchpoints)}")
        if not tps:
            problems.append(f"{where}.touchpoints: names no touchpoint")
        department = str(raw["department"]) if raw.get("department") else None
        for t in tps:
            if (t, department) in seen:
                problems.append(f"{where}: touchpoint {t!r}{' in ' + department if department else ''} is "
                                f"already routed by {seen[(t, department)]}")
            seen[(t, department)] = rid
        routes.append(Route(
            rid, tps, department, str(raw.get("role") or rid),
            _people_refs(raw.get("people"), f"{where}.people", people, problems, required=True),
            _people_refs(raw.get("head"), f"{where}.head", people, problems, required=False),
        ))
    covered = {t for r in routes if r.department is None for t in r.touchpoints}
    for t in touchpoints:
        if t not in covered:
            problems.append(f"routes: touchpoint {t!r} is not covered by any route without a department")
    return routes


def parse_routing(raw, *, touchpoints: list[str], zone: ZoneInfo, source: Path | str = "<routing>") -> RoutingTable:
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise RoutingError(source, ["expected a mapping with people, fallback, medical_affairs and routes"])
    raw_people = raw.get("people")
    if not isinstance(raw_people, dict) or not raw_people:
        problems.append("people: expected a non-empty mapping of person id to person")
        raw_people = {}
    people = {str(pid): p for pid, spec in raw_people.items() if (p := _parse_person(str(pid), spec, problems))}
    fallback = _parse_group(raw.get("fallback"), "fallback", people, problems)
    medical = _parse_group(raw.get("medical_affairs"), "medical_affairs", people, problems)
    routes = _parse_routes(raw.get("routes"), people, touchpoints, problems)
    admin = _people_refs(raw.get("admin"), "admin", people, problems, required="admin" in raw)
    for pid in admin:
        if pid in people and not people[pid].alerts:
            problems.append(f"admin: {pid!r} has no alerts to be paged on")
    praise = raw.get("praise") or {}
    if problems:
        raise RoutingError(source, problems)
    return RoutingTable(people, routes, fallback, medical, bool(praise.get("forward", True)), zone, admin)


def default_routing_path() -> Path:
    """The routing file installed with the package (the checkout's `data/routing.yaml` in development)."""
    return Path(str(files("pvoice.data").joinpath("routing.yaml")))


def load_routing(path: Path | None, *, touchpoints: list[str], timezone: str) -> RoutingTable:
    """The routing table at `path` (None: the packaged default), validated as a whole."""
    path = path or default_routing_path()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoutingError(path, ["file not found (set PVOICE_ROUTING_PATH)"]) from None
    except yaml.YAMLError as error:
        raise RoutingError(path, [f"invalid YAML: {error}"]) from None
    return parse_routing(raw, touchpoints=touchpoints, zone=ZoneInfo(timezone), source=path)

"""Pieces of the reliability suite (bench/reliability.py): the service in a subprocess, alert receivers on
loopback, the routing that sends each scenario's alerts to its own receiver, and the scenario's result row.

Each scenario's urgent comments carry a marker the scripted classifier of the launcher
(bench/reliability_server.py) turns into an urgent label on one touchpoint, and each such touchpoint has its
own route, person and webhook target: a scenario can then take its receiver down, or slow it, without touching
the others.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

BENCH = Path(__file__).resolve().parent
LAUNCHER = BENCH / "reliability_server.py"
PEPPER = "reliability-bench-pepper"
ROLES = ("intake", "agent", "manager", "admin")

# lane -> (marker in a comment's text, touchpoint the scripted classifier gives it). Touchpoints are taxonomy ids.
LANES: dict[str, tuple[str, str]] = {
    "down": ("【演练-断线】", "registration"),
    "kill": ("【演练-中断】", "pharmacy"),
    "slow": ("【演练-慢】", "lab_test"),
    "fast": ("【演练-快】", "examination"),
    "disk": ("【演练-磁盘】", "billing"),
    "urgent": ("【演练-加急】", "nursing"),
}


def urgent_text(lane: str, n: int) -> str:
    marker, _ = LANES[lane]
    return f"{marker}第{n}条：护士给病人输错了液，到现在没人管！"


# ---- scenario results ------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the table; `failures` say what went wrong, one line each (request, status, what)."""

    scenario: str
    load: int = 0  # requests sent to the service
    faults: str = ""
    inputs: int = 0  # distinct inputs tried (cases, bodies, comments)
    lost_comments: int = 0
    lost_alerts: int = 0
    duplicated: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    @property
    def ok(self) -> bool:
        return not (self.failures or self.lost_comments or self.lost_alerts or self.server_errors)


class Counter:
    """Counts the requests a scenario sends and the 5xx answers it gets, with the first few described."""

    def __init__(self, row: Row):
        self.row = row

    def saw(self, method: str, path: str, status: int | None, detail: str = "") -> None:
        self.row.load += 1
        if status is not None and status >= 500:
            self.row.server_errors += 1
            if sum("-> 5" in f for f in self.row.failures) < 20:
                self.row.fail(f"{method} {path} -> {status} {detail[:200]}".rstrip())


# ---- alert receivers -------------------------------------------------------------------------------------
@dataclass
class Arrival:
    key: str
    path: str
    at: float  # time.monotonic()


class Receiver:
    """A webhook receiver on 127.0.0.1 that records each alert's idempotency key when the post arrives.

    `down`: answers 503 and records nothing. `delay_s`: holds each post that long before answering 200 (a slow
    robot); the keys are recorded on arrival, so an alert whose sender is killed while it waits did arrive."""

    def __init__(self, name: str):
        self.name, self.down, self.delay_s = name, False, 0.0
        self.arrivals: list[Arrival] = []
        self.refused = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.down:
                    with receiver._lock:
                        receiver.refused += 1
                    self._reply(503, b'{"errcode": 503}')
                    return
                now = time.monotonic()
                try:
                    post = json.loads(body)
                    keys = [m["idempotency_key"] for m in post.get("messages", [])] or [post["idempotency_key"]]
                except (ValueError, KeyError, TypeError):
                    self._reply(400, b'{"errcode": 400}')
                    return
                with receiver._lock:
                    receiver.arrivals += [Arrival(k, self.path, now) for k in keys]
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self._reply(200, b'{"errcode": 0, "errmsg": "ok"}')

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                try:
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the sender was killed while we held its post: the keys are recorded already

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name=f"receiver-{name}").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.name}"

    def keys(self) -> list[str]:
        with self._lock:
            return [a.key for a in self.arrivals]

    def first_arrival(self, key: str) -> float | None:
        with self._lock:
            return next((a.at for a in self.arrivals if a.key == key), None)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Receivers(dict):
    """Every lane's receiver, and `misc` for the rest; keys and arrivals over all of them."""

    def __init__(self):
        super().__init__({lane: Receiver(lane) for lane in LANES})
        self.misc = Receiver("misc")

    def everyone(self) -> list[Receiver]:
        return [*self.values(), self.misc]

    def arrivals(self) -> dict[str, int]:
        """idempotency key -> times it arrived, over every receiver."""
        counts: dict[str, int] = {}
        for receiver in self.everyone():
            for key in receiver.keys():
                counts[key] = counts.get(key, 0) + 1
        return counts

    def close(self) -> None:
        for receiver in self.everyone():
            receiver.close()


def write_routing(path: Path, receivers: Receivers) -> Path:
    """Each lane's touchpoint to its own person and receiver; everything else (the fallback, route heads,
    medical affairs, dead-letter pages) to `misc`. Everyone is always on duty."""
    from pvoice.labels import load_taxonomy

    def person(name: str, url: str) -> dict:
        return {"name": name, "on_duty": ["daily 00:00-24:00"], "alerts": [{"channel": "webhook", "target": url}]}

    misc = receivers.misc
    people = {"psc": person("患者服务中心", f"{misc.url}/psc"), "yiwu": person("医务部", f"{misc.url}/yiwu"),
              "head": person("科室主任", f"{misc.url}/head")}
    routes, taken = [], set()
    for lane, (_, touchpoint) in LANES.items():
        people[f"p_{lane}"] = person(f"值班-{lane}", receivers[lane].url)
        routes.append({"id": lane, "touchpoints": [touchpoint], "role": f"演练-{lane}", "people": [f"p_{lane}"],
                       "head": ["head"]})
        taken.add(touchpoint)
    rest = [t for t in load_taxonomy().touchpoint_ids if t not in taken]
    routes.append({"id": "rest", "touchpoints": rest, "role": "患者服务中心", "people": ["psc"]})
    raw = {"people": people, "fallback": {"role": "患者服务中心", "people": ["psc"]},
           "medical_affairs": {"role": "医务部", "people": ["yiwu"]}, "routes": routes}
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


# ---- the service in a subprocess -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_keys(database_url: str, roles=ROLES) -> dict[str, str]:
    """One key per role through the key service, in a database brought to the current schema first."""
    from pvoice.serving.db import make_db_engine, make_session_factory, upgrade
    from pvoice.serving.db.engine import transaction
    from pvoice.serving.services.auth import create_key

    # `create` (a new SQLite file may be made) is recent: the bench also runs against older checkouts, to show
    # that it finds the defects fixed since
    accepts_create = "create" in inspect.signature(make_db_engine).parameters
    engine = make_db_engine(database_url, **({"create": True} if accepts_create else {}))
    upgrade(engine)
    keys = {}
    with transaction(make_session_factory(engine)) as session:
        for role in roles:
            _, keys[role] = create_key(session, role=role, name=f"reliability-{role}", pepper=PEPPER,
                                       now=datetime.now(timezone.utc))
    engine.dispose()
    return keys


class Server:
    """The service (uvicorn, one process) on a fixed loopback port and database, restartable after a kill.

    `clock_scale`: the service's clock runs that many times faster than real time from `anchor` (a unix
    time shared by every start, so the clock never jumps back across a restart). Durations in `settings`
    are the service's own, read on that clock (backoff, lease, SLA); HTTP timeouts stay real seconds."""

    def __init__(self, name: str, workdir: Path, model_dir: Path, routing: Path, *, clock_scale: float = 1.0,
                 settings: dict | None = None):
        self.name, self.workdir = name, workdir
        self.port = free_port()
        self.database_url = f"sqlite:///{workdir / f'{name}.db'}"
        self.clock_scale, self.anchor = clock_scale, time.time()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PVOICE_")},
            "PVOICE_ENVIRONMENT": "test", "PVOICE_DATABASE_URL": self.database_url,
            "PVOICE_MODEL_DIR": str(model_dir), "PVOICE_ROUTING_PATH": str(routing),
            "PVOICE_API_KEY_PEPPER": PEPPER, "PVOICE_LOG_LEVEL": "INFO", "PVOICE_LOG_JSON": "true",
            "PVOICE_TORCH_THREADS": "1",
            **{f"PVOICE_{k.upper()}": str(v) for k, v in (settings or {}).items()},
        }
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.keys = create_keys(self.database_url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> float:
        """Start and wait for /readyz; returns the seconds it took."""
        started = time.monotonic()
        command = [sys.executable, str(LAUNCHER), "--port", str(self.port), "--clock-scale", str(self.clock_scale),
                   "--anchor", repr(self.anchor)]
        # stderr through a pipe, not a file: the full-disk fault limits the size of every file the server writes
        self.process = subprocess.Popen(command, env=self.env, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        self.starts += 1
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {self.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"server {self.name} not ready within {timeout:.0f} s; see {self.log_path}")

    def _drain(self, process: subprocess.Popen) -> None:
        with open(self.log_path, "ab") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease released, no transaction finished."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def limit_file_writes(self, limited: bool) -> None:
        """A full disk without root or a mount: RLIMIT_FSIZE of 1 byte on the running server makes every
        write to a regular file past its first byte fail (EFBIG; Python ignores SIGXFSZ), so SQLite's writes
        fail as on a full disk; lifting the limit is the disk freed."""
        _, hard = resource.prlimit(self.process.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.process.pid, resource.RLIMIT_FSIZE, (1 if limited else hard, hard))

    def log_errors(self, limit: int = 10) -> list[str]:
        """The server's logged 500s (its "unhandled error" lines), one line each: route, error, where. Database
        errors are left out: the full-disk scenario causes them on purpose and checks the answers instead."""
        found = []
        if not self.log_path.exists():
            return found
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "unhandled error" or entry.get("level") == "critical":
                where = (entry.get("where") or entry.get("exc") or "").strip().splitlines()[-1:] or [""]
                found.append(f"{entry.get('msg')} route={entry.get('route', '-')} error={entry.get('error', '-')} "
                             f"{where[0][:160]}")
        return found[:limit]


def headers(key: str | None) -> dict:
    return {"Authorization": f"Bearer {key}"} if key else {}


def comment(text: str, external_id: str, **fields) -> dict:
    return {"text": text, "channel": "wechat", "received_at": "2026-03-02T09:00:00+08:00",
            "external_id": external_id, **fields}


def list_alerts(client: httpx.Client, admin_key: str, case_ids: set[int] | None = None) -> list[dict]:
    """Every outbox row (paged), or those of `case_ids`."""
    rows, offset = [], 0
    while True:
        response = client.get("/v1/alerts", params={"limit": 500, "offset": offset}, headers=headers(admin_key))
        response.raise_for_status()
        page = response.json()["items"]
        rows += page
        if len(page) < 500:
            break
        offset += 500
    return [r for r in rows if case_ids is None or r["case_id"] in case_ids]


def wait_until(condition, timeout: float, poll: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return condition()

"""Reliability suite of the triage service: the running service under generated, hostile and faulty conditions.

Usage: python bench/reliability.py [--quick] [--examples N] [--keep]

Starts the service (bench/reliability_server.py: uvicorn as `pvoice serve` runs it, a scripted tiny model,
a clock that runs faster than real time) on loopback with SQLite in a temp directory, a key per role, and
webhook receivers on loopback that record every alert's idempotency key. Then, in order:

- role matrix: every operation of the OpenAPI with every role, no key and a bad key, against the permission
  the route declares (401/403 or let through);
- schemathesis: generated positive and negative requests for every operation with every role's key;
- hostile inputs: a list whose 3rd item is invalid stores nothing; integers of 2^63 and more in paths and
  queries; extreme dates; 100 MB bodies without a key (server RSS before, peak, after); a body that stops
  half-way; NUL and invisible-only texts; 256 x 1,000-character /v1/classify with evidence beside an urgent
  comment (its latency);
- slow receiver: a target that holds each post must not delay another target's alert;
- receiver down for ten minutes of the service's clock: afterwards every alert arrives, none dead;
- kill -9 while alerts are in flight, restart on the same database: every alert arrives at least once
  (repeats counted by idempotency key), no comment answered 200 is missing;
- full disk (writes refused through RLIMIT_FSIZE): 503 with a code, /readyz not ready, no 500; afterwards
  everything stored is intact.

Prints one table (load in requests, faults, inputs tried, lost comments / alerts, duplicated alerts, 5xx)
with the failures found, and exits 1 when anything was lost, any 5xx came back or any check failed.
`--quick` is the version `make test` runs (tests/test_reliability.py): fewer examples and shorter faults.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reliability_delivery import Delivery, Plan  # noqa: E402
from reliability_fuzz import declared_permissions, fuzz, role_matrix  # noqa: E402
from reliability_hostile import Hostile  # noqa: E402
from reliability_support import Receivers, Row, Server, write_routing  # noqa: E402


SCENARIOS = ("role matrix", "schemathesis", "hostile inputs", "slow receiver", "receiver down", "kill -9", "full disk",
             "every alert, at the end")


def plans(quick: bool) -> dict:
    """The two sizes. Clock-read settings (backoff, SLA, retry window) are the service's defaults; the lease is
    scaled to stay a few real seconds above the HTTP timeout, so a send is never claimed twice while it runs."""
    if quick:
        scale, lease_s = 60.0, 8.0
        plan = Plan(slow_s=3.0, slow_posts=2, fast_posts=3, fast_bound_s=2.0, down_clock_s=600, down_comments=12,
                    kill_comments=16, disk_comments=4, settle_s=30.0, lease_s=lease_s)
        return dict(scale=scale, plan=plan, examples=2, min_generated=100, big_body_mb=100, body_timeout_s=3.0,
                    classify_texts=(256, 200),
                    settings={"alert_lease_seconds": lease_s * scale, "alert_timeout_s": 5.0, "body_timeout_s": 3.0})
    scale, lease_s = 10.0, 15.0
    plan = Plan(slow_s=9.0, slow_posts=3, fast_posts=10, fast_bound_s=3.0, down_clock_s=600, down_comments=120,
                kill_comments=100, disk_comments=10, settle_s=90.0, lease_s=lease_s)
    return dict(scale=scale, plan=plan, examples=20, min_generated=1000, big_body_mb=100, body_timeout_s=15.0,
                classify_texts=(256, 1000), settings={"alert_lease_seconds": lease_s * scale})


def run(*, quick: bool, examples: int | None = None, workdir: Path | None = None,
        log=print) -> tuple[list[Row], Server]:
    from pvoice.model.testing import save_tiny_classifier
    from pvoice.serving.services.auth import PERMISSIONS

    size = plans(quick)
    own_dir = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="pvoice-reliability-"))
    receivers = Receivers()
    server = None
    try:
        model = save_tiny_classifier(workdir / "tiny-model")
        routing = write_routing(workdir / "routing.yaml", receivers)
        server = Server("service", workdir, model, routing, clock_scale=size["scale"], settings=size["settings"])
        log(f"service up in {server.start():.1f} s at {server.url} (clock x{size['scale']:g}, workdir {workdir})")
        permissions = declared_permissions()
        roles_allowed = {role.value: perms for role, perms in PERMISSIONS.items()}
        rows: list[Row] = []
        steps = [
            ("role matrix", lambda: role_matrix(server, permissions, roles_allowed)),
            ("schemathesis", lambda: fuzz(server, permissions, roles_allowed, examples=examples or size["examples"],
                                          at_least=0 if examples else size["min_generated"])),
            ("hostile inputs", lambda: Hostile(server, receivers, big_body_mb=size["big_body_mb"],
                                               body_timeout_s=size["body_timeout_s"],
                                               classify_texts=size["classify_texts"]).run()),
        ]
        delivery = Delivery(server, receivers, size["plan"])
        steps += [("slow receiver", delivery.slow_receiver), ("receiver down", delivery.receiver_down),
                  ("kill -9", delivery.kill_mid_delivery), ("full disk", delivery.full_disk),
                  ("every alert, at the end", lambda: delivery.whole_outbox(Row("every alert, at the end",
                                                                                faults="all of the above")))]
        for name, step in steps:
            started = time.monotonic()
            try:
                row = step()
            except Exception as error:  # noqa: BLE001 - one broken scenario is reported, the others still run
                row = Row(name, faults="(the scenario itself broke)")
                row.fail(f"harness error: {type(error).__name__}: {error}")
                if server.process is None or server.process.poll() is not None:
                    server.start()
            rows.append(row)
            log(f"{row.scenario}: {'ok' if row.ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
        errors = server.log_errors()
        if errors:
            rows[-1].notes += [f"server log: {line}" for line in errors]
        return rows, server
    finally:
        if server is not None:
            server.stop()
        receivers.close()
        if own_dir and workdir.exists() and os.environ.get("PVOICE_RELIABILITY_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


def table(rows: list[Row]) -> str:
    lines = ["| scenario | load (requests) | faults | inputs tried | lost (comments / alerts) | duplicated | 5xx "
             "| result |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        result = "ok" if r.ok else f"FAILED ({len(r.failures)})"
        lines.append(f"| {r.scenario} | {r.load} | {r.faults} | {r.inputs} | {r.lost_comments} / {r.lost_alerts} | "
                     f"{r.duplicated} | {r.server_errors} | {result} |")
    return "\n".join(lines)


def report(rows: list[Row]) -> str:
    out = [table(rows)]
    notes = [f"- {n}" for r in rows for n in r.notes]
    if notes:
        out += ["", "Measured:", *notes]
    failures = [f"- [{r.scenario}] {f}" for r in rows for f in r.failures]
    if failures:
        out += ["", "Failures:", *failures]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short version `make test` runs")
    parser.add_argument("--examples", type=int, default=None, help="schemathesis cases per operation, role and mode")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it (logs, db)")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows, _ = run(quick=args.quick, examples=args.examples, workdir=args.keep,
                  log=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"{'quick' if args.quick else 'full'} run | {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores | {time.monotonic() - started:.0f} s\n")
    print(report(rows))
    sys.exit(0 if all(r.ok for r in rows) else 1)


if __name__ == "__main__":
    main()

"""The managers' view over 200,000 stored comments: how long each aggregate query and the whole view take.

Usage: python bench/bench_dashboard.py [--comments 200000] [--weeks 26] [--repeat 5] [--db PATH [--reuse]]

Seeds a SQLite database (migrated as the service migrates it) with made-up comments spread over `--weeks`
weeks (`pvoice.serving.insights.demo`: one to three touchpoints each, about 35% negative per touchpoint, 3%
urgent, cases with their SLA), stored by executemany in batches of 5,000, then times, each as the best of
`--repeat` runs after one warm-up: every aggregate of the view for its default period (the last 8 weeks) and
for the whole history, all of them together (`load_dashboard`, what the page route calls), and, when the
pages are installed, the page itself for each of those views (`GET /app/dashboard` through the app, template
rendering included). Target: under 1 s, the whole history included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from pvoice.labels import load_taxonomy
from pvoice.serving.db import Case, Comment, make_db_engine, make_session_factory, upgrade
from pvoice.serving.db.models import CommentAspect
from pvoice.serving.insights.demo import bulk_store, generate
from pvoice.serving.insights.filters import Period, ViewFilter, default_period
from pvoice.serving.insights.keywords import top_keywords
from pvoice.serving.insights.queries import departments, heatmap, sla_compliance, urgent_by_reason, weekly_trend
from pvoice.serving.insights.spikes import SpikeRule
from pvoice.serving.insights.view import load_dashboard, spikes_in_period
from pvoice.settings import Settings

ZONE = ZoneInfo("Asia/Shanghai")


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(best, median) seconds of `repeat` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def page_timer(db_url: str, tmp: Path, now: datetime):
    """GET /app/dashboard as a manager, through the real app (template included), or None without pages."""
    try:
        from pvoice.serving.web import deps  # noqa: F401 - the pages package
    except ImportError:
        return None
    from fastapi.testclient import TestClient

    from pvoice.model.testing import save_tiny_classifier
    from pvoice.serving import create_app
    from pvoice.serving.clock import ManualClock
    from pvoice.serving.db import transaction
    from pvoice.serving.services.auth import create_key

    settings = Settings(environment="test", database_url=db_url, model_dir=save_tiny_classifier(tmp / "tiny"),
                        log_json=False)
    client = TestClient(create_app(settings, clock=ManualClock(now), senders={}, start_workers=False),
                        base_url="https://testserver")
    client.__enter__()
    ctx = client.app.state.ctx
    with transaction(ctx.factory) as session:
        _, key = create_key(session, role="manager", name="bench", pepper=settings.api_key_pepper, now=now)
    signed = client.post("/app/login", data={"key": key, **_csrf(client)}, follow_redirects=False)
    if signed.status_code not in (302, 303):
        raise SystemExit(f"sign-in failed: {signed.status_code} {signed.text[:200]}")

    def get(params: dict[str, str]) -> None:
        response = client.get("/app/dashboard", params=params)
        if response.status_code != 200 or "<canvas" not in response.text and "chart" not in response.text:
            raise SystemExit(f"dashboard: {response.status_code} {response.text[:300]}")

    return get, lambda: client.__exit__(None, None, None)


def _csrf(client) -> dict:
    import re

    page = client.get("/app/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return {"csrf_token": match.group(1)} if match else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=200_000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, help="SQLite file to seed (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="time the database at --db as it is (seeded by an "
                                                               "earlier run with --db), without seeding again")
    parser.add_argument("--seed-only", action="store_true", help="seed --db and stop")
    args = parser.parse_args()
    if (args.reuse or args.seed_only) and args.db is None:
        parser.error("--reuse and --seed-only need --db")

    tmp = Path(tempfile.mkdtemp(prefix="pvoice-bench-"))
    path = args.db or tmp / "dashboard.db"
    if not args.reuse:
        for old in path.parent.glob(path.name + "*"):
            old.unlink()
    url = f"sqlite:///{path}"
    engine = make_db_engine(url, create=True)
    upgrade(engine)
    factory = make_session_factory(engine)
    now = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)  # a Wednesday morning in Shanghai
    if not args.reuse:
        start = time.perf_counter()
        stored = bulk_store(factory, generate(args.comments, end=now, weeks=args.weeks), zone=ZONE, now=now)
        seeded = time.perf_counter() - start
        print(f"seeded {stored:,} comments in {seeded:.1f} s ({stored / seeded:,.0f} comments/s)")
    with factory() as session:
        stored = session.scalar(select(func.count()).select_from(Comment))
        facts = session.scalar(select(func.count()).select_from(CommentAspect))
        cases = session.scalar(select(func.count()).select_from(Case))
    print(f"database: {stored:,} comments, {facts:,} touchpoint facts, {cases:,} cases, "
          f"{path.stat().st_size / 1e6:.0f} MB")
    if args.seed_only:
        return

    taxonomy, settings = load_taxonomy(), Settings(environment="test")
    today = now.astimezone(ZONE).date()
    views = {"default (8 weeks)": ViewFilter(default_period(today), ZONE),
             f"all ({args.weeks} weeks)": ViewFilter(Period(today - timedelta(weeks=args.weeks), today), ZONE),
             "one department, 8 weeks": ViewFilter(default_period(today), ZONE, department="儿科")}
    rule = SpikeRule.from_settings(settings)
    print(f"\n{'query':<28}" + "".join(f"{name:>26}" for name in views))
    session = factory()
    parts = {
        "departments (filter list)": lambda f: departments(session),
        "heatmap": lambda f: heatmap(session, f, taxonomy),
        "weekly trend + change": lambda f: weekly_trend(session, f, taxonomy),
        "top negative keywords": lambda f: top_keywords(session, f, taxonomy, sample=settings.dashboard_keyword_sample,
                                                        mask=True),
        "urgent by reason": lambda f: urgent_by_reason(session, f, taxonomy),
        "SLA compliance": lambda f: sla_compliance(session, f, now=now),
        "spikes (each week)": lambda f: spikes_in_period(session, f, rule),
        "whole view (load_dashboard)": lambda f: load_dashboard(session, f=f, taxonomy=taxonomy, settings=settings,
                                                               now=now, mask=True),
    }
    for name, fn in parts.items():
        cells = []
        for f in views.values():
            best, median = best_of(lambda: fn(f), args.repeat)
            cells.append(f"{best * 1000:9.0f} ms (median {median * 1000:5.0f})")
        print(f"{name:<28}" + "".join(f"{c:>26}" for c in cells))
    session.close()

    timer = page_timer(url, tmp, now)
    if timer is None:
        print("\nGET /app/dashboard: the pages are not installed in this checkout (pvoice.serving.web)")
    else:
        get, close = timer
        print(f"\n{'GET /app/dashboard':<28}" + "".join(f"{name:>26}" for name in views))
        cells = []
        try:
            for name, f in views.items():
                # the default view as a manager first opens it (no query); the others as the filter form sends them
                params = {} if name.startswith("default") else f.query()
                best, median = best_of(lambda: get(params), args.repeat)
                cells.append(f"{best * 1000:9.0f} ms (median {median * 1000:5.0f})")
        finally:
            close()
        print(f"{'(manager, template rendered)':<28}" + "".join(f"{c:>26}" for c in cells))
    engine.dispose()
    if args.db is None:
        for p in tmp.glob("dashboard.db*"):
            p.unlink()
    print(f"\nPython {sys.version.split()[0]}, SQLite, {stored:,} comments over {args.weeks} weeks")


if __name__ == "__main__":
    main()

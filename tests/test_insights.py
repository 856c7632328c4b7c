"""The managers' view's data layer on a small seeded database, on SQLite and on PostgreSQL (conftest's `db_url`):
every aggregate against counts the test names, drill-downs with evidence and masking, filters that refuse bad
input, exports that keep formulas as text, and the spike test (its statistics, its flags and its one alert per
cell and week)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from pvoice.labels import load_taxonomy
from pvoice.serving.db import OutboxAlert, make_db_engine, make_session_factory, transaction, upgrade
from pvoice.serving.db.models import Case, CommentAspect, SpikeFlag
from pvoice.serving.errors import InvalidInput
from pvoice.serving.insights import export
from pvoice.serving.insights.demo import DemoComment, bulk_store, comment
from pvoice.serving.insights.drilldown import parse_cell, drilldown
from pvoice.serving.insights.filters import Period, ViewFilter, make_filter, parse_week
from pvoice.serving.insights.keywords import top_keywords
from pvoice.serving.insights.queries import departments, heatmap, sla_compliance, urgent_by_reason, weekly_trend
from pvoice.serving.insights.spikes import (
    SpikeRule, benjamini_hochberg, flag_spikes, poisson_sf, score_weeks,
)
from pvoice.serving.insights.view import load_dashboard
from pvoice.serving.routing import load_routing
from pvoice.serving.services.auth import Principal, Role
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.labels import Labels, add_labels
from pvoice.serving.web.highlight import highlight
from serving_support import ManualClock, make_settings

ZONE = ZoneInfo("Asia/Shanghai")
TAX = load_taxonomy()
WEEK47 = parse_week("2026-W47")  # Monday 16 to Sunday 22 November 2026
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai, the week after


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)


@pytest.fixture
def ctx(tmp_path, db_url) -> ServiceContext:
    """The data layer's service context on SQLite, then on PostgreSQL (conftest's `db_url`)."""
    settings = make_settings(tmp_path, tmp_path / "no-model", database_url=db_url)
    engine = make_db_engine(settings.database_url)
    upgrade(engine)
    routing = load_routing(settings.routing_path, touchpoints=TAX.touchpoint_ids, timezone=settings.timezone)
    yield ServiceContext(settings=settings, taxonomy=TAX, routing=routing, clock=ManualClock(NOW),
                         factory=make_session_factory(engine))
    engine.dispose()


def store(ctx: ServiceContext, comments: list[DemoComment]) -> None:
    bulk_store(ctx.factory, comments, zone=ZONE, now=NOW)


def view(period: Period = WEEK47, **kw) -> ViewFilter:
    return ViewFilter(period, ZONE, **kw)


MONDAY = WEEK47.start


@pytest.fixture
def seeded(ctx):
    store(ctx, [
        comment({"waiting": "negative", "consultation": "positive"}, received_at=at(MONDAY), department="儿科"),
        comment({"waiting": "negative"}, received_at=at(MONDAY + timedelta(days=2)), department="儿科",
                channel="wechat"),
        comment({"registration": "neutral"}, received_at=at(MONDAY + timedelta(days=6), 23), department="骨科"),
        # 00:30 on Monday 23rd in Shanghai is 16:30 UTC on the 22nd: the next week, not this one
        comment({"waiting": "negative"}, received_at=at(MONDAY + timedelta(days=7), 0).replace(minute=30),
                department="儿科"),
        # the week before: the previous period of W47
        comment({"waiting": "negative"}, received_at=at(MONDAY - timedelta(days=3)), department="儿科"),
        comment({"waiting": "positive"}, received_at=at(MONDAY - timedelta(days=3)), department="儿科"),
    ])
    return ctx


# ---- aggregates ----------------------------------------------------------------------------------------------
def test_heatmap_counts_each_touchpoint_by_its_own_sentiment_in_local_days(seeded):
    with seeded.factory() as session:
        h = heatmap(session, view(), TAX)
        assert h.counts == {"waiting": {"negative": 2}, "consultation": {"positive": 1},
                            "registration": {"neutral": 1}}
        assert h.total("waiting") == 2 and h.share("waiting", "negative") == 1.0 and h.comments == 4
        assert heatmap(session, view(department="骨科"), TAX).counts == {"registration": {"neutral": 1}}
        assert heatmap(session, view(channel="wechat"), TAX).counts == {"waiting": {"negative": 1}}


def test_weekly_trend_and_the_change_against_the_previous_period(seeded):
    with seeded.factory() as session:
        two_weeks = Period(MONDAY - timedelta(days=7), WEEK47.end)
        tr = weekly_trend(session, view(two_weeks), TAX)
        assert tr.weeks == [MONDAY - timedelta(days=7), MONDAY]
        assert tr.negative["waiting"] == [1, 2] and tr.mentions["waiting"] == [2, 2]
        one = {c.touchpoint: c for c in weekly_trend(session, view(), TAX).changes}
        waiting = one["waiting"]
        assert (waiting.negative, waiting.previous_negative, waiting.mentions, waiting.previous_mentions) == (2, 1, 2, 2)
        assert waiting.change == 1.0 and waiting.share == 1.0 and waiting.previous_share == 0.5
        assert one["registration"].change is None  # nothing negative before: no ratio to give


def test_departments_are_every_one_the_comments_name_in_one_order_on_each_database(ctx):
    store(ctx, [comment({"waiting": "negative"}, received_at=at(MONDAY), department=d)
                for d in ("骨科", "儿科", "ICU", "儿科", "b组", "A组")]
          + [comment({"waiting": "positive"}, received_at=at(MONDAY))])
    with ctx.factory() as session:
        assert departments(session) == ["A组", "ICU", "b组", "儿科", "骨科"]  # by code point, whatever the collation


def test_migration_0006_gives_older_cases_their_comments_time_and_channel(db_url):
    engine = make_db_engine(db_url)
    upgrade(engine, "0005")
    meta = sa.MetaData()
    comments, cases = (sa.Table(name, meta, autoload_with=engine) for name in ("comments", "cases"))
    # stored naive, in UTC: received on Monday of W47, the case opened (on import, say) a week later
    received, opened = datetime(2026, 11, 16, 2), datetime(2026, 11, 23, 1)
    with engine.begin() as connection:
        connection.execute(comments.insert(), [{"id": 1, "text": "候诊等了三个小时", "channel": "wechat",
                                                "received_at": received, "department": "儿科", "truncated": False,
                                                "created_at": opened, "created_by": "test"}])
        connection.execute(cases.insert(), [{"id": 1, "comment_id": 1, "status": "open", "urgency": "complaint",
                                             "department": "儿科", "responsible_role": "r", "route": "r",
                                             "assignee": "psc", "escalation_level": 0, "needs_review": False,
                                             "created_at": opened, "answer_due_at": opened + timedelta(days=3)}])
    assert upgrade(engine) == "0006"
    factory = make_session_factory(engine)
    with factory() as session:
        case = session.scalars(select(Case)).one()
        assert (case.received_at, case.channel) == (received.replace(tzinfo=timezone.utc), "wechat")
        # counted in the week its comment was received, not in the week the case was opened
        answered = {str(period): next(c for c in sla_compliance(session, view(period), now=NOW)
                                      if (c.measure, c.urgency) == ("answer", "complaint"))
                    for period in (WEEK47, parse_week("2026-W48"))}
    assert {p: (c.met, c.missed, c.pending) for p, c in answered.items()} == {"2026-W47": (0, 0, 1),
                                                                              "2026-W48": (0, 0, 0)}
    engine.dispose()


@pytest.fixture
def cases(ctx):
    store(ctx, [
        # urgent, acknowledged in 10 minutes, answered in a day: both SLAs met
        comment({"nursing": "negative"}, received_at=at(MONDAY), reasons=["safety"], department="心内科",
                acknowledged_after=timedelta(minutes=10), resolved_after=timedelta(hours=20)),
        # urgent with two reasons, acknowledged after 45 minutes (missed), never answered and overdue
        comment({"billing": "negative"}, received_at=at(MONDAY + timedelta(days=1)), reasons=["safety", "escalation"],
                department="心内科", acknowledged_after=timedelta(minutes=45)),
        # a complaint on Thursday afternoon, answered on Monday morning: within 2 working days (Friday, Monday)
        comment({"waiting": "negative"}, received_at=at(MONDAY + timedelta(days=3), 15), department="儿科",
                resolved_after=timedelta(days=3, hours=18)),
        # a complaint on Sunday evening, still open on Monday: due Wednesday, pending
        comment({"waiting": "negative"}, received_at=at(WEEK47.end, 20), department="儿科"),
    ])
    return ctx


def test_urgent_cases_by_reason(cases):
    with cases.factory() as session:
        u = urgent_by_reason(session, view(), TAX)
        assert u.cases == 2 and u.counts["safety"] == 2 and u.counts["escalation"] == 1 and u.counts["threat"] == 0
        assert urgent_by_reason(session, view(department="儿科"), TAX).cases == 0


def test_sla_compliance_counts_met_missed_and_pending_by_the_deadlines_set_at_opening(cases):
    with cases.factory() as session:
        got = {(c.measure, c.urgency): (c.met, c.missed, c.pending) for c in sla_compliance(session, view(), now=NOW)}
    assert got == {("ack", "urgent"): (1, 1, 0), ("answer", "urgent"): (1, 1, 0), ("answer", "complaint"): (1, 0, 1)}


def test_top_negative_keywords_read_a_bounded_sample(ctx):
    store(ctx, [comment({"waiting": "negative"}, received_at=at(MONDAY, 8 + i % 10), variant=0) for i in range(30)]
          + [comment({"waiting": "positive"}, received_at=at(MONDAY), variant=0)])
    with ctx.factory() as session:
        kw = top_keywords(session, view(), TAX, sample=12, mask=True)
    assert kw.read == {"waiting": 12}
    words = [k.word for k in kw.words["waiting"]]
    assert "候诊" in words and all(k.comments <= 12 for k in kw.words["waiting"])


# ---- drill-down ----------------------------------------------------------------------------------------------
def test_drilldown_lists_the_comments_behind_a_cell_with_their_evidence_marked_and_masked(ctx):
    text = "候诊等了三个小时，我电话13812345678"
    store(ctx, [
        DemoComment(text, "survey", at(MONDAY, 9), "儿科", {"waiting": "negative"}, "negative", "complaint",
                    evidence={"waiting": [{"text": "等了三个小时", "start": 2, "end": 8, "weight": 0.4}]}),
        comment({"waiting": "negative"}, received_at=at(MONDAY, 11), department="儿科"),
        comment({"waiting": "positive"}, received_at=at(MONDAY, 12), department="儿科"),
    ])
    cell = parse_cell(TAX, kind="aspect", touchpoint="waiting", sentiment="negative")
    with ctx.factory() as session:
        page = drilldown(session, view(), cell, mask=True, now=NOW)
        raw = drilldown(session, view(), cell, mask=False, now=NOW, limit=1, offset=1)
    assert page.total == 2 and len(page.items) == 2
    newest, oldest = page.items
    assert newest.received_at > oldest.received_at and newest.case_id is not None
    marked = [s.text for s in highlight(oldest.text, oldest.spans) if s.marks]
    assert marked == ["等了三个小时"]
    assert "13812345678" not in oldest.text and "138****5678" in oldest.text
    assert "13812345678" in raw.items[0].text
    assert oldest.labels == {"waiting": "negative"} and oldest.has_evidence


@pytest.mark.parametrize("kind,params,expected", [
    ("week", {"touchpoint": "waiting", "week": "2026-11-16"}, 2),
    ("keyword", {"touchpoint": "waiting", "word": "三个小时"}, 2),
    ("reason", {"reason": "safety"}, 1),
    ("sla", {"measure": "ack", "urgency": "urgent", "status": "met"}, 1),
])
def test_every_kind_of_chart_drills_down(ctx, kind, params, expected):
    store(ctx, [comment({"waiting": "negative"}, received_at=at(MONDAY, h), department="儿科") for h in (9, 10)]
          + [comment({"nursing": "negative"}, received_at=at(MONDAY), reasons=["safety"],
                     acknowledged_after=timedelta(minutes=5))])
    with ctx.factory() as session:
        page = drilldown(session, view(), parse_cell(TAX, kind=kind, **params), mask=True, now=NOW)
    assert page.total == expected
    assert all(any(s.marks for s in highlight(item.text, item.spans)) for item in page.items)


@pytest.mark.parametrize("params,field", [
    ({"kind": "pie"}, "kind"), ({"kind": "aspect", "touchpoint": "parking", "sentiment": "negative"}, "touchpoint"),
    ({"kind": "aspect", "touchpoint": "waiting"}, "sentiment"), ({"kind": "week", "touchpoint": "waiting",
                                                                 "week": "2026-11-17"}, "week"),
    ({"kind": "reason", "reason": "angry"}, "reason"), ({"kind": "sla", "measure": "ack", "urgency": "complaint",
                                                         "status": "met"}, "urgency"),
])
def test_a_drilldown_link_with_an_unknown_value_is_refused_naming_it(params, field):
    with pytest.raises(InvalidInput) as error:
        parse_cell(TAX, **params)
    assert error.value.field == field and error.value.status == 422


# ---- filters -------------------------------------------------------------------------------------------------
def test_filters_read_weeks_dates_and_known_values():
    f = make_filter(zone=ZONE, taxonomy=TAX, departments=["儿科"], today=date(2026, 12, 2), week="2026-W47",
                    department="儿科", channel="wechat")
    assert (f.period.start, f.period.end, str(f.period)) == (date(2026, 11, 16), date(2026, 11, 22), "2026-W47")
    lo, hi = f.bounds()
    assert lo == datetime(2026, 11, 15, 16, tzinfo=timezone.utc) and hi - lo == timedelta(days=7)
    default = make_filter(zone=ZONE, taxonomy=TAX, departments=[], today=date(2026, 12, 2))
    assert default.period.start.weekday() == 0 and default.period.end == date(2026, 12, 2)
    assert len(default.period.weeks()) == 8 and default.period.previous().end == default.period.start - timedelta(days=1)


@pytest.mark.parametrize("params,field", [
    ({"start": "2026-13-01"}, "start"), ({"end": "yesterday"}, "end"), ({"start": "2026-11-20", "end": "2026-11-01"}, "end"),
    ({"start": "2020-01-01", "end": "2026-01-01"}, "start"), ({"week": "2026-W54"}, "week"), ({"week": "47"}, "week"),
    ({"channel": "fax"}, "channel"), ({"department": "不存在科"}, "department"),
])
def test_bad_filters_are_one_clear_error_naming_the_field(params, field):
    with pytest.raises(InvalidInput) as error:
        make_filter(zone=ZONE, taxonomy=TAX, departments=["儿科"], today=date(2026, 12, 2), **params)
    assert error.value.field == field and error.value.status == 422


# ---- labels a person gives replace the model's in the counts ---------------------------------------------------
def test_a_persons_labels_replace_the_models_in_the_view(seeded):
    with seeded.factory() as session:
        first = session.scalar(select(CommentAspect.comment_id).where(CommentAspect.touchpoint == "consultation"))
    reviewer = Principal(1, "reviewer", Role.manager)
    with transaction(seeded.factory) as session:
        add_labels(session, comment_id=first, taxonomy=TAX, who=reviewer, now=NOW, zone=ZONE,
                   labels=Labels(["registration"], {"registration": "negative"}, "negative", "complaint", []))
    with seeded.factory() as session:
        h = heatmap(session, view(), TAX)
        sources = set(session.scalars(select(CommentAspect.source).where(CommentAspect.comment_id == first)))
    assert h.counts["registration"] == {"neutral": 1, "negative": 1} and "consultation" not in h.counts
    assert h.counts["waiting"] == {"negative": 1} and sources == {"human"}


# ---- exports -------------------------------------------------------------------------------------------------
def test_exports_keep_cells_that_look_like_formulas_as_text(cases):
    table = export.Table("t", "表", ["关键词", "n"], [["=HYPERLINK(\"x\")", 3], ["+1", 1]])
    text = export.render(table, "csv").decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["关键词", "n"], ["'=HYPERLINK(\"x\")", "3"], ["'+1", "1"]]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(export.render(table, "xlsx"))).active
    assert sheet["A2"].value == "=HYPERLINK(\"x\")" and sheet["A2"].data_type == "s" and sheet["B2"].value == 3
    with cases.factory() as session:
        dash = load_dashboard(session, f=view(), taxonomy=TAX, settings=cases.settings, now=NOW, mask=True)
    for name in ("heatmap", "trend", "keywords", "urgent", "sla", "spikes"):
        t = dash.table(name, TAX)
        assert t.columns and all(len(r) == len(t.columns) for r in t.rows)
        assert export.render(t, "csv") and export.render(t, "xlsx")
    sla = dash.table("sla", TAX)
    assert sla.rows[0][:5] == ["30 分钟内确认", "紧急", 1, 1, 0]
    with pytest.raises(InvalidInput):
        export.check_format("pdf")


# ---- spikes --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k,lam", [(0, 2.0), (1, 0.5), (3, 3.0), (12, 1.5), (40, 10.0), (200, 20.0), (5, 30.0)])
def test_poisson_tail_matches_an_exact_sum(k, lam):
    from decimal import Decimal, getcontext

    getcontext().prec = 60  # every probability of X from 0 to k + 400, in 60 digits, summed directly
    lam_d, term, pmf = Decimal(lam), Decimal(-lam).exp(), []
    for i in range(k + 400):
        pmf.append(term)
        term = term * lam_d / (i + 1)
    exact = sum(pmf[k:]) if k > lam else 1 - sum(pmf[:k])
    assert poisson_sf(k, lam) == pytest.approx(float(exact), rel=1e-9, abs=1e-300)


def test_benjamini_hochberg_steps_up():
    # m = 5, q = 0.05: lines 0.01, 0.02, 0.03, 0.04, 0.05; the largest rank under its line is 3 (0.025 <= 0.03)
    assert benjamini_hochberg([0.045, 0.001, 0.9, 0.025, 0.011], 0.05) == [False, True, False, True, True]
    # step-up: 0.04 at rank 4 is under its line, so every smaller p is rejected with it (0.021 > 0.02 is not
    # under its own line, and is rejected all the same)
    assert benjamini_hochberg([0.04, 0.001, 0.9, 0.025, 0.021], 0.05) == [True, True, False, True, True]
    assert benjamini_hochberg([], 0.05) == []


def _weeks_of(ctx, counts: dict[tuple[str, str], list[int]], last: date) -> None:
    """Negative comments per cell and week, the last list entry in the week of `last` (a Monday)."""
    rows = []
    for (touchpoint, department), series in counts.items():
        for back, n in enumerate(reversed(series)):
            monday = last - timedelta(weeks=back)
            rows += [comment({touchpoint: "negative"}, received_at=at(monday + timedelta(days=i % 5), 9),
                             department=department) for i in range(n)]
    store(ctx, rows)


RULE = SpikeRule(history_weeks=8, min_expected=1.0, min_count=5, min_ratio=2.0, fdr=0.05)


def test_a_cell_far_above_its_own_history_is_a_spike_and_a_busy_steady_one_is_not(ctx):
    _weeks_of(ctx, {
        ("waiting", "儿科"): [1, 2, 1, 0, 2, 1, 1, 2, 12],  # baseline 1.25, then 12
        ("waiting", "骨科"): [10, 11, 9, 10, 12, 10, 9, 11, 14],  # busy but steady: 14 against 10.25
        ("billing", "眼科"): [0, 0, 0, 0, 0, 0, 0, 0, 3],  # a quiet cell: 3 against the floor of 1, under min_count
    }, MONDAY)
    with ctx.factory() as session:
        tests = score_weeks(session, weeks=[MONDAY], rule=RULE)[MONDAY]
    by_cell = {(t.touchpoint, t.department): t for t in tests}
    spike = by_cell[("waiting", "儿科")]
    assert spike.spike and spike.observed == 12 and spike.expected == 1.25 and spike.p_value < 1e-6
    assert spike.history == [1, 2, 1, 0, 2, 1, 1, 2]
    assert not by_cell[("waiting", "骨科")].spike and not by_cell[("billing", "眼科")].spike
    assert [t.spike for t in tests] == [True, False, False]  # spikes first
    with ctx.factory() as session:  # a week later the cell is back to normal: 0 this week is no spike
        assert not any(t.spike for t in score_weeks(session, weeks=[MONDAY + timedelta(days=7)], rule=RULE)[
            MONDAY + timedelta(days=7)])


def test_a_spike_is_flagged_and_alerts_its_route_once_per_cell_and_week(ctx):
    _weeks_of(ctx, {("nursing", "儿科"): [1, 1, 2, 1, 0, 1, 1, 1, 9]}, MONDAY)
    ctx.clock.set(at(MONDAY + timedelta(days=5)))
    flags = flag_spikes(ctx)  # the current local week, from the clock
    assert [(f.touchpoint, f.department, f.observed, f.week) for f in flags] == [("nursing", "儿科", 9, MONDAY)]
    with ctx.factory() as session:
        alerts = list(session.scalars(select(OutboxAlert)))
    # the nursing route of the test routing file: its one person, on their one webhook
    assert [(a.event, a.recipient, a.case_id, a.comment_id) for a in alerts] == [("spike", "nurse", None, None)]
    assert "儿科" in alerts[0].title and "护理服务" in alerts[0].title and "9 条" in alerts[0].body_markdown
    assert alerts[0].idempotency_key.startswith("pv-spike-2026-W47-nursing-")
    _weeks_of(ctx, {("nursing", "儿科"): [2]}, MONDAY)  # two more this week: the flag is updated, not doubled
    again = flag_spikes(ctx)
    with ctx.factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxAlert)) == 1
        assert session.scalar(select(func.count()).select_from(SpikeFlag)) == 1
    assert again[0].observed == 11 and again[0].alerted_at == flags[0].alerted_at


def test_spikes_are_shown_for_each_week_of_the_period_and_the_department_filter(ctx):
    _weeks_of(ctx, {("nursing", "儿科"): [1, 1, 2, 1, 0, 1, 1, 1, 9], ("waiting", "骨科"): [0] * 8 + [1]}, MONDAY)
    with ctx.factory() as session:
        spikes = load_dashboard(session, f=view(), taxonomy=TAX, settings=ctx.settings, now=NOW, mask=True,
                                parts=("spikes",)).spikes
        other = load_dashboard(session, f=view(department="骨科"), taxonomy=TAX, settings=ctx.settings, now=NOW,
                               mask=True, parts=("spikes",)).spikes
    assert [(s.week, s.test.touchpoint, s.flag) for s in spikes] == [(MONDAY, "nursing", None)]
    assert other == []

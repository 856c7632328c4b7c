"""The managers' view (管理看板) as a manager uses it: the page and its refusals through the app (TestClient), then
in Chromium against a real `pvoice serve` (charts drawn, a filter that changes the heatmap, a drill-down with the
evidence marked, a CSV export), and the weekly report (`pvoice report`) as HTML and PDF."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from pvoice.serving import create_app
from pvoice.serving.clock import ManualClock
from pvoice.serving.db import make_db_engine, make_session_factory
from pvoice.serving.insights.demo import bulk_store, comment
from pvoice.serving.insights.filters import MAX_DAYS
from serving_support import make_keys, make_settings
from web_support import BROWSER, client_sign_in, english_in, message_in, shot, sign_in

ZONE = ZoneInfo("Asia/Shanghai")


def _seed_rows(now: datetime) -> list:
    """A week of comments in two departments, and one in the week before; evidence with each (demo data)."""
    monday = (now.astimezone(ZONE) - timedelta(days=now.astimezone(ZONE).weekday())).replace(hour=9, minute=0)
    rows = [comment({"waiting": "negative"}, received_at=monday + timedelta(hours=h), department="儿科") for h in range(6)]
    rows += [comment({"registration": "negative", "consultation": "positive"}, received_at=monday + timedelta(hours=h),
                     department="骨科", channel="wechat") for h in range(3)]
    rows += [comment({"nursing": "negative"}, received_at=monday, department="儿科", reasons=["safety"],
                     acknowledged_after=timedelta(minutes=10))]
    rows += [comment({"billing": "negative"}, received_at=monday - timedelta(days=5), department="骨科")]
    return rows


def _seed(database_url: str, now: datetime) -> None:
    engine = make_db_engine(database_url)
    bulk_store(make_session_factory(engine), _seed_rows(now), zone=ZONE, now=now)
    engine.dispose()


NOW = datetime(2026, 11, 19, 2, 0, tzinfo=timezone.utc)  # Thursday of 2026-W47, 10:00 in Shanghai


@pytest.fixture(scope="module")
def app_client(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("dash")
    settings = make_settings(tmp, tiny_model_dir)
    app = create_app(settings, clock=ManualClock(NOW), senders={}, start_workers=False)
    with TestClient(app, base_url="https://testserver") as client:
        _seed(settings.database_url, NOW)
        client.keys = make_keys(app)
        yield client


def _as(client, role: str):
    client.cookies.clear()
    assert client_sign_in(client, client.keys[role]).status_code == 303
    return client


def _chart_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S)[1])


def test_the_dashboard_shows_every_chart_for_the_period_and_filters_change_it(app_client):
    page = _as(app_client, "manager").get("/app/dashboard")
    assert page.status_code == 200
    for chart in ("chart-heatmap", "chart-trend", "chart-urgent", "chart-sla"):
        assert f'id="{chart}"' in page.text
    assert "/app/static/vendor/echarts.min.js" in page.text and "http://" not in page.text.split("<main")[1]
    data = _chart_data(page.text)
    waiting = data["heatmap"]["y"].index("候诊排队")
    assert [n for x, y, n in data["heatmap"]["data"] if y == waiting and x == 2] == [6]
    from pvoice.labels import load_taxonomy

    assert data["urgent"]["data"][data["urgent"]["reasons"].index(load_taxonomy().name_of("safety"))] == 1
    bone = _chart_data(app_client.get("/app/dashboard", params={"department": "骨科"}).text)
    assert [n for x, y, n in bone["heatmap"]["data"] if y == waiting] == [0, 0, 0]
    assert "挂号" in app_client.get("/app/dashboard", params={"week": "2026-W47"}).text


@pytest.mark.parametrize("params,field,words", [
    ({"start": "2026-02-30"}, "start", "开始日期有误：请按 年-月-日 填写"),
    ({"start": "2020-01-01", "end": "2026-01-01"}, "start", f"所选期间最长 {MAX_DAYS} 天"),
    ({"start": "2026-11-20", "end": "2026-11-01"}, "end", "不要早于开始日期"),
    ({"department": "不存在科"}, "department", "没有意见提到这个科室"), ({"channel": "fax"}, "channel", "未知的渠道"),
    ({"week": "2026-W99"}, "week", "周次有误"),
])
def test_a_bad_filter_is_a_message_in_the_page_and_422(app_client, params, field, words):
    page = _as(app_client, "manager").get("/app/dashboard", params=params)
    assert page.status_code == 422
    message = message_in(page.text, "filter-errors")
    assert f'data-field="{field}"' in page.text and message.startswith("筛选条件有误，没有查询：") and words in message
    assert not english_in(message) and "dashboard-data" not in page.text  # nothing was queried


@pytest.mark.parametrize("params,words", [
    ({"kind": "aspect", "touchpoint": "parking", "sentiment": "negative"}, "图表链接中的触点有误"),
    ({"kind": "week", "touchpoint": "waiting", "week": "2026-11-17"}, "应为某周星期一的日期"),
    ({"kind": "pie"}, "图表链接有误"),
    ({"kind": "aspect", "touchpoint": "waiting", "sentiment": "negative", "start": "2026-02-30"}, "开始日期有误"),
    ({"kind": "aspect", "touchpoint": "waiting", "sentiment": "negative", "offset": "x"}, "翻页位置应为整数"),
])
def test_a_changed_drilldown_link_is_a_422_page_in_chinese(app_client, params, words):
    page = _as(app_client, "manager").get("/app/dashboard/drill", params=params)
    assert page.status_code == 422
    message = message_in(page.text)
    assert words in message and not english_in(message) and 'class="drill-item' not in page.text


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_only_managers_open_the_dashboard_as_the_apis_roles_say(app_client, role):
    client = _as(app_client, role)
    assert client.get("/app/dashboard").status_code == 403
    assert client.get("/app/dashboard/export", params={"table": "heatmap", "format": "csv"}).status_code == 403


def test_a_drilldown_lists_the_comments_with_the_evidence_marked(app_client):
    client = _as(app_client, "manager")
    link = _chart_data(client.get("/app/dashboard").text)["heatmap"]["links"]
    waiting = next(row for row in link if "touchpoint=waiting" in row[2])[2]
    page = client.get(waiting)
    assert page.status_code == 200 and "共 6 条" in page.text
    assert page.text.count('<mark class="evidence" data-for="waiting"') == 6
    assert client.get("/app/dashboard/drill", params={"kind": "aspect", "touchpoint": "parking",
                                                      "sentiment": "negative"}).status_code == 422


def test_a_trend_point_drills_down_to_that_weeks_negative_comments(app_client):
    client = _as(app_client, "manager")
    trend = _chart_data(client.get("/app/dashboard").text)["trend"]
    waiting = next(s for s in trend["series"] if s["name"] == "候诊排队")
    assert trend["weeks"][-1] == "2026-W47" and waiting["data"][-1] == 6
    # the link's week is the clicked Monday; the filter's period travels as start and end
    page = client.get(waiting["links"][-1])
    assert page.status_code == 200 and "共 6 条" in page.text
    assert page.text.count('<mark class="evidence" data-for="waiting"') == 6


def test_each_table_exports_as_csv_and_xlsx(app_client):
    client = _as(app_client, "manager")
    response = client.get("/app/dashboard/export", params={"table": "heatmap", "format": "csv", "week": "2026-W47"})
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    assert "2026-W47" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["触点", "正面", "中性", "负面", "合计", "负面占比"]
    assert ["候诊排队", "0", "0", "6", "6", "100.0%"] in rows
    for table in ("trend", "keywords", "urgent", "sla", "spikes"):
        xlsx = client.get("/app/dashboard/export", params={"table": table, "format": "xlsx"})
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    refused = client.get("/app/dashboard/export", params={"table": "secrets", "format": "csv"})
    assert refused.status_code == 422 and message_in(refused.text) == "未知的表格：请使用看板上的导出按钮。"


# ---- in Chromium, against `pvoice serve` ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeded_server(web_server):
    _seed(web_server.database_url, datetime.now(timezone.utc))
    return web_server


def _heatmap_text(page) -> str:
    return page.text_content("#table-heatmap")  # in a closed <details>: its text, not what is shown


def test_a_manager_reads_the_charts_filters_drills_down_and_exports(seeded_server, page, tmp_path):
    server = seeded_server
    sign_in(page, server, server.keys["manager"])
    assert "/app/dashboard" in page.url
    page.wait_for_selector("html[data-charts-ready=true]")
    for chart in ("chart-heatmap", "chart-trend", "chart-urgent", "chart-sla"):
        assert page.locator(f"#{chart} canvas").count() >= 1
    shot(page, "dashboard")
    everything = _heatmap_text(page)
    page.select_option("select[name=department]", "骨科")
    page.click("#apply")
    page.wait_for_selector("html[data-charts-ready=true]")
    assert "department=" in page.url and _heatmap_text(page) != everything
    shot(page, "dashboard-filtered")
    # a click on the heatmap's cell of 挂号 x 负面 opens the comments behind it
    box = page.locator("#chart-heatmap").bounding_box()
    x, y = page.evaluate("""() => {
        const c = echarts.getInstanceByDom(document.getElementById('chart-heatmap'));
        const data = JSON.parse(document.getElementById('dashboard-data').textContent).heatmap;
        return c.convertToPixel({seriesIndex: 0}, [data.x.indexOf('负面'), data.y.indexOf('预约挂号')]);
    }""")
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_url(re.compile(r"/app/dashboard/drill\?"))
    marks = page.locator("mark.evidence")
    assert marks.count() == 3 and marks.first.inner_text()
    assert "预约挂号" in page.inner_text("#drill-title")
    shot(page, "dashboard-drilldown")
    page.click("#back")
    with page.expect_download() as download:
        page.click("a.export[data-table=heatmap][data-format=csv]")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".csv" and "预约挂号" in saved.read_text(encoding="utf-8-sig")


# ---- the weekly report --------------------------------------------------------------------------------------
def _report(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PVOICE_")}, "PVOICE_DATABASE_URL": database_url,
           "PVOICE_ENVIRONMENT": "test"}
    return subprocess.run([sys.executable, "-m", "pvoice", "report", *args], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=180)


@pytest.fixture(scope="module")
def report_db(tmp_path_factory):
    from pvoice.serving.db import upgrade

    path = tmp_path_factory.mktemp("report") / "report.db"
    url = f"sqlite:///{path}"
    engine = make_db_engine(url, create=True)
    upgrade(engine)
    engine.dispose()
    _seed(url, NOW)
    return url


def test_the_weekly_report_is_one_self_contained_html_file(report_db, tmp_path):
    done = _report(tmp_path, report_db, "--period", "2026-W47", "-o", "report.html")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "质量周报 2026-W47" in html and "主要问题" in html and "本周紧急工单" in html
    assert "<script src=" not in html and "echarts" in html and "<link" not in html  # nothing to fetch
    assert "候诊排队" in html and "#" in html.split('id="urgent-cases"')[1]


def test_the_weekly_report_draws_its_charts_offline(report_db, tmp_path, web_browser):
    assert _report(tmp_path, report_db, "--period", "2026-W47", "-o", "report.html").returncode == 0
    context = web_browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
    page.goto((tmp_path / "report.html").as_uri())
    page.wait_for_selector("html[data-charts-ready=true]")
    assert page.locator("#chart-heatmap svg").count() == 1 and page.locator("#chart-sla svg").count() == 1
    shot(page, "weekly-report")
    context.close()
    assert fetched == []


@pytest.mark.skipif(BROWSER is None, reason="no chromium on this machine (.ci/run installs it)")
def test_the_weekly_report_prints_as_pdf(report_db, tmp_path):
    done = _report(tmp_path, report_db, "--period", "2026-W47", "-o", "report.pdf")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize("args,needle", [(["--period", "2026-W60", "-o", "r.html"], "period"),
                                         (["--period", "last week", "-o", "r.html"], "ISO week"),
                                         (["--period", "2026-W47", "-o", "r.docx"], ".html or .pdf")])
def test_a_bad_report_request_is_one_error_line(report_db, tmp_path, args, needle):
    done = _report(tmp_path, report_db, *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]

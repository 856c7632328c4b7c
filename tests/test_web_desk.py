"""The case desk (工单台) and a case's page: what an agent sees (masked), what the filters do, and working a case
through the page as through /v1/cases. TestClient first (status codes, what is stored), then Chromium against a
real `pvoice serve`: a new urgent comment appears without a reload, and is acknowledged and resolved."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pvoice.serving.db.models import Case, CaseEvent
from serving_support import Harness, scripted_app
from web_support import client_sign_in, english_in, form_token, message_in, path_of, shot, sign_in

URGENT = "护士给我妈输错了液，到现在没人给个说法！家属电话13812345678"
COMPLAINT = "排队等了三个小时才看上"
REVIEW = "奶奶在病房摔了一跤，护士说没事"


@pytest.fixture
def web(tmp_path, tiny_model_dir, scripted):
    app, _ = scripted_app(tmp_path, tiny_model_dir, scripted)
    with TestClient(app, base_url="https://testserver") as client:
        harness = Harness(app, client)
        harness.complaint = harness.comment(COMPLAINT, department="心内科")["case"]["id"]
        harness.ctx.clock.advance(minutes=5)
        harness.urgent = harness.comment(URGENT, department="急诊科")["case"]["id"]
        harness.review = harness.comment(REVIEW)["case"]["id"]
        yield harness


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-case-id="(\d+)"', html)]


def _desk(web, role="agent", query=""):
    client_sign_in(web.client, web.keys[role])
    return web.client.get(f"/app/cases{query}")


def _events(web, case_id: int) -> list[str]:
    with web.ctx.factory() as session:
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                                    .order_by(CaseEvent.id)))


# ---- the desk -----------------------------------------------------------------------------------------------
def test_the_desk_puts_urgent_cases_first_with_their_countdown_and_a_masked_excerpt(web):
    response = _desk(web)
    assert response.status_code == 200
    html = response.text
    assert _ids(html)[0] == web.urgent and set(_ids(html)) == {web.urgent, web.complaint, web.review}
    urgent_row = html[html.index(f'<tr data-case-id="{web.urgent}"'):].split("</tr>")[0]
    assert "紧急" in urgent_row and "护理服务" in urgent_row and "患者安全" in urgent_row and "急诊科" in urgent_row
    assert "确认剩余 30分00秒" in urgent_row and 'data-kind="ack"' in urgent_row
    assert "138****5678" in urgent_row and "13812345678" not in html
    assert "待判断" in html  # the review-band complaint is marked as possibly urgent


def test_managers_read_the_excerpt_unmasked(web):
    assert "13812345678" in _desk(web, "manager").text


def test_an_overdue_case_is_shown_in_red(web):
    web.ctx.clock.advance(minutes=31)
    html = _desk(web).text
    urgent_row = html[html.index(f'<tr data-case-id="{web.urgent}"'):].split("</tr>")[0]
    assert 'class="sla overdue"' in urgent_row and "确认已超时 1分00秒" in urgent_row


@pytest.mark.parametrize(("query", "expected"), [
    ("?urgency=urgent", "urgent"), ("?urgency=complaint", "complaints"), ("?touchpoint=waiting", "complaint"),
    ("?department=心内科", "complaint"), ("?assignee=nurse", "nursing"), ("?status=resolved", "none"),
    ("?date_from=2026-03-02&date_to=2026-03-02", "all"), ("?date_from=2026-03-03", "none"),
])
def test_filters_narrow_the_desk(web, query, expected):
    want = {"urgent": {web.urgent}, "complaints": {web.complaint, web.review}, "complaint": {web.complaint},
            "nursing": {web.urgent}, "none": set(), "all": {web.urgent, web.complaint, web.review}}
    response = _desk(web, query=query)
    assert response.status_code == 200 and set(_ids(response.text)) == want[expected]


@pytest.mark.parametrize(("query", "field", "words"), [
    ("?date_from=2026-02-30", "date_from", "无法识别"), ("?touchpoint=parking", "touchpoint", "未知的触点"),
    ("?date_from=2026-03-05&date_to=2026-03-01", "date_to", "早于"), ("?assignee=nobody", "assignee", "未知的处理人"),
    ("?status=lost", "status", "未知的状态"), ("?date_to=0001-01-01", "date_to", "年份"),
])
def test_a_bad_filter_is_422_with_a_message_and_lists_nothing(web, query, field, words):
    response = _desk(web, query=query)
    assert response.status_code == 422
    message = re.search(rf'<li data-field="{field}">([^<]*)</li>', response.text)
    assert message and words in message.group(1) and not english_in(message.group(1))
    assert _ids(response.text) == []
    polled = web.client.get(f"/app/api/cases{query}")
    assert polled.status_code == 422 and polled.json()["error"]["field"] == field


def test_the_desk_polls_its_rows_as_json(web):
    _desk(web)
    body = web.client.get("/app/api/cases").json()
    assert body["ids"][0] == web.urgent and body["urgent_open"] == [web.urgent] and body["count"] == 3
    assert f'data-case-id="{web.urgent}"' in body["html"] and "13812345678" not in body["html"]
    web.client.cookies.clear()
    assert web.client.get("/app/api/cases", follow_redirects=False).status_code == 401  # not a redirect


# ---- a case's page ------------------------------------------------------------------------------------------
def test_the_case_page_marks_the_evidence_in_the_masked_text(web):
    _desk(web)
    html = web.client.get(f"/app/cases/{web.urgent}").text
    text = re.search(r'<p class="comment-text" id="comment-text">(.*?)</p>', html, re.S).group(1)
    marks = re.findall(r'<mark class="evidence" data-for="urgency"[^>]*>([^<]*)</mark>', text)
    assert marks and all(m in re.sub(r"<[^>]+>", "", text) for m in marks)
    assert "138****5678" in text and "13812345678" not in html
    assert re.findall(r'<li data-kind="(\w+)"', html)[:1] == ["opened"]


def test_working_a_case_in_the_page_records_each_step_on_its_timeline(web):
    _desk(web)
    token = form_token(web.client.get(f"/app/cases/{web.urgent}").text)
    base = f"/app/cases/{web.urgent}"
    steps = [("ack", {"note": "已联系家属"}), ("note", {"note": "家属要求护士长回电"}),
             ("reassign", {"assignee": "nurse_head", "note": "转护士长"}), ("resolve", {"note": "已致歉并复盘"})]
    for action, data in steps:
        response = web.client.post(f"{base}/{action}", data={"csrf_token": token, **data}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"{base}?done={action}"
    assert _events(web, web.urgent)[-4:] == ["acknowledged", "note", "reassigned", "resolved"]
    page = web.client.get(base).text
    assert "已解决该工单" not in page and 'data-status="resolved"' in page and 'id="actions"' not in page
    api = web.get("agent", f"/v1/cases/{web.urgent}").json()
    assert api["status"] == "resolved" and api["assignee"] == "nurse_head" and api["resolution_note"] == "已致歉并复盘"


@pytest.mark.parametrize(("action", "data", "status", "words"), [
    ("resolve", {"note": " "}, 422, "解决工单要写处理说明"), ("reassign", {"assignee": "nobody"}, 422, "未知的处理人"),
    ("note", {"note": ""}, 422, "添加备注要写下备注内容"), ("note", {"note": "长" * 4001}, 422, "说明最多 4000 个字"),
])
def test_a_wrong_action_says_why_and_changes_nothing(web, action, data, status, words):
    _desk(web)
    token = form_token(web.client.get(f"/app/cases/{web.urgent}").text)
    before = _events(web, web.urgent)
    response = web.client.post(f"/app/cases/{web.urgent}/{action}", data={"csrf_token": token, **data})
    message = message_in(response.text)
    assert response.status_code == status and words in message and not english_in(message)
    assert _events(web, web.urgent) == before


def test_acknowledging_twice_is_a_409_page(web):
    _desk(web)
    token = form_token(web.client.get(f"/app/cases/{web.urgent}").text)
    assert web.client.post(f"/app/cases/{web.urgent}/ack", data={"csrf_token": token},
                           follow_redirects=False).status_code == 303
    again = web.client.post(f"/app/cases/{web.urgent}/ack", data={"csrf_token": token})
    assert again.status_code == 409 and "操作冲突" in again.text


def test_case_actions_need_the_csrf_token_and_the_cases_work_permission(web):
    _desk(web, "agent")
    response = web.client.post(f"/app/cases/{web.urgent}/ack", data={})
    assert response.status_code == 403 and _events(web, web.urgent) == ["opened", "alerted"]
    web.client.cookies.clear()
    _desk(web, "admin")  # admins read cases (masked) but do not work them
    page = web.client.get(f"/app/cases/{web.urgent}").text
    assert 'id="actions"' not in page and "13812345678" not in page
    refused = web.client.post(f"/app/cases/{web.urgent}/ack", data={"csrf_token": form_token(page)})
    assert refused.status_code == 403 and _events(web, web.urgent) == ["opened", "alerted"]


def test_a_missing_case_is_a_404_page(web):
    _desk(web)
    response = web.client.get("/app/cases/999")
    assert response.status_code == 404 and "找不到" in response.text


def test_notes_through_the_api_land_on_the_same_timeline(web):
    response = web.post("agent", f"/v1/cases/{web.urgent}/notes", {"note": "已回电"})
    assert response.status_code == 200 and response.json()["timeline"][-1]["kind"] == "note"
    assert web.post("agent", f"/v1/cases/{web.urgent}/notes", {"note": ""}).status_code == 422
    assert web.post("admin", f"/v1/cases/{web.urgent}/notes", {"note": "x"}).status_code == 403


# ---- in a browser, against `pvoice serve` ------------------------------------------------------------------
WEB_SETTINGS = {"web_poll_seconds": 1}
WEB_SEED = [{"text": COMPLAINT, "channel": "survey", "received_at": "2026-03-02T09:00:00+08:00",
             "department": "心内科"}]


def test_in_a_browser_a_new_urgent_comment_appears_without_a_reload_and_is_worked_to_the_end(web_server, page):
    sign_in(page, web_server, web_server.keys["agent"])
    assert path_of(page) == "/app/cases"
    page.evaluate("window.pvDeskLoadedAt = performance.timeOrigin")  # set once: a reload would lose it
    assert page.locator("tr.case-row").count() == 1
    shot(page, "desk")

    posted = web_server.post_comment("病人输液后一直发抖，叫了半天没有护士来！家属电话13912345678", department="急诊科")
    case_id = posted["case"]["id"]
    started = time.monotonic()
    row = page.locator(f'tr[data-case-id="{case_id}"]')
    row.wait_for(timeout=10_000)
    assert time.monotonic() - started < 10
    assert page.evaluate("window.pvDeskLoadedAt") is not None  # the same page: no reload happened
    assert page.locator("#new-urgent").is_visible() and f"#{case_id}" in page.locator("#new-urgent").inner_text()
    assert page.evaluate("window.pvDesk.cues") >= 1
    assert page.locator("tr.case-row").first.get_attribute("data-case-id") == str(case_id)  # urgent first
    assert "139****5678" in row.inner_text() and "13912345678" not in page.content()
    assert "确认剩余" in row.locator(".sla").inner_text()
    shot(page, "desk-new-urgent")

    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/app/cases/{case_id}")
    assert page.locator("#comment-text mark.evidence").count() >= 1
    shot(page, "case")

    page.fill("#ack-form input[name=note]", "已电话联系家属")
    page.click("#ack")
    page.wait_for_url(f"**/app/cases/{case_id}?done=ack")
    assert page.locator("#case-status").get_attribute("data-status") == "acknowledged"
    page.fill("#resolve-form textarea[name=note]", "护士长已到床旁处理并向家属致歉")
    page.click("#resolve")
    page.wait_for_url(f"**/app/cases/{case_id}?done=resolve")
    kinds = page.locator("#timeline li").evaluate_all("items => items.map(li => li.dataset.kind)")
    assert kinds[0] == "opened" and kinds[-2:] == ["acknowledged", "resolved"]
    assert "护士长已到床旁处理" in page.locator("#timeline").inner_text()
    shot(page, "case-resolved")
    assert web_server.api("agent", "GET", f"/v1/cases/{case_id}").json()["status"] == "resolved"


def test_in_a_browser_a_bad_date_filter_shows_a_message(web_server, page):
    sign_in(page, web_server, web_server.keys["agent"])
    response = page.goto(f"{web_server.url}/app/cases?date_from=2026-02-30")
    assert response.status == 422 and "无法识别" in page.locator("#filter-errors").inner_text()
    shot(page, "desk-bad-filter")

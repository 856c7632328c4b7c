"""The triage API end to end on a temp SQLite file: every endpoint, roles, bad input, idempotency, labels."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi.testclient import TestClient

from serving_support import Harness, scripted_app
from pvoice.training.corpus import parse_line
from pvoice.labels import load_taxonomy

URGENT = "护士给我妈输错了液，幸好家属发现了，我电话13812345678，到现在没人给个说法！"
COMPLAINT = "挂号等了三个小时，窗口只开了一个"
PRAISE = "李医生讲得很耐心，谢谢！"
NEUTRAL = "停车场能不能多加点车位"


# ---- classify ----------------------------------------------------------------------------------------------
def test_classify_answers_in_input_order_and_stores_nothing(svc):
    texts = [URGENT, PRAISE, NEUTRAL]
    response = svc.post("intake", "/v1/classify", {"texts": texts})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["urgency"] for i in items] == ["urgent", "none", "none"]
    first = items[0]
    assert set(first) >= {"touchpoints", "aspects", "sentiment", "urgency", "urgent_reasons", "probabilities",
                          "truncated", "model_version"}
    assert set(first["probabilities"]["urgency"]) == set(load_taxonomy().urgency_ids)
    assert "evidence" not in first  # evidence costs many model passes: only when asked
    assert svc.get("manager", "/v1/cases").json()["count"] == 0


def test_classify_takes_one_text_and_explains_it_when_asked(svc):
    response = svc.post("agent", "/v1/classify", {"texts": URGENT, "evidence": True})
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert "urgency" in item["evidence"]


def test_long_text_is_read_by_head_and_tail_and_flagged(svc):
    long_text = "护士" + "很" * 6000 + "输错"
    response = svc.post("intake", "/v1/classify", {"texts": [long_text, PRAISE], "evidence": True})
    items = response.json()["items"]
    assert response.status_code == 200
    assert [i["truncated"] for i in items] == [True, False]
    assert items[0]["urgency"] == "urgent"  # the tail's marker was read
    # too long to explain word by word (only the sentences an urgency decision rests on); the short one is
    assert set(items[0]["evidence"]) <= {"urgency"} and items[1]["evidence"]
    stored = svc.comment(long_text)
    assert stored["truncated"] is True


def test_head_and_tail_offsets_map_back_to_the_original():
    from pvoice.serving.services.classify import prepare

    text = "".join(chr(0x4E00 + i % 500) for i in range(12_000))
    prepared = prepare(text, 5000)
    assert prepared.truncated and len(prepared.model_text) < 5010
    model_text = prepared.model_text
    for start, end in [(0, 3), (2497, 2500), (len(model_text) - 4, len(model_text)), (2510, 2520)]:
        o_start, o_end = prepared.original_span(start, end)
        assert text[o_start:o_end] == model_text[start:end]
    assert prepare("短", 5000).truncated is False


def test_concurrent_classify_calls_share_model_calls(svc):
    batcher = svc.app.state.batcher
    before = batcher.calls

    async def burst():
        transport = httpx.ASGITransport(app=svc.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*[
                client.post("/v1/classify", json={"texts": [f"第{i}条意见", NEUTRAL], "evidence": False},
                            headers=svc.headers("intake")) for i in range(12)])

    # ASGITransport runs the app on this test's loop; the batcher's loop is TestClient's, so use the portal
    responses = svc.client.portal.call(burst)
    assert all(r.status_code == 200 for r in responses)
    assert [r.json()["items"][0]["urgency"] for r in responses] == ["none"] * 12
    assert batcher.calls - before < 12


# ---- bad input ---------------------------------------------------------------------------------------------
BAD_BODIES = [
    ("/v1/classify", {"texts": []}, "texts"),
    ("/v1/classify", {"texts": ["ok", "   "]}, "texts[1]"),
    ("/v1/classify", {"texts": [""]}, "texts[0]"),
    ("/v1/classify", {"texts": ["x"] * 257}, "texts"),
    ("/v1/classify", {"texts": ["x" * 100_001]}, "texts[0]"),
    ("/v1/classify", {"texts": [3]}, "texts[0]"),
    ("/v1/classify", {}, "texts"),
    ("/v1/comments", {"comments": []}, "comments"),
    ("/v1/comments", {"comments": [{"text": "hi", "channel": "fax", "received_at": "2026-03-02T09:00:00"}]},
     "comments[0].channel"),
    ("/v1/comments", {"comments": [{"text": " \n", "channel": "sms", "received_at": "2026-03-02T09:00:00"}]},
     "comments[0].text"),
    ("/v1/comments", {"comments": [{"text": "hi", "channel": "sms", "received_at": "yesterday"}]},
     "comments[0].received_at"),
    ("/v1/comments", {"comments": [{"text": "hi", "channel": "sms"}]}, "comments[0].received_at"),
    ("/v1/comments", {"comments": [{"text": "hi", "channel": "sms", "received_at": "2026-03-02T09:00:00",
                                    "department": "x" * 101}]}, "comments[0].department"),
    ("/v1/comments", {"comments": [{"text": "hi", "channel": "sms", "received_at": "2026-03-02"}] * 257},
     "comments"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_BODIES)
def test_bad_input_is_a_422_naming_the_field(svc, path, body, field):
    response = svc.post("intake", path, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert error["message"].startswith(field)


def test_unknown_channel_lists_the_valid_ones(svc):
    body = {"comments": [{"text": "hi", "channel": "fax", "received_at": "2026-03-02T09:00:00"}]}
    message = svc.post("intake", "/v1/comments", body).json()["error"]["message"]
    assert "'fax'" in message and all(c in message for c in load_taxonomy().channel_ids)


@pytest.mark.parametrize("raw", [b'{"texts": [', b"not json", b'{"texts": ["\xff\xfe"]}', b"\x80\x81", b""])
def test_malformed_bodies_are_4xx_never_500(svc, raw):
    for path in ("/v1/classify", "/v1/comments"):
        response = svc.client.post(path, content=raw, headers={**svc.headers("intake"),
                                                               "Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (path, raw, response.text)
        assert response.json()["error"]["field"] == "body"


def test_bad_input_stores_nothing_and_keeps_what_was_accepted(svc):
    svc.comment(URGENT, external_id="kept")
    bad = {"comments": [{"text": COMPLAINT, "channel": "sms", "received_at": "2026-03-02T09:00:00"},
                        {"text": "", "channel": "sms", "received_at": "2026-03-02T09:00:00"}]}
    assert svc.post("intake", "/v1/comments", bad).status_code == 422
    cases = svc.get("agent", "/v1/cases").json()
    assert cases["count"] == 1 and cases["items"][0]["comment"]["external_id"] == "kept"


# ---- comments and triage -----------------------------------------------------------------------------------
def test_urgent_comment_opens_a_case_and_an_alert(svc):
    item = svc.comment(URGENT, external_id="wx-1", department="心内科", ward="3病区", patient_ref="P-0001")
    assert item["created"] is True
    assert item["labels"]["urgency"] == "urgent" and item["labels"]["urgent_reasons"] == ["safety"]
    case = item["case"]
    assert case["status"] == "open" and case["assignee"] == "nurse" and case["responsible_role"] == "护理部"
    alerts = svc.get("admin", "/v1/alerts").json()
    assert alerts["count"] == 1 and alerts["items"][0]["event"] == "opened"
    assert alerts["items"][0]["status"] == "pending"
    assert svc.deliver() == 1
    (message,) = svc.senders["webhook"].messages
    assert message.case_id == str(case["id"]) and message.event == "opened"
    assert "13812345678" not in message.body_markdown and "138****5678" in message.body_markdown
    assert svc.get("admin", "/v1/alerts?status=delivered").json()["count"] == 1


def test_patient_ref_is_stored_only_as_a_salted_hash(svc):
    svc.comment(URGENT, patient_ref="身份证110101199003071234")
    from sqlalchemy import text

    with svc.ctx.factory() as session:
        stored = session.execute(text("SELECT patient_hash FROM comments")).scalar_one()
        dump = json.dumps([list(r) for r in session.execute(text("SELECT * FROM comments"))], default=str)
    assert len(stored) == 64 and "110101199003071234" not in dump


def test_complaint_opens_a_case_for_the_service_center_without_an_alert(svc):
    item = svc.comment(COMPLAINT)
    assert item["case"]["urgency"] == "complaint" and item["case"]["assignee"] == "psc"
    assert svc.get("admin", "/v1/alerts").json()["count"] == 0


def test_review_band_complaint_waits_for_a_person_and_pages_no_one(svc):
    item = svc.comment("我爸夜里在病房摔了一跤，当时没人来")
    assert item["needs_review"] is True and item["review_reasons"] == ["safety"]
    case = item["case"]
    assert case["urgency"] == "complaint" and case["assignee"] == "psc"  # the service center, not the ward
    assert svc.get("admin", "/v1/alerts").json()["count"] == 0
    detail = svc.get("manager", f"/v1/cases/{case['id']}").json()
    assert detail["needs_review"] is True and detail["suggestion"]["review_reasons"] == ["safety"]
    assert detail["timeline"][0]["detail"]["needs_review"] is True
    queued = svc.get("agent", "/v1/cases", params={"needs_review": "true"}).json()
    assert [c["id"] for c in queued["items"]] == [case["id"]]
    assert svc.get("agent", "/v1/cases", params={"needs_review": "false"}).json()["count"] == 0


def test_none_opens_no_case_and_praise_goes_to_the_named_staff(svc):
    assert svc.comment(NEUTRAL)["case"] is None
    praise = svc.comment(PRAISE)
    assert praise["case"] is None and praise["praise_forwarded_to"] == ["dr_li"]
    svc.deliver()
    (message,) = svc.senders["webhook"].messages
    assert message.event == "praise" and message.target.endswith("/dr-li")


def test_reposting_an_external_id_returns_the_stored_result(svc):
    first = svc.comment(URGENT, external_id="survey-42")
    body = {"comments": [{"text": URGENT, "channel": "wechat", "received_at": "2026-03-02T09:00:00",
                          "external_id": "survey-42"},
                         {"text": COMPLAINT, "channel": "sms", "received_at": "2026-03-02T09:00:00",
                          "external_id": "survey-43"},
                         {"text": COMPLAINT, "channel": "sms", "received_at": "2026-03-02T09:00:00",
                          "external_id": "survey-43"}]}
    items = svc.post("intake", "/v1/comments", body).json()["items"]
    assert [i["created"] for i in items] == [False, True, False]
    assert items[0]["id"] == first["id"] and items[0]["case"]["id"] == first["case"]["id"]
    assert items[1]["id"] == items[2]["id"]
    assert svc.get("agent", "/v1/cases").json()["count"] == 2
    assert svc.get("admin", "/v1/alerts").json()["count"] == 1


# ---- cases -------------------------------------------------------------------------------------------------
def test_case_list_filters_and_pages(svc):
    svc.comment(URGENT, department="心内科")
    svc.comment("再不给我退费我就打12345投诉你们")
    svc.comment(COMPLAINT)
    every = svc.get("agent", "/v1/cases").json()
    assert every["count"] == 3 and len(every["items"]) == 3
    checks = {
        "urgency=urgent": 2, "urgency=complaint": 1, "touchpoint=billing": 1, "touchpoint=waiting": 1,
        "department=心内科": 1, "assignee=psc": 1, "status=open": 3, "status=resolved": 0,
        "created_from=2000-01-01T00:00:00Z": 3, "created_to=2000-01-01T00:00:00Z": 0,
    }
    for query, count in checks.items():
        assert svc.get("agent", f"/v1/cases?{query}").json()["count"] == count, query
    page = svc.get("agent", "/v1/cases?limit=2&offset=2").json()
    assert page["count"] == 3 and len(page["items"]) == 1
    assert svc.get("agent", "/v1/cases?limit=0").status_code == 422
    assert svc.get("agent", "/v1/cases?status=lost").status_code == 422


def test_ack_resolve_reassign_build_the_timeline_and_audit(svc):
    case_id = svc.comment(URGENT)["case"]["id"]
    ack = svc.post("agent", f"/v1/cases/{case_id}/ack", {"note": "已联系家属"})
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert svc.post("agent", f"/v1/cases/{case_id}/ack").status_code == 409
    moved = svc.post("agent", f"/v1/cases/{case_id}/reassign", {"assignee": "nurse_head", "note": "请主任处理"})
    assert moved.status_code == 200 and moved.json()["assignee"] == "nurse_head"
    assert svc.post("agent", f"/v1/cases/{case_id}/reassign", {"assignee": "nobody"}).status_code == 422
    assert svc.post("agent", f"/v1/cases/{case_id}/resolve", {"note": ""}).status_code == 422
    done = svc.post("manager", f"/v1/cases/{case_id}/resolve", {"note": "已致歉并复核用药"})
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert done.json()["resolution_note"] == "已致歉并复核用药"
    assert svc.post("agent", f"/v1/cases/{case_id}/resolve", {"note": "again"}).status_code == 409
    timeline = svc.get("agent", f"/v1/cases/{case_id}").json()["timeline"]
    assert [e["kind"] for e in timeline] == ["opened", "alerted", "acknowledged", "reassigned", "resolved"]
    assert timeline[2]["actor"].startswith("test-agent#")
    from pvoice.serving.db.models import AuditEntry

    with svc.ctx.factory() as session:
        actions = [(a.action, a.role) for a in session.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions == [("case.acknowledge", "agent"), ("case.reassign", "agent"), ("case.resolve", "manager")]
    # the reassignment alerted the new assignee
    events = [a["event"] for a in svc.get("admin", f"/v1/alerts?case_id={case_id}").json()["items"]]
    assert sorted(events) == ["opened", "reassigned"]


def test_missing_case_is_404(svc):
    assert svc.get("agent", "/v1/cases/999").status_code == 404
    assert svc.post("agent", "/v1/cases/999/ack").status_code == 404


def test_case_views_mask_identifiers_except_for_managers(svc):
    case_id = svc.comment(URGENT)["case"]["id"]
    agent_view = svc.get("agent", f"/v1/cases/{case_id}").json()["comment"]["text"]
    manager_view = svc.get("manager", f"/v1/cases/{case_id}").json()["comment"]["text"]
    assert "13812345678" not in agent_view and "138****5678" in agent_view
    assert "13812345678" in manager_view


# ---- labels ------------------------------------------------------------------------------------------------
LABELS = {"touchpoints": ["nursing"], "aspects": {"nursing": "negative"}, "sentiment": "negative",
          "urgency": "urgent", "urgent_reasons": ["safety"], "note": "确认"}


def test_human_labels_are_kept_apart_from_the_suggestion_and_export_as_corpus_rows(svc):
    comment_id = svc.comment(URGENT)["id"]
    corrected = {**LABELS, "touchpoints": ["nursing", "pharmacy"],
                 "aspects": {"nursing": "negative", "pharmacy": "negative"}}
    response = svc.post("manager", f"/v1/comments/{comment_id}/labels", corrected)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["suggestion"]["touchpoints"] == ["nursing"]
    assert body["suggestion"]["model_version"] == "tiny-random-0"
    (human,) = body["responses"]
    assert human["touchpoints"] == ["nursing", "pharmacy"] and human["author"].startswith("test-manager#")
    assert human["suggestion_model_version"] == "tiny-random-0"
    export = svc.get("manager", "/v1/labels/export")
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    (line,) = export.content.splitlines()
    row, errors = parse_line(line, file="export", line=1, tax=load_taxonomy())
    assert not errors and row.touchpoints == ["nursing", "pharmacy"] and row.channel == "wechat"
    assert "13812345678" not in row.text


@pytest.mark.parametrize(("change", "field"), [
    ({"touchpoints": ["kitchen"], "aspects": {"kitchen": "negative"}}, "touchpoints"),
    ({"aspects": {}}, "aspects"),
    ({"sentiment": "angry"}, "sentiment"),
    ({"urgency": "complaint"}, "urgent_reasons"),
    ({"urgent_reasons": []}, "urgent_reasons"),
    ({"touchpoints": []}, "touchpoints"),
])
def test_invalid_labels_are_refused_naming_the_field(svc, change, field):
    comment_id = svc.comment(URGENT)["id"]
    response = svc.post("manager", f"/v1/comments/{comment_id}/labels", {**LABELS, **change})
    assert response.status_code == 422 and response.json()["error"]["field"] == field
    assert svc.post("manager", "/v1/comments/999/labels", LABELS).status_code == 404


# ---- access ------------------------------------------------------------------------------------------------
ROLE_CHECKS = [
    ("post", "/v1/comments", {"intake"}),
    ("get", "/v1/cases", {"agent", "manager", "admin"}),
    ("post", "/v1/cases/{case}/ack", {"agent", "manager"}),
    ("get", "/v1/labels/export", {"manager"}),
    ("post", "/v1/comments/{comment}/labels", {"manager"}),
    ("get", "/v1/alerts", {"manager", "admin"}),
    ("post", "/v1/routing/reload", {"admin"}),
]


def test_roles_allow_only_their_actions(svc):
    created = svc.comment(URGENT)
    bodies = {"/v1/comments": {"comments": [{"text": COMPLAINT, "channel": "sms",
                                             "received_at": "2026-03-02T09:00:00"}]}}
    for method, template, allowed in ROLE_CHECKS:
        path = template.format(case=created["case"]["id"], comment=created["id"])
        body = LABELS if path.endswith("/labels") else bodies.get(path)
        for role in ("intake", "agent", "manager", "admin"):
            response = getattr(svc, method)(role, path, **({"json": body} if method == "post" else {}))
            # an allowed role may still meet a 409 (a case acknowledged by the role before it)
            assert (response.status_code in (200, 201, 409)) if role in allowed else response.status_code == 403, \
                (role, path, response.status_code, response.text)


def test_missing_wrong_or_revoked_keys_are_401(svc):
    assert svc.client.post("/v1/classify", json={"texts": ["x"]}).status_code == 401
    bad = svc.client.post("/v1/classify", json={"texts": ["x"]}, headers={"Authorization": "Bearer pv_nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    from pvoice.serving.db import transaction
    from pvoice.serving.services.auth import revoke_key, authenticate

    with transaction(svc.ctx.factory) as session:
        key_id = authenticate(session, key=svc.keys["intake"], pepper=svc.ctx.settings.api_key_pepper).key_id
        revoke_key(session, key_id=key_id, now=svc.ctx.clock.now())
    assert svc.post("intake", "/v1/classify", {"texts": ["x"]}).status_code == 401


def test_keys_are_stored_hashed(svc):
    from sqlalchemy import text

    with svc.ctx.factory() as session:
        dump = json.dumps([list(r) for r in session.execute(text("SELECT * FROM api_keys"))], default=str)
    assert all(key not in dump for key in svc.keys.values())


# ---- operations --------------------------------------------------------------------------------------------
def test_health_ready_metrics_and_openapi(svc):
    assert svc.client.get("/healthz").json() == {"status": "ok"}
    ready = svc.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["migrations"] == "ok"
    svc.comment(URGENT)
    svc.post("intake", "/v1/classify", {"texts": [PRAISE]})
    metrics = svc.client.get("/metrics").text
    assert 'pvoice_predictions_total{head="urgency",label="urgent"}' in metrics
    assert 'pvoice_open_cases{status="open",urgency="urgent"} 1.0' in metrics
    assert 'pvoice_request_seconds_count{method="POST",route="/v1/classify",status="200"}' in metrics
    assert 'pvoice_alerts{status="pending"} 1.0' in metrics
    paths = svc.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/classify", "/v1/comments", "/v1/cases", "/v1/cases/{case_id}", "/v1/cases/{case_id}/ack",
                 "/v1/cases/{case_id}/resolve", "/v1/cases/{case_id}/reassign", "/v1/comments/{comment_id}/labels",
                 "/v1/labels/export", "/v1/alerts", "/v1/alerts/{alert_id}/retry"):
        assert path in paths, path


def test_readyz_reports_a_database_behind_the_code(svc):
    from sqlalchemy import text

    with svc.ctx.factory() as session, session.begin():
        session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    ready = svc.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["migrations"].startswith("at old")


def test_routing_reload_keeps_the_old_table_when_the_file_breaks(svc):
    assert svc.post("admin", "/v1/routing/reload").json()["routes"] == 3
    svc.ctx.settings.routing_path.write_text("people: {}\n", encoding="utf-8")
    response = svc.post("admin", "/v1/routing/reload")
    assert response.status_code == 422 and "people" in response.json()["error"]["message"]
    assert len(svc.ctx.routing.routes) == 3


def test_case_evidence_is_added_after_the_response_when_enabled(tmp_path, tiny_model_dir, scripted):
    app, _ = scripted_app(tmp_path, tiny_model_dir, scripted, case_evidence=True)
    with TestClient(app) as client:
        svc = Harness(app, client)
        case_id = svc.comment(URGENT)["case"]["id"]
        svc.comment(NEUTRAL)
        for role, phone in (("agent", "138****5678"), ("manager", "13812345678")):
            evidence = svc.get(role, f"/v1/cases/{case_id}").json()["suggestion"]["evidence"]
            assert evidence and "urgency" in evidence
            spans = [s["text"] for spans in evidence.values() for s in spans]
            assert all("13812345678" not in s for s in spans) or role == "manager", phone


def test_case_evidence_is_off_by_default(svc):
    case_id = svc.comment(URGENT)["case"]["id"]
    # no word-by-word occlusion: at most the sentences the urgency rests on, which cost nothing extra
    assert set(svc.get("manager", f"/v1/cases/{case_id}").json()["suggestion"]["evidence"]) <= {"urgency"}


def test_admins_manage_keys_through_the_api(svc):
    created = svc.post("admin", "/v1/keys", {"role": "agent", "name": "desk-2"})
    assert created.status_code == 201
    key = created.json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    assert svc.client.get("/v1/cases", headers=headers).status_code == 200
    listed = svc.get("admin", "/v1/keys").json()
    assert any(k["name"] == "desk-2" for k in listed) and all("key" not in k for k in listed)
    assert svc.client.delete(f"/v1/keys/{created.json()['id']}", headers=svc.headers("admin")).status_code == 200
    assert svc.client.get("/v1/cases", headers=headers).status_code == 401
    assert svc.post("manager", "/v1/keys", {"role": "admin"}).status_code == 403
    assert svc.post("admin", "/v1/keys", {"role": "root"}).status_code == 422


def test_case_detail_lists_its_alerts_with_their_state(svc):
    case_id = svc.comment(URGENT)["case"]["id"]
    svc.deliver()
    (alert,) = svc.get("agent", f"/v1/cases/{case_id}").json()["alerts"]
    assert alert["event"] == "opened" and alert["status"] == "delivered"

"""Staff notes (acknowledge, resolve, reassign, label notes) are free text: masked for roles without pii:read, in the
case views, the timeline, label responses and the reassign alert's body."""

from __future__ import annotations

import pytest

URGENT = "护士给我妈输错了液，幸好家属发现了，到现在没人给个说法！"
PHONE, MASKED_PHONE = "13912345678", "139****5678"
NAME = "王建国"
NOTE = f"已电话联系患者{NAME}（{PHONE}），家属要求面谈"
LABELS = {"touchpoints": ["nursing"], "aspects": {"nursing": "negative"}, "sentiment": "negative",
          "urgency": "urgent", "urgent_reasons": ["safety"]}


def _hidden(text: str) -> bool:
    return PHONE not in text and NAME not in text and MASKED_PHONE in text


def _worked_case(svc) -> int:
    case_id = svc.comment(URGENT)["case"]["id"]
    assert svc.post("agent", f"/v1/cases/{case_id}/ack", {"note": NOTE}).status_code == 200
    assert svc.post("agent", f"/v1/cases/{case_id}/reassign", {"assignee": "nurse_head", "note": NOTE}
                    ).status_code == 200
    assert svc.post("manager", f"/v1/cases/{case_id}/resolve", {"note": NOTE}).status_code == 200
    return case_id


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_case_notes_are_masked_for_roles_without_pii_read(svc, role):
    case_id = _worked_case(svc)
    case = svc.get(role, f"/v1/cases/{case_id}").json()
    assert _hidden(case["resolution_note"])
    notes = [e["detail"]["note"] for e in case["timeline"] if "note" in e["detail"]]
    assert len(notes) == 3 and all(_hidden(n) for n in notes)
    (listed,) = svc.get(role, "/v1/cases").json()["items"]
    assert _hidden(listed["resolution_note"])


def test_managers_read_notes_as_written(svc):
    case_id = _worked_case(svc)
    case = svc.get("manager", f"/v1/cases/{case_id}").json()
    assert case["resolution_note"] == NOTE
    assert [e["detail"]["note"] for e in case["timeline"] if "note" in e["detail"]] == [NOTE] * 3


def test_the_action_response_follows_the_same_rule(svc):
    case_id = svc.comment(URGENT)["case"]["id"]
    acked = svc.post("agent", f"/v1/cases/{case_id}/ack", {"note": NOTE}).json()
    assert _hidden(acked["timeline"][-1]["detail"]["note"])


def test_label_notes_are_masked_for_agents_not_managers(svc):
    comment_id = svc.comment(URGENT)["id"]
    created = svc.post("manager", f"/v1/comments/{comment_id}/labels", {**LABELS, "note": NOTE})
    assert created.status_code == 201 and created.json()["responses"][0]["note"] == NOTE
    (agent_view,) = svc.get("agent", f"/v1/comments/{comment_id}/labels").json()["responses"]
    assert _hidden(agent_view["note"])


def test_reassign_note_is_masked_in_the_alert_body(svc):
    case_id = svc.comment(URGENT)["case"]["id"]
    svc.post("agent", f"/v1/cases/{case_id}/reassign", {"assignee": "nurse_head", "note": NOTE})
    svc.deliver()
    (message,) = [m for s in svc.senders.values() for m in s.messages if m.event == "reassigned"]
    assert "转派说明" in message.body_markdown and _hidden(message.body_markdown)

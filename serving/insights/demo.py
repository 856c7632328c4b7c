"""Made-up comments stored fast, as the service would store them (comment, suggestion, label facts, case with
its touchpoints, reasons and SLA): for the managers' view benchmark (`bench/bench_dashboard.py`), its tests
and a demo database. Texts are short phrases the project wrote, one per touchpoint and sentiment; nothing
here comes from a real patient."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from pvoice.serving.db.models import Case, CaseReason, CaseTouchpoint, Comment, CommentAspect, Suggestion
from pvoice.serving.insights.facts import MODEL, aspect_rows, content_words
from pvoice.serving.routing import WorkCalendar, add_working_days

DEMO_MODEL = "demo"
DEPARTMENTS = ("心内科", "消化内科", "骨科", "儿科", "妇产科", "急诊科", "眼科", "呼吸内科")
CHANNELS = ("survey", "wechat", "online_review", "phone_transcript", "sms")
# (touchpoint, sentiment) -> phrases; the evidence of a touchpoint is its phrase's key words, marked in [ ]
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "registration": {"negative": ("[挂号排了]两个小时", "网上[预约不上]号", "[号源]一放就没了"),
                     "positive": ("挂号[很方便]",), "neutral": ("挂号在一楼大厅",)},
    "guidance": {"negative": ("导诊台[指错了]地方", "[指示牌看不懂]"), "positive": ("导诊护士[很热情]",),
                 "neutral": ("问了导诊台在哪里做检查",)},
    "waiting": {"negative": ("候诊[等了三个小时]", "叫号[过号了]也没人管", "候诊区[太挤]"),
                "positive": ("[没怎么排队]就看上了",), "neutral": ("候诊时看了会儿手机",)},
    "consultation": {"negative": ("医生[态度很差]", "医生[不耐烦]，问两句就打断", "[没解释]病情就开药"),
                     "positive": ("医生[讲得很耐心]", "大夫[很负责]"), "neutral": ("医生让下周复查",)},
    "nursing": {"negative": ("[按了呼叫铃]半小时没人来", "护士[扎了好几针]", "护士[说话很冲]"),
                "positive": ("护士[照顾得很细心]",), "neutral": ("护士每天量两次体温",)},
    "examination": {"negative": ("CT报告[等了五天]", "B超[预约要排一周]"), "positive": ("检查[很快出结果]",),
                    "neutral": ("做了核磁和心电图",)},
    "lab_test": {"negative": ("抽血[排队太长]", "[化验单丢了]要重新抽"), "positive": ("抽血[一点不疼]",),
                 "neutral": ("早上空腹抽血",)},
    "treatment": {"negative": ("[手术后一直疼]没人管", "[换药不及时]"), "positive": ("手术[很成功]",),
                  "neutral": ("做了三次康复治疗",)},
    "pharmacy": {"negative": ("药房[拿药排队]太久", "[药发错了]"), "positive": ("药师[讲得很清楚]",),
                 "neutral": ("在二楼药房取的药",)},
    "billing": {"negative": ("[退费]跑了三趟", "[多收了钱]", "医保[报销不了]"), "positive": ("缴费[很方便]",),
                "neutral": ("问一下发票怎么开",)},
    "inpatient": {"negative": ("病房[没有床位]", "[出院手续太麻烦]"), "positive": ("住院[环境很好]",),
                  "neutral": ("住院一周出院了",)},
    "follow_up": {"negative": ("出院后[没人回访]",), "positive": ("[随访电话]很贴心",), "neutral": ("下个月复诊",)},
    "environment": {"negative": ("厕所[太脏了]", "[停车位太少]", "电梯[等半天]"), "positive": ("大厅[很干净]",),
                    "neutral": ("停车场在地下",)},
    "digital": {"negative": ("小程序[老是闪退]", "自助机[打不出报告]"), "positive": ("线上缴费[很方便]",),
                "neutral": ("用公众号查了报告",)},
    "other": {"negative": ("[整体体验很差]",), "positive": ("[谢谢医院]",), "neutral": ("没什么意见",)},
}
URGENT_PHRASES = {"safety": "护士[输错了液]，幸好家属发现", "threat": "[再不处理我就动手]",
                  "privacy": "[病历被别人看到了]", "misconduct": "[医生暗示要红包]",
                  "escalation": "[我要打12345投诉]"}


@dataclass
class DemoComment:
    text: str
    channel: str
    received_at: datetime  # aware
    department: str | None
    aspects: dict[str, str]  # touchpoint -> sentiment, most probable first
    sentiment: str
    urgency: str = "none"
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, list[dict]] = field(default_factory=dict)
    acknowledged_after: timedelta | None = None  # for a case: how long until someone acknowledged it
    resolved_after: timedelta | None = None


def compose(parts: list[tuple[str, str]]) -> tuple[str, dict[str, list[dict]]]:
    """Join phrases (key, phrase-with-[evidence]) into a text; evidence offsets per key."""
    text, evidence = "", {}
    for key, phrase in parts:
        if text:
            text += "，"
        clean = phrase.replace("[", "").replace("]", "")
        if "[" in phrase:  # neutral phrases carry no evidence
            start, end = phrase.index("["), phrase.index("]") - 1
            evidence.setdefault(key, []).append({"text": clean[start:end], "start": len(text) + start,
                                                 "end": len(text) + end, "weight": 0.5})
        text += clean
    return text + "。", evidence


def comment(aspects: dict[str, str], *, received_at: datetime, department: str | None = None,
            channel: str = "survey", urgency: str | None = None, reasons: list[str] | None = None,
            variant: int = 0, **case) -> DemoComment:
    """One comment about these touchpoints with these sentiments (tests name exactly what they count)."""
    reasons = reasons or []
    parts = [(t, PHRASES[t][s][variant % len(PHRASES[t][s])]) for t, s in aspects.items()]
    parts += [("urgency", URGENT_PHRASES[r]) for r in reasons]
    text, evidence = compose(parts)
    negative = any(s == "negative" for s in aspects.values()) or bool(reasons)
    sentiment = "negative" if negative else ("positive" if "positive" in aspects.values() else "neutral")
    urgency = urgency or ("urgent" if reasons else "complaint" if negative else "none")
    return DemoComment(text, channel, received_at, department, dict(aspects), sentiment, urgency, reasons, evidence,
                       **case)


def generate(n: int, *, end: datetime, weeks: int = 26, seed: int = 0) -> Iterator[DemoComment]:
    """`n` comments spread over the `weeks` weeks before `end`: one to three touchpoints each, about 35%
    negative, 3% urgent; cases acknowledged and answered mostly, not always, in time."""
    rng = random.Random(seed)
    touchpoints = list(PHRASES)
    weights = [6, 2, 8, 9, 7, 4, 3, 3, 4, 5, 3, 1, 4, 3, 1]
    span = weeks * 7 * 24 * 3600
    for _ in range(n):
        chosen = list(dict.fromkeys(rng.choices(touchpoints, weights, k=rng.choice((1, 1, 1, 2, 2, 3)))))
        aspects = {t: rng.choices(("negative", "positive", "neutral"), (35, 45, 20))[0] for t in chosen}
        reasons = [rng.choice(list(URGENT_PHRASES))] if rng.random() < 0.03 else []
        case = {}
        if reasons or "negative" in aspects.values():
            case["acknowledged_after"] = timedelta(minutes=rng.choice((5, 10, 20, 25, 45, 90)))
            if rng.random() < 0.85:
                case["resolved_after"] = timedelta(hours=rng.choice((2, 6, 20, 30, 70, 120)))
        yield comment(aspects, received_at=end - timedelta(seconds=rng.randrange(span)),
                      department=rng.choice(DEPARTMENTS), channel=rng.choice(CHANNELS), reasons=reasons,
                      variant=rng.randrange(3), **case)


def bulk_store(factory: sessionmaker[Session], comments: Iterable[DemoComment], *, zone: ZoneInfo,
               ack_minutes: float = 30.0, answer_working_days: int = 2, calendar: WorkCalendar | None = None,
               batch: int = 5000, now: datetime | None = None) -> int:
    """Insert the comments with everything the service stores beside them, a batch per transaction, by
    executemany (no ORM objects); cases are opened at the comment's time. Returns how many were stored."""
    calendar = calendar or WorkCalendar()
    now = now or datetime.now(timezone.utc)
    stored = 0
    with factory() as session:
        next_id = (session.scalar(select(func.max(Comment.id))) or 0) + 1
        next_case = (session.scalar(select(func.max(Case.id))) or 0) + 1
    rows: dict[str, list[dict]] = {}
    cut: dict[str, list[str]] = {}  # made-up texts repeat: each is cut once

    def flush() -> None:
        with factory() as session, session.begin():
            for model in (Comment, Suggestion, CommentAspect, Case, CaseTouchpoint, CaseReason):
                if rows.get(model.__tablename__):
                    session.execute(insert(model), rows[model.__tablename__])
        rows.clear()

    for c in comments:
        cid, stored = next_id, stored + 1
        next_id += 1
        add = rows.setdefault
        words = cut.get(c.text)
        if words is None:
            words = cut[c.text] = content_words(c.text)
        add("comments", []).append({"id": cid, "text": c.text, "channel": c.channel, "received_at": c.received_at,
                                    "department": c.department, "truncated": False, "created_at": c.received_at,
                                    "created_by": "demo", "words": words})
        touchpoints = list(c.aspects)
        add("suggestions", []).append({
            "comment_id": cid, "model_version": DEMO_MODEL, "touchpoints": touchpoints, "aspects": c.aspects,
            "sentiment": c.sentiment, "urgency": c.urgency, "urgent_reasons": c.reasons, "probabilities": {},
            "evidence": c.evidence, "needs_review": False, "review_reasons": [], "created_at": c.received_at})
        add("comment_aspects", []).extend(aspect_rows(
            comment_id=cid, touchpoints=touchpoints, aspects=c.aspects, sentiment=c.sentiment,
            received_at=c.received_at, department=c.department, channel=c.channel, source=MODEL, zone=zone))
        if c.urgency in ("urgent", "complaint"):
            case_id = next_case
            next_case += 1
            opened = c.received_at
            acked = opened + c.acknowledged_after if c.acknowledged_after is not None else None
            resolved = opened + c.resolved_after if c.resolved_after is not None else None
            acked = acked if acked is None or acked <= now else None
            resolved = resolved if resolved is None or resolved <= now else None
            answer_due = add_working_days(opened.astimezone(zone), answer_working_days, calendar).astimezone(
                timezone.utc)
            ack_due = opened + timedelta(minutes=ack_minutes) if c.urgency == "urgent" else None
            add("cases", []).append({
                "id": case_id, "comment_id": cid, "urgency": c.urgency, "department": c.department,
                "status": "resolved" if resolved else "acknowledged" if acked else "open",
                "responsible_role": "demo", "route": "demo", "assignee": "demo", "escalation_level": 0,
                "needs_review": False, "created_at": opened, "due_at": ack_due or answer_due,
                "acknowledged_at": acked or resolved, "acknowledged_by": "demo" if acked or resolved else None,
                "resolved_at": resolved, "resolved_by": "demo" if resolved else None, "ack_due_at": ack_due,
                "answer_due_at": answer_due, "received_at": c.received_at, "channel": c.channel})
            add("case_touchpoints", []).extend({"case_id": case_id, "touchpoint": t} for t in touchpoints)
            add("case_reasons", []).extend({"case_id": case_id, "reason": r} for r in c.reasons)
        if len(rows["comments"]) >= batch:
            flush()
    if rows:
        flush()
    return stored

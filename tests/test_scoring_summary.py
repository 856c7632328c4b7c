"""The run summary: touchpoint × sentiment counts, urgent rows, keywords of negative comments, errors."""

from __future__ import annotations

from pvoice.labels import load_taxonomy
from pvoice.scoring.engine import appended_columns, error_values
from pvoice.scoring.summary import Summary


def values(touchpoints: dict[str, str], sentiment="negative", urgency="complaint", reasons=""):
    tax = load_taxonomy()
    row = {name: None for name, _ in appended_columns(tax.touchpoint_ids)}
    row.update({f"aspect_{t}": s for t, s in touchpoints.items()})
    row.update(touchpoints=";".join(touchpoints), sentiment=sentiment, urgency=urgency, urgent_reasons=reasons,
               model_version="m1")
    return row


def summary(cap: int = 10) -> Summary:
    tax = load_taxonomy()
    names = {t.id: t.name for t in tax.touchpoints}
    return Summary(tax.touchpoint_ids, tax.sentiment_ids, urgent_cap=cap, names=names)


ROWS = [
    ("挂号排队排了三个小时，挂号窗口太少", values({"registration": "negative", "waiting": "negative"})),
    ("挂号系统老是崩溃，挂号难", values({"registration": "negative"})),
    ("在线挂号很方便", values({"registration": "positive"}, "positive", "none")),
    ("护士输错了液，我要打12345投诉", values({"nursing": "negative"}, urgency="urgent", reasons="safety;escalation")),
    ("医生收红包", values({"consultation": "negative"}, urgency="urgent", reasons="misconduct")),
]


def filled(cap: int = 10) -> Summary:
    s = summary(cap)
    for i, (text, v) in enumerate(ROWS, start=1):
        s.add(i, text, v)
    s.add(6, "", error_values("empty_text", load_taxonomy().touchpoint_ids, "m1"))
    s.add(7, 42, error_values("not_text", load_taxonomy().touchpoint_ids, "m1"))
    return s


def test_counts_per_touchpoint_and_sentiment():
    s = filled()
    assert s.matrix["registration"] == {"negative": 2, "positive": 1}
    assert s.matrix["waiting"] == {"negative": 1}
    assert s.sentiment == {"negative": 4, "positive": 1} and s.urgency["urgent"] == 2
    text = s.render()
    assert "| registration 预约挂号 | 1 | 0 | 2 | 3 |" in text
    assert "rows: 7 (5 scored, 2 not scored)" in text


def test_urgent_rows_are_listed_with_reasons_and_capped():
    text = filled().render()
    assert "## Urgent rows (2)" in text
    assert "| 4 | safety;escalation | nursing | 护士输错了液，我要打12345投诉 |" in text
    capped = filled(cap=1).render()
    assert "| 5 | misconduct |" not in capped and "and 1 more" in capped
    assert "and 1 more" in filled().render(urgent_limit=1)


def test_keywords_come_from_negative_comments_of_each_touchpoint():
    s = filled()
    assert s.keywords("registration")[0] == "挂号"  # in both negative registration comments
    assert "方便" not in s.keywords("registration")  # from the positive one only
    assert s.keywords("pharmacy") == []
    assert "| registration 预约挂号 | 2 | 挂号" in s.render()


def test_errors_are_counted():
    s = filled()
    assert s.errors == {"empty_text": 1, "not_text": 1}
    assert "| empty_text | 1 |" in s.render() and "| not_text | 1 |" in s.render()


def test_state_round_trip_gives_the_same_summary():
    import json

    s = filled()
    restored = summary()
    restored.load_state(json.loads(json.dumps(s.state())))
    assert restored.render() == s.render()

"""Programmatic augmentation: two written comments about different touchpoints joined into one.

Real comments often raise several things at once ("挂号很方便。另外药房排队太久"); joining two written rows
with a connective teaches the heads to separate touchpoints and their polarities. Labels are merged by the
contract's rules, only for pairs whose merge is unambiguous, and each row records what it was made from, so
the splitter keeps it in the same split as its parents.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from pvoice.training.corpus import CorpusRow

# Only registers where one person writing two remarks in one message is natural.
CHANNELS = ("survey", "online_review", "wechat", "sms")
CONNECTIVES = ("。另外，", "；还有，", "。还有一点，", "\n另外说一下：", "。再说一句，", "！还有就是", "。顺便提一下，", "，另外")
MIN_CHARS, MAX_CHARS, MAX_RATIO = 12, 160, 2.5


@dataclass(frozen=True)
class Mix:
    """Share of each urgency among the augmented rows, near the corpus's own."""

    none: float = 0.55
    complaint: float = 0.33
    urgent: float = 0.12


def _eligible(row: CorpusRow) -> bool:
    if row.source != "written" or row.channel not in CHANNELS or not MIN_CHARS <= len(row.text) <= MAX_CHARS:
        return False
    # A negative remark the hospital cannot act on (rule 2) makes the merged overall label a judgement call.
    if row.urgency == "none" and row.sentiment == "negative":
        return False
    # A neutral question (rule 3) beside praise has no clear overall sentiment either.
    return not (row.urgency == "complaint" and row.sentiment != "negative")


def merge_labels(a: CorpusRow, b: CorpusRow) -> dict:
    urgency = "urgent" if "urgent" in (a.urgency, b.urgency) else (
        "complaint" if "complaint" in (a.urgency, b.urgency) else "none")
    if urgency != "none":
        sentiment = "negative"  # a concrete problem raised, even beside praise (rule 1)
    elif "positive" in (a.sentiment, b.sentiment):
        sentiment = "positive"  # praise plus a neutral remark or wish stays positive
    else:
        sentiment = "neutral"
    return {
        "touchpoints": a.touchpoints + b.touchpoints,
        "aspects": {**a.aspects, **b.aspects},
        "sentiment": sentiment,
        "urgency": urgency,
        "urgent_reasons": sorted(set(a.urgent_reasons) | set(b.urgent_reasons), key=(a.urgent_reasons + b.urgent_reasons).index),
    }


def _join(a: str, b: str, rng: random.Random) -> str:
    return a.rstrip("。！!？?，,；; ") + rng.choice(CONNECTIVES) + b


def augment(rows: Sequence[CorpusRow], n: int, seed: int = 7, mix: Mix = Mix()) -> list[CorpusRow]:
    """`n` joined rows; each written row is used at most once."""
    rng = random.Random(seed)
    pool = {u: [r for r in rows if _eligible(r) and r.urgency == u] for u in ("none", "complaint", "urgent")}
    for part in pool.values():
        rng.shuffle(part)
    partners_for = {"none": ("none",), "complaint": ("none",), "urgent": ("none", "complaint")}
    out: list[CorpusRow] = []
    quotas = {"none": round(n * mix.none), "complaint": round(n * mix.complaint)}
    quotas["urgent"] = n - sum(quotas.values())
    for kind, quota in quotas.items():
        made = 0
        while made < quota and pool[kind]:
            a = pool[kind].pop()
            partner_pool = pool[rng.choice(partners_for[kind])]
            b = next((r for r in partner_pool if not set(r.touchpoints) & set(a.touchpoints)
                      and max(len(a.text), len(r.text)) <= MAX_RATIO * min(len(a.text), len(r.text))), None)
            if b is None:
                continue
            partner_pool.remove(b)
            first, second = (a, b) if rng.random() < 0.5 else (b, a)
            out.append(CorpusRow(id=f"aug-{len(out) + 1:04d}", text=_join(first.text, second.text, rng),
                                 channel=first.channel, source="augmented", derived_from=[first.id, second.id],
                                 **merge_labels(first, second)))
            made += 1
    return out

"""The review queue: the comments where the model is least sure, plus a random audit sample and a share of
comments another reviewer has labeled (so that reviewers can be compared), and the agreement between people
and between people and the model (Cohen's kappa per head).

The queue looks at the latest `WINDOW` comments, a bounded read whatever the size of the database, and keeps
the ones the reviewer has not labeled yet. A comment is uncertain when:
- the model put it in the review band (`needs_review`: possibly urgent, below the paging threshold);
- a head is unsure: the chosen sentiment or urgency has a probability under `LOW_CONFIDENCE`;
- a touchpoint is near its decision threshold (0.5 on calibrated probabilities): within `NEAR_THRESHOLD`;
- heads disagree: a positive comment that the urgency head calls a complaint or urgent, or an overall
  sentiment opposite to every one of its touchpoints' sentiments.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pvoice.labels import Taxonomy
from pvoice.serving.db.models import Comment, LabelResponse, Suggestion

WINDOW = 2000  # latest comments looked at
LOW_CONFIDENCE = 0.6
NEAR_THRESHOLD = 0.1
TOUCHPOINT_THRESHOLD = 0.5
AUDIT_SAMPLE = 5  # confident comments drawn at random each day, so that the model's sure answers are checked too
SECOND_OPINIONS = 3  # comments labeled by someone else, offered again to measure agreement between reviewers
HEADS = ("touchpoints", "aspects", "sentiment", "urgency", "urgent_reasons")


@dataclass(frozen=True)
class Why:
    """Why a comment is in the queue: `kind` (review_band, low_confidence, near_threshold, disagreement, audit,
    second_opinion) and what in particular."""

    kind: str
    detail: str = ""


@dataclass
class QueueItem:
    comment: Comment
    why: list[Why] = field(default_factory=list)
    score: float = 0.0  # higher: less sure


def uncertainty(suggestion: Suggestion) -> tuple[float, list[Why]]:
    """How unsure the model was about one comment, and why (empty when it was sure)."""
    probs = suggestion.probabilities or {}
    why: list[Why] = []
    score = 0.0
    if suggestion.needs_review:
        why.append(Why("review_band", ",".join(suggestion.review_reasons or [])))
        score += 1.0
    for head, chosen in (("sentiment", suggestion.sentiment), ("urgency", suggestion.urgency)):
        p = (probs.get(head) or {}).get(chosen)
        if head == "urgency" and chosen == "urgent":
            continue  # urgent is decided by the reason head's thresholds, not by this probability
        if p is not None and p < LOW_CONFIDENCE:
            why.append(Why("low_confidence", f"{head}={chosen} {p:.2f}"))
            score += LOW_CONFIDENCE - p
    for touchpoint, p in (probs.get("touchpoints") or {}).items():
        if abs(p - TOUCHPOINT_THRESHOLD) < NEAR_THRESHOLD:
            why.append(Why("near_threshold", f"{touchpoint} {p:.2f}"))
            score += NEAR_THRESHOLD - abs(p - TOUCHPOINT_THRESHOLD)
    aspects = set((suggestion.aspects or {}).values())
    if suggestion.sentiment == "positive" and suggestion.urgency != "none":
        why.append(Why("disagreement", f"sentiment=positive, urgency={suggestion.urgency}"))
        score += 0.5
    elif aspects and suggestion.sentiment in ("positive", "negative"):
        opposite = {"positive": "negative", "negative": "positive"}[suggestion.sentiment]
        if aspects == {opposite}:
            why.append(Why("disagreement", f"sentiment={suggestion.sentiment}, every touchpoint {opposite}"))
            score += 0.5
    return score, why


def _labeled_by(session: Session, comment_ids: list[int]) -> dict[int, set[str]]:
    authors: dict[int, set[str]] = defaultdict(set)
    if comment_ids:
        for comment_id, author in session.execute(select(LabelResponse.comment_id, LabelResponse.author)
                                                  .where(LabelResponse.comment_id.in_(comment_ids))):
            authors[comment_id].add(author)
    return authors


def review_queue(session: Session, *, reviewer: str, limit: int = 20, today: date | None = None
                 ) -> list[QueueItem]:
    """The reviewer's queue: the least sure comments first (up to `limit`), then the day's audit sample of sure
    ones, then a few comments only someone else has labeled. Comments this reviewer labeled are left out."""
    comments = list(session.scalars(select(Comment).order_by(Comment.id.desc()).limit(WINDOW)
                                    .options(selectinload(Comment.suggestion))))
    authors = _labeled_by(session, [c.id for c in comments])
    unsure, sure, others = [], [], []
    for comment in comments:
        if comment.suggestion is None or reviewer in authors.get(comment.id, set()):
            continue
        if authors.get(comment.id):
            others.append(QueueItem(comment, [Why("second_opinion", ",".join(sorted(authors[comment.id])))]))
            continue
        score, why = uncertainty(comment.suggestion)
        (unsure if why else sure).append(QueueItem(comment, why, score))
    unsure.sort(key=lambda item: (-item.score, -item.comment.id))
    rng = random.Random(f"{(today or date.today()).isoformat()}:{reviewer}")  # stable through the day
    audit = rng.sample(sure, min(AUDIT_SAMPLE, len(sure)))
    for item in audit:
        item.why.append(Why("audit"))
    return unsure[:limit] + audit + others[:SECOND_OPINIONS]


# ---- agreement ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Agreement:
    """Cohen's kappa of one head between two label sources; `n` items compared (None: too few or undefined)."""

    head: str
    kappa: float | None
    n: int


def _items(head: str, a: dict, b: dict, taxonomy: Taxonomy) -> tuple[list, list]:
    """Paired decisions of one head for one comment: categorical for sentiment and urgency; one yes/no per
    touchpoint (per reason) for the multi-label heads; the sentiment of each touchpoint both tagged."""
    if head in ("sentiment", "urgency"):
        return [a[head]], [b[head]]
    if head == "touchpoints":
        ids = taxonomy.touchpoint_ids
        return [t in a[head] for t in ids], [t in b[head] for t in ids]
    if head == "urgent_reasons":
        ids = taxonomy.reason_ids
        return [r in a[head] for r in ids], [r in b[head] for r in ids]
    both = sorted(set(a["aspects"]) & set(b["aspects"]))
    return [a["aspects"][t] for t in both], [b["aspects"][t] for t in both]


def kappas(pairs: list[tuple[dict, dict]], taxonomy: Taxonomy) -> list[Agreement]:
    from sklearn.metrics import cohen_kappa_score

    out = []
    for head in HEADS:
        left, right = [], []
        for a, b in pairs:
            x, y = _items(head, a, b, taxonomy)
            left += x
            right += y
        kappa = None
        if len(pairs) >= 2 and left and len(set(left) | set(right)) > 1:
            kappa = float(cohen_kappa_score(left, right))
        out.append(Agreement(head, None if kappa != kappa else kappa, len(pairs)))  # NaN -> None
    return out


def _labels(row: Suggestion | LabelResponse) -> dict:
    return {"touchpoints": row.touchpoints, "aspects": row.aspects, "sentiment": row.sentiment,
            "urgency": row.urgency, "urgent_reasons": row.urgent_reasons}


def agreement(session: Session, *, taxonomy: Taxonomy) -> dict[str, list[Agreement]]:
    """Kappa per head: `model` (each reviewed comment's latest human labels against the model's suggestion) and
    `reviewers` (the latest labels of the first two people who labeled the same comment)."""
    responses = list(session.scalars(select(LabelResponse).order_by(LabelResponse.id)
                                     .options(selectinload(LabelResponse.comment).selectinload(Comment.suggestion))))
    latest: dict[int, dict[str, LabelResponse]] = defaultdict(dict)
    for response in responses:
        latest[response.comment_id][response.author] = response  # later rows replace earlier ones
    with_model, between = [], []
    for by_author in latest.values():
        rows = list(by_author.values())
        newest = max(rows, key=lambda r: r.id)
        if newest.comment.suggestion is not None:
            with_model.append((_labels(newest), _labels(newest.comment.suggestion)))
        if len(rows) >= 2:
            first, second = sorted(rows, key=lambda r: r.id)[:2]
            between.append((_labels(first), _labels(second)))
    return {"model": kappas(with_model, taxonomy), "reviewers": kappas(between, taxonomy)}

"""Top negative keywords per touchpoint: the jieba words of a bounded sample of each touchpoint's negative
comments (the latest of the period), ranked as batch scoring ranks them (`pvoice.scoring.summary.Keywords`:
count x IDF, jieba's and the domain's stop words left out). Each comment counts a word once. The words were cut
when each comment was stored (`Comment.words`); a comment stored without them is cut here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvoice.labels import Taxonomy
from pvoice.serving.db.models import Comment, CommentAspect
from pvoice.serving.insights.facts import content_words, keyword_cutter
from pvoice.serving.insights.filters import ViewFilter
from pvoice.serving.insights.queries import NEGATIVE, _facts
from pvoice.serving.masking import find_pii

TOP = 8


@dataclass(frozen=True)
class Keyword:
    word: str
    comments: int  # in the sample, how many comments hold the word


@dataclass
class TopKeywords:
    sample: int  # the most comments read per touchpoint
    words: dict[str, list[Keyword]]  # touchpoint -> keywords, best first; touchpoints without negatives left out
    read: dict[str, int]  # touchpoint -> comments read


def top_keywords(session: Session, f: ViewFilter, taxonomy: Taxonomy, *, sample: int, mask: bool,
                 top: int = TOP) -> TopKeywords:
    """`mask`: leave out words that are themselves personal identifiers (a name), for roles without pii:read."""
    kw = keyword_cutter()
    words: dict[str, list[Keyword]] = {}
    read: dict[str, int] = {}
    for touchpoint in taxonomy.touchpoint_ids:
        query = _facts(select(Comment.words, Comment.text).select_from(CommentAspect)
                       .join(Comment, Comment.id == CommentAspect.comment_id)
                       .where(CommentAspect.touchpoint == touchpoint, CommentAspect.sentiment == NEGATIVE), f)
        rows = session.execute(query.order_by(CommentAspect.received_at.desc()).limit(sample)).all()
        if not rows:
            continue
        counts: Counter = Counter()
        for stored, text in rows:
            counts.update(set(stored if stored is not None else content_words(text)))
        ranked = [w for w in kw.top(counts, n=top * 2) if not (mask and find_pii(w))][:top]
        words[touchpoint] = [Keyword(w, counts[w]) for w in ranked]
        read[touchpoint] = len(rows)
    return TopKeywords(sample, words, read)

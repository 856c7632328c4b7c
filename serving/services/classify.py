"""Classifying texts for the API: long texts by head and tail, results as plain dicts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pvoice.model.results import Prediction
from pvoice.serving.services.batcher import CLASSIFY, MicroBatcher

SEPARATOR = "\n…\n"


@dataclass(frozen=True)
class Prepared:
    """The text the model reads, and how to map its offsets back to the original."""

    original: str
    model_text: str
    truncated: bool
    head: int = 0  # characters kept from the start
    skipped: int = 0  # characters left out between head and tail

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if not self.truncated or end <= self.head:
            return start, end
        tail_start = self.head + len(SEPARATOR)
        if start >= tail_start:
            shift = self.skipped - len(SEPARATOR)
            return start + shift, end + shift
        return start, min(end, self.head)  # a span over the separator keeps its head part


def prepare(text: str, max_chars: int) -> Prepared:
    """Texts over `max_chars` keep their first and last halves: complaints open with the incident and close with
    what the writer wants (a reply, a refund, the 12345 call they threaten), and both decide the triage."""
    if len(text) <= max_chars:
        return Prepared(text, text, False)
    head = max_chars // 2
    tail = max_chars - head
    return Prepared(text, text[:head] + SEPARATOR + text[-tail:], True, head, len(text) - head - tail)


def prediction_dict(pred: Prediction, prepared: Prepared, *, with_evidence: bool) -> dict:
    out = {
        "touchpoints": pred.touchpoints,
        "aspects": pred.aspects,
        "sentiment": pred.sentiment,
        "urgency": pred.urgency,
        "urgent_reasons": pred.urgent_reasons,
        "urgent_score": pred.urgent_score,
        "needs_review": pred.needs_review,
        "review_reasons": pred.review_reasons,
        "probabilities": {
            "touchpoints": pred.touchpoint_probabilities,
            "aspects": pred.aspect_probabilities,
            "sentiment": pred.sentiment_probabilities,
            "urgency": pred.urgency_probabilities,
            "urgent_reasons": pred.reason_probabilities,
        },
        "truncated": prepared.truncated,
        "model_version": pred.model_version,
    }
    if with_evidence:
        out["evidence"] = evidence_dict(pred, prepared)
    return out


def evidence_dict(pred: Prediction, prepared: Prepared) -> dict[str, list[dict]]:
    evidence: dict[str, list[dict]] = {}
    for decision, spans in pred.evidence.items():
        items = []
        for span in spans:
            start, end = prepared.original_span(span.start, span.end)
            items.append({"text": prepared.original[start:end], "start": start, "end": end,
                          "weight": round(float(span.weight), 6)})
        evidence[decision] = items
    return evidence


async def classify_texts(batcher: MicroBatcher, texts: list[str], *, max_chars: int, evidence: bool,
                         evidence_max_chars: int, evidence_max_texts: int | None = None, priority: int = CLASSIFY
                         ) -> list[tuple[Prepared, Prediction]]:
    """Predictions in input order. Evidence (when asked) only for texts up to `evidence_max_chars`, and for at
    most `evidence_max_texts` of them: occlusion costs about fifty model passes per text, and one request must
    not buy minutes of the model that every other request shares."""
    prepared = [prepare(t, max_chars) for t in texts]
    short = [i for i, p in enumerate(prepared) if evidence and len(p.original) <= evidence_max_chars]
    explained = set(short[:evidence_max_texts] if evidence_max_texts is not None else short)
    groups = {flag: [i for i in range(len(texts)) if (i in explained) is flag] for flag in (False, True)}
    answers = await asyncio.gather(*[
        batcher.predict([prepared[i].model_text for i in idx], evidence=flag, priority=priority)
        for flag, idx in groups.items()])
    preds: list[Prediction | None] = [None] * len(texts)
    for idx, answer in zip(groups.values(), answers):
        for i, pred in zip(idx, answer):
            preds[i] = pred
    return list(zip(prepared, preds))

"""POST /v1/classify: labels, probabilities and evidence; stores nothing."""

from __future__ import annotations

from fastapi import APIRouter

from pvoice.serving.api.deps import Allowed, ContextDep, MetricsDep, BatcherDep
from pvoice.serving.api.schemas import ClassifyRequest, ClassifyResponse
from pvoice.serving.services.auth import Perm
from pvoice.serving.services.classify import classify_texts, prediction_dict

router = APIRouter(prefix="/v1", tags=["classify"])


@router.post("/classify", response_model=ClassifyResponse, response_model_exclude_none=True,
             summary="Classify texts (stores nothing)")
async def classify(body: ClassifyRequest, ctx: ContextDep, batcher: BatcherDep, metrics: MetricsDep,
                   _: Allowed(Perm.classify)) -> dict:
    evidence = ctx.settings.classify_evidence if body.evidence is None else body.evidence
    results = await classify_texts(batcher, body.texts, max_chars=ctx.settings.max_text_chars,
                                   evidence=evidence, evidence_max_chars=ctx.settings.evidence_max_chars,
                                   evidence_max_texts=ctx.settings.evidence_max_texts)
    for _prepared, pred in results:
        metrics.count_prediction(pred)
    # a text too long to explain still carries `evidence`, empty, so clients see one shape
    return {"items": [prediction_dict(pred, prepared, with_evidence=evidence) for prepared, pred in results]}

"""Urgency rests on sentences: segmentation, the multiple-instance reason head, paging and review thresholds."""

import json
import random

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pvoice.cli import app
from pvoice.labels import load_taxonomy
from pvoice.model.config import ClassifierConfig
from pvoice.model.decisions import HeadProbs, decide
from pvoice.model.heads import MultiTaskHeads
from pvoice.model.sentences import MAX_CHARS, sentence_spans, token_sentences
from pvoice.training.corpus import CorpusError, read_corpus
from pvoice.training.data import split_rows

runner = CliRunner()
LABELS = load_taxonomy().label_maps()


@pytest.mark.parametrize("text", [
    "挂号排了两个小时。医生态度还行！护士打错了针？",
    "谢谢！李医生讲得很耐心\n出院手续也快",
    "我爸住院的时候" + "护工天天不在岗位上而且家属找了好几次都没有人管" * 6,
    "短",
])
def test_sentences_cover_the_text_in_order(text):
    spans = sentence_spans(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous: nothing dropped
    assert all(e - s <= MAX_CHARS for s, e in spans)


def test_sentences_split_at_stops_and_join_short_pieces():
    text = "谢谢！护士给我妈输错了液。到现在没人给个说法"
    assert [text[s:e] for s, e in sentence_spans(text)] == ["谢谢！护士给我妈输错了液。", "到现在没人给个说法"]


def test_tokens_map_to_their_sentence():
    spans = [(0, 4), (4, 9)]
    assert token_sentences([(0, 2), (2, 4), (4, 5), (0, 0), (8, 9)], spans) == [0, 0, 1, -1, 1]


def test_a_comment_carries_a_reason_as_strongly_as_its_strongest_sentence():
    torch.manual_seed(0)
    heads = MultiTaskHeads(32, LABELS).eval()
    hidden, mask = torch.randn(2, 10, 32), torch.ones(2, 10, dtype=torch.long)
    sentence_ids = torch.tensor([[-1, 0, 0, 0, 1, 1, 2, 2, 2, -1], [-1, 0, 0, 0, 0, 0, 0, 0, 0, -1]])
    with torch.no_grad():
        out = heads(hidden, mask, sentence_ids)
    per_sentence = out["sentence_reasons"]
    assert per_sentence.shape == (2, 3, len(LABELS["urgent_reasons"]))
    assert torch.equal(out["urgent_reasons"], per_sentence.max(dim=1).values)
    assert (per_sentence[1, 1:] <= -1e3).all()  # the one-sentence comment has no phantom sentences
    # a sentence's score is read from its own tokens: changing another sentence's tokens leaves it as it was
    changed = hidden.clone()
    changed[0, 4:6] += torch.randn(2, 32)
    with torch.no_grad():
        again = heads(changed, mask, sentence_ids)["sentence_reasons"]
    assert torch.allclose(again[0, [0, 2]], per_sentence[0, [0, 2]]) and not torch.allclose(again[0, 1], per_sentence[0, 1])


def _config(page=0.6, review=0.3) -> ClassifierConfig:
    return ClassifierConfig(labels=LABELS, page_threshold=page, review_threshold=review,
                            touchpoint_thresholds={t: 0.5 for t in LABELS["touchpoints"]})


def _probs(text: str, sentence_reasons: list[list[float]]) -> HeadProbs:
    n_tp, n_r = len(LABELS["touchpoints"]), len(LABELS["urgent_reasons"])
    per_sentence = np.zeros((len(sentence_reasons), n_r))
    for i, row in enumerate(sentence_reasons):
        per_sentence[i, :len(row)] = row
    tp = np.full(n_tp, 0.1)
    tp[LABELS["touchpoints"].index("nursing")] = 0.9
    return HeadProbs(touchpoints=tp, aspects=np.full((n_tp, 3), 1 / 3), sentiment=np.array([0.6, 0.3, 0.1]),
                     urgency=np.array([0.1, 0.7, 0.2]), urgent_reasons=per_sentence.max(axis=0),
                     sentence_reasons=per_sentence, sentences=sentence_spans(text))


TEXT = "护士态度很好。可是昨晚给我妈输错了液！希望医院重视"  # three sentences; the second carries safety


def test_a_sentence_above_the_paging_threshold_pages_and_is_the_evidence():
    pred = decide(TEXT, _probs(TEXT, [[0.05], [0.9], [0.1]]), _config())
    assert pred.urgency == "urgent" and pred.urgent_reasons == ["safety"] and not pred.needs_review
    assert pred.sentiment == "negative" and pred.urgent_score == pytest.approx(0.9)
    assert [e.text for e in pred.evidence["urgency"]] == ["可是昨晚给我妈输错了液！"]


def test_between_review_and_paging_a_comment_is_a_complaint_for_a_person():
    pred = decide(TEXT, _probs(TEXT, [[0.05], [0.45], [0.1]]), _config())
    assert pred.urgency == "complaint" and pred.needs_review and pred.review_reasons == ["safety"]
    assert pred.urgent_reasons == [] and pred.evidence["urgency"][0].text == "可是昨晚给我妈输错了液！"


def test_below_review_the_comment_level_head_decides_complaint_or_none():
    pred = decide(TEXT, _probs(TEXT, [[0.05], [0.2], [0.1]]), _config())
    assert pred.urgency == "complaint" and not pred.needs_review and "urgency" not in pred.evidence


def _row(i: int, text: str, urgency: str, pair: str | None = None) -> dict:
    row = {"id": f"r-{i}", "text": text, "touchpoints": ["nursing"], "aspects": {"nursing": "negative"},
           "sentiment": "negative", "urgency": urgency, "urgent_reasons": ["safety"] if urgency == "urgent" else [],
           "channel": "survey"}
    return {**row, "pair": pair} if pair else row


def test_both_sides_of_a_minimal_pair_land_in_one_split(tmp_path):
    chars = "挂号排队检查抽血药费医保住院出院随访环境厕所停车电梯预约导诊手术治疗收退发票报告态度耐心满意差慢快"
    rows = []
    for i in range(60):  # distinct scenes, so that only the pair tag joins rows
        scene = "".join(random.Random(i).sample(chars, 12))
        rows.append(_row(2 * i, f"{scene}，护士输错了液", "urgent", pair=f"p{i}"))
        rows.append(_row(2 * i + 1, f"{scene}，护士输液晚了", "complaint", pair=f"p{i}"))
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    split_of = {r.id: name for name, part in split_rows(read_corpus([path])).items() for r in part}
    assert len(set(split_of.values())) > 1  # the pairs are spread over the splits ...
    assert all(split_of[f"r-{2 * i}"] == split_of[f"r-{2 * i + 1}"] for i in range(60))  # ... each whole


def test_real_text_is_read_for_evaluation_only(tmp_path):
    path = tmp_path / "real.jsonl"
    row = {**_row(1, "护士输错了液", "urgent"), "source": "https://example.org/thread/1"}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="for evaluation only"):
        read_corpus([path])
    assert read_corpus([path], require_channel=False, real_text=True)[0].source.startswith("https://")


def test_evaluate_scores_several_sets_apart(tmp_path, tiny_model_dir):
    real = tmp_path / "real_sample.jsonl"
    written = tmp_path / "written_sample.jsonl"
    real.write_text(json.dumps({**_row(1, "护士输错了液，没人管", "urgent"), "source": "https://example.org/1"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    written.write_text(json.dumps(_row(2, "护士输液晚了两个钟头", "complaint"), ensure_ascii=False) + "\n",
                       encoding="utf-8")
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_model_dir), "--data", str(written),
                                 "--data", str(real), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "## written_sample (1 rows)" in result.output and "## real_sample (1 rows, real text)" in result.output
    assert "targets: real text" in result.output and "targets: test split" in result.output
    payload = json.loads(out.read_text())
    assert set(payload) == {"written_sample", "real_sample"}
    assert {"review_band", "urgent_recall_with_review"} <= set(payload["real_sample"][str(tiny_model_dir)])

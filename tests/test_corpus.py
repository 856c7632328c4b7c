import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pvoice.cli import app
from pvoice.training.corpus import CorpusError, read_corpus
from pvoice.training.corpus_check import check_corpus
from pvoice.training.data import split_rows
from pvoice.training.real_overlap import real_text_overlaps
from tests.conftest import SAMPLE_ROWS, make_row, write_jsonl

runner = CliRunner()
REAL_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "real_dev.jsonl"


def test_valid_sample_reads(sample_corpus):
    rows = read_corpus([sample_corpus])
    assert [r.id for r in rows] == [r["id"] for r in SAMPLE_ROWS]
    assert rows[2].urgent_reasons == ["safety"]


@pytest.mark.parametrize("mutate, field, hint", [
    (lambda r: r.update(touchpoints=["registration", "parking"], aspects={"registration": "negative", "parking": "negative"}),
     "touchpoints", "unknown id 'parking'; valid: registration, guidance"),
    (lambda r: r.update(aspects={"waiting": "negative"}), "aspects", "must equal touchpoints"),
    (lambda r: r.update(sentiment="angry"), "sentiment", "valid: positive, neutral, negative"),
    (lambda r: r.update(urgency="none", urgent_reasons=["safety"]), "urgent_reasons", "exactly when urgency is 'urgent'"),
    (lambda r: r.update(urgency="urgent", urgent_reasons=[]), "urgent_reasons", "exactly when urgency is 'urgent'"),
    (lambda r: r.pop("sentiment"), "sentiment", "missing"),
    (lambda r: r.update(text="   "), "text", "non-empty"),
    (lambda r: r.update(text="长" * 5001), "text", "at most 5000"),
    (lambda r: r.update(channel="fax"), "channel", "valid: survey"),
    (lambda r: r.update(source="invented"), "source", "valid: written, augmented"),
])
def test_broken_row_names_file_line_field_and_valid_values(tmp_path, mutate, field, hint):
    rows = [dict(r) for r in SAMPLE_ROWS[:3]]
    mutate(rows[1])
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(CorpusError) as err:
        read_corpus([path])
    message = str(err.value)
    assert f"{path}:2: field '{field}'" in message
    assert hint in message


def test_malformed_json_and_bad_utf8_are_located(tmp_path):
    path = tmp_path / "c.jsonl"
    good = json.dumps(SAMPLE_ROWS[0], ensure_ascii=False).encode()
    path.write_bytes(good + b"\n{not json\n" + good.replace(b"t-0001", b"t-0002")[:-2] + b"\xff\xfe\"}\n")
    with pytest.raises(CorpusError) as err:
        read_corpus([path])
    text = str(err.value)
    assert f"{path}:2: field '<line>': malformed JSON" in text
    assert f"{path}:3: field '<line>': not valid UTF-8" in text


def test_duplicate_ids_are_reported(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [SAMPLE_ROWS[0], SAMPLE_ROWS[0]])
    with pytest.raises(CorpusError, match="duplicate id 't-0001'"):
        read_corpus([path])


def test_check_counts_and_exit_codes(tmp_path, sample_corpus):
    result = runner.invoke(app, ["data", "check", str(sample_corpus)])
    assert result.exit_code == 0, result.output
    assert "urgent reasons" in result.output and "near-duplicate rate" in result.output
    assert "[NO] rows >= 12000" in result.output and "urgent share by length" in result.output
    strict = runner.invoke(app, ["data", "check", "--strict", str(sample_corpus)])
    assert strict.exit_code == 1
    broken = write_jsonl(tmp_path / "broken" / "b.jsonl", [{**SAMPLE_ROWS[0], "urgency": "later"}])
    result = runner.invoke(app, ["data", "check", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:1: field 'urgency'" in result.output


def test_check_fails_on_too_many_near_duplicates(tmp_path):
    base = "门诊二楼的自助机坏了三台，排队缴费的人一直排到楼梯口，也没有工作人员来疏导"
    rows = [make_row(i, base + "！" * (i % 3) + "。" * (i % 2), {"digital": "negative"}) for i in range(6)]
    rows += [make_row(100 + i, t, {"other": "positive"}, "positive", "none")
             for i, t in enumerate(["医院整体很好", "谢谢你们的照顾和帮助", "服务态度特别好值得表扬"])]
    report = check_corpus([write_jsonl(tmp_path / "d.jsonl", rows)])
    assert report.near_dup_rate > 0.03
    result = runner.invoke(app, ["data", "check", str(tmp_path / "d.jsonl")])
    assert result.exit_code == 1 and "near-duplicate rate" in result.output


def test_splits_are_deterministic_and_keep_near_duplicates_together(tmp_path):
    base = "孩子发烧在急诊等了四个小时都没有医生来看，护士只说再等等"
    rng = random.Random(0)
    chars = "门诊楼道空调太冷老人孩子受不了挂号窗口排队医生护士药房收费检查报告电梯厕所停车"
    rows = [make_row(i, "".join(rng.choices(chars, k=20)), {"environment": "negative"}) for i in range(200)]
    rows += [make_row(500 + i, base + "。" * i, {"waiting": "negative"}) for i in range(5)]
    rows.append(make_row(900, rows[3]["text"] + "。另外挂号窗口太少", {"environment": "negative",
                         "registration": "negative"}, derived_from=["t-0003"], source="augmented"))
    loaded = read_corpus([write_jsonl(tmp_path / "s.jsonl", rows)])
    first, second = split_rows(loaded), split_rows(list(reversed(loaded)))
    where = {r.id: name for name, part in first.items() for r in part}
    assert where == {r.id: name for name, part in second.items() for r in part}
    assert len({where[f"t-{500 + i:04d}"] for i in range(5)}) == 1
    assert where["t-0900"] == where["t-0003"]
    assert set(where.values()) == {"train", "dev", "test"}


def test_the_project_corpus_is_valid():
    report = check_corpus(["data/comments"])
    assert report.errors == []
    assert report.near_dup_rate <= report.targets.max_near_duplicate_rate


def _real_file(tmp_path, texts):
    rows = [{**make_row(700 + i, t, {"waiting": "negative"}), "source": f"https://example.org/post/{i}"}
            for i, t in enumerate(texts)]
    for row in rows:
        del row["channel"]
    return write_jsonl(tmp_path / "real.jsonl", rows)


def test_real_text_overlap_finds_the_row_that_repeats_a_real_comment():
    corpus = ["挂号排了三个小时，窗口只开了一个", "停车场能不能多加点车位", "今天抽血的护士一针就进了，一点都不疼"]
    real = ["早上七点就去排队，排了三个小时才挂上号，窗口只开了一个", "医院的停车场能不能再扩大一点"]
    overlaps = real_text_overlaps(corpus, real)
    assert [(o.real_index, o.corpus_index) for o in overlaps] == [(0, 0), (1, 1)]
    assert overlaps[0].share > 0.3 and overlaps[1].share < overlaps[0].share


def test_check_against_a_real_set_fails_when_a_row_repeats_one_of_its_comments(tmp_path, sample_corpus):
    unrelated = _real_file(tmp_path, ["半夜急诊只有一个医生，孩子烧到四十度等了两个钟头"])
    result = runner.invoke(app, ["data", "check", str(sample_corpus), "--against", str(unrelated)])
    assert result.exit_code == 0, result.output
    assert "overlap with real.jsonl" in result.output
    echoed = _real_file(tmp_path, ["护士给我妈输错了液，幸好家属发现了，到现在都没有人给个说法"])
    result = runner.invoke(app, ["data", "check", str(sample_corpus), "--against", str(echoed)])
    assert result.exit_code == 1
    assert "t-0700 ~" in result.output and "corpus check failed: overlap with real.jsonl" in result.output


@pytest.mark.skipif(not REAL_DEV.exists(), reason="the real-text dev set sits in ../shared, beside the project")
def test_no_corpus_row_repeats_much_of_a_real_dev_comment():
    report = check_corpus(["data/comments"])
    real = read_corpus([REAL_DEV], require_channel=False, real_text=True)
    (highest, *_) = real_text_overlaps([r.text for r in report.rows], [r.text for r in real])
    assert highest.share <= report.targets.max_real_overlap

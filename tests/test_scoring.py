"""Batch scoring: every format in and out, the text column, bad rows, row order and chunking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pvoice.model.predictor import Classifier
from pvoice.scoring import NoTextColumn, ScoreJob, ScoringError, UnsupportedFormat, find_text_column, score_file
from pvoice.scoring.engine import appended_columns
from scoring_support import SAMPLE_COLUMNS, read_table, sample_rows, write_table

N_ROWS = 45


@pytest.fixture(scope="module")
def classifier(tiny_model_dir) -> Classifier:
    return Classifier.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def expected(classifier) -> list[dict]:
    """What scoring should append to each sample row, straight from the classifier."""
    from pvoice.scoring.engine import prediction_values

    preds = classifier.predict([r[3] for r in sample_rows(N_ROWS)], batch_size=8)
    return [prediction_values(p, classifier.config.touchpoints) for p in preds]


def run(classifier, src: Path, out: Path, **kw):
    kw.setdefault("batch_size", 8)
    return score_file(ScoreJob(input=src, output=out, progress=False, **kw), classifier=classifier)


def as_text(value) -> str:
    return "" if value is None else str(value)


def scored_part(columns: list[str], row: list, names: list[str]) -> dict[str, str]:
    return {n: as_text(row[columns.index(n)]) for n in names}


INPUTS = {
    "csv-utf8": ("in.csv", "utf-8"),
    "csv-utf8-bom": ("in.csv", "utf-8-sig"),
    "csv-gbk": ("in.csv", "gbk"),
    "csv-gb18030": ("in.csv", "gb18030"),
    "tsv": ("in.tsv", "utf-8"),
    "tsv-utf16": ("in.tsv", "utf-16"),
    "xlsx": ("in.xlsx", "utf-8"),
    "jsonl": ("in.jsonl", "utf-8"),
    "parquet": ("in.parquet", "utf-8"),
}


@pytest.mark.parametrize("kind", list(INPUTS))
def test_every_input_format_keeps_columns_and_order(kind, classifier, expected, tmp_path):
    name, encoding = INPUTS[kind]
    rows = sample_rows(N_ROWS)
    src = write_table(tmp_path / name, SAMPLE_COLUMNS, rows, encoding=encoding)
    result = run(classifier, src, tmp_path / "out.csv", chunk_rows=16)
    assert result.rows == N_ROWS and result.text_column == "意见"
    columns, out = read_table(tmp_path / "out.csv")
    names = [n for n, _ in appended_columns(classifier.config.touchpoints)]
    assert columns == SAMPLE_COLUMNS + names
    assert [r[:4] for r in out] == rows  # every input cell unchanged ("0001" keeps its zeros), same order
    for row, exp in zip(out, expected):
        assert scored_part(columns, row, names) == {n: as_text(exp[n]) for n in names}


@pytest.mark.parametrize("name", ["out.csv", "out.tsv", "out.xlsx", "out.jsonl", "out.parquet"])
def test_every_output_format_holds_the_same_rows(name, classifier, expected, tmp_path):
    rows = sample_rows(N_ROWS)
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, rows)
    run(classifier, src, tmp_path / name, chunk_rows=16)
    columns, out = read_table(tmp_path / name)
    names = [n for n, _ in appended_columns(classifier.config.touchpoints)]
    assert columns == SAMPLE_COLUMNS + names
    assert [[as_text(v) for v in r[:4]] for r in out] == rows
    for row, exp in zip(out, expected):
        assert scored_part(columns, row, names) == {n: as_text(exp[n]) for n in names}
    assert not list(tmp_path.glob("out.*.progress.json")) and not list(tmp_path.glob("*.parts"))


def test_parquet_to_parquet_keeps_the_arrow_types(classifier, tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array(range(20), pa.int64()),
                      "visit": pa.array([dt.date(2024, 1, 1 + i) for i in range(20)]),
                      "comment": [r[3] for r in sample_rows(20)]})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=6)
    run(classifier, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=8)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.schema.field("id").type == pa.int64() and out.schema.field("visit").type == pa.date32()
    assert out.select(["id", "visit", "comment"]).equals(table)
    assert out.schema.field("sentiment_confidence").type == pa.float64()


def test_chunking_does_not_change_the_output(classifier, tmp_path):
    """Chunks batch texts differently; labels stay, and probabilities agree to float noise at most."""
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(N_ROWS))
    run(classifier, src, tmp_path / "one.csv", chunk_rows=1000)
    run(classifier, src, tmp_path / "many.csv", chunk_rows=5)
    columns, one = read_table(tmp_path / "one.csv")
    _, many = read_table(tmp_path / "many.csv")
    assert len(one) == len(many) == N_ROWS
    for a, b in zip(one, many):
        for name, x, y in zip(columns, a, b):
            if name.endswith("_confidence"):
                assert abs(float(x) - float(y)) <= 1e-4
            else:
                assert x == y, name


@pytest.mark.parametrize("columns, requested, found", [
    (["序号", "科室", "意见"], None, 2),
    (["id", "患者评价", "score"], None, 1),
    (["编号", "投诉内容", "内容摘要"], None, 1),
    (["ID", "Comment", "Date"], None, 1),
    (["id", "patient_feedback"], None, 1),
    (["a", "b", "c"], "b", 1),
    (["a", "Notes", "c"], "notes", 1),
])
def test_text_column_is_found_by_name(columns, requested, found):
    assert find_text_column(columns, requested) == found


def test_no_text_column_error_lists_the_columns(tiny_model_dir, tmp_path):
    src = write_table(tmp_path / "in.csv", ["编号", "科室", "分数"], [["1", "内科", "5"]])
    with pytest.raises(NoTextColumn, match="'编号', '科室', '分数'.*--text-column"):
        find_text_column(["编号", "科室", "分数"])
    from pvoice.cli import app

    res = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "out.csv"), "--model", str(tiny_model_dir)])
    assert res.exit_code == 2
    assert "no_text_column" in res.output and "'分数'" in res.output
    res = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "out.csv"), "--text-column", "意见",
                                   "--model", str(tiny_model_dir)])
    assert res.exit_code == 2 and "is not a column" in res.output


def test_unsupported_formats_say_what_to_do(classifier, tmp_path):
    (tmp_path / "in.xls").write_bytes(b"")
    with pytest.raises(UnsupportedFormat, match="xlsx"):
        run(classifier, tmp_path / "in.xls", tmp_path / "out.csv")
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(3))
    with pytest.raises(UnsupportedFormat, match="jsonl"):
        run(classifier, src, tmp_path / "out.json")


def test_input_already_scored_is_refused(classifier, tmp_path):
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(5))
    run(classifier, src, tmp_path / "once.csv")
    with pytest.raises(ScoringError, match="scored already") as info:
        run(classifier, tmp_path / "once.csv", tmp_path / "twice.csv")
    assert info.value.code == "column_clash"


def test_bad_rows_are_kept_with_an_error(classifier, tmp_path):
    good = sample_rows(3)
    lines = [
        {"id": 1, "意见": good[0][3]},
        {"id": 2, "意见": ""},
        {"id": 3, "意见": "   "},
        {"id": 4, "意见": None},
        {"id": 5},  # the key is missing altogether
        {"id": 6, "意见": 12345},
        {"id": 7, "意见": "。。。！！"},
        {"id": 8, "意见": good[1][3]},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in lines) + "not json\n"
                   + json.dumps({"id": 10, "意见": good[2][3]}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = run(classifier, src, tmp_path / "out.jsonl", chunk_rows=4)
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [o.get("id") for o in out] == [1, 2, 3, 4, 5, 6, 7, 8, None, 10]
    assert [o["error"] for o in out] == [None, "empty_text", "empty_text", "empty_text", "empty_text", "not_text",
                                         "not_text", None, "malformed_row", None]
    assert out[5]["意见"] == 12345 and out[5]["sentiment"] is None and out[0]["sentiment"] is not None
    assert "意见" not in out[4]  # the object is written back as it was, scores added
    assert dict(result.summary.errors) == {"empty_text": 4, "not_text": 2, "malformed_row": 1}
    assert "| empty_text | 4 |" in result.summary.render()


def test_broken_bytes_and_malformed_csv_rows(classifier, tmp_path):
    good = sample_rows(3)
    body = ("序号,意见\r\n" f"1,{good[0][3]}\r\n" "2,医生态度很好\r\n" f"3,{good[1][3]}\r\n" "\r\n" ",\r\n"
            f"5,{good[2][3]},多出来的,字段\r\n" "6\r\n").encode("gbk")
    body = body.replace("医生态度很好".encode("gbk"), "医生".encode("gbk") + b"\xff\xfe" + "很好".encode("gbk"))
    src = tmp_path / "in.csv"
    src.write_bytes(body)
    result = run(classifier, src, tmp_path / "out.csv")
    columns, out = read_table(tmp_path / "out.csv")
    err = columns.index("error")
    assert [r[0] for r in out] == ["1", "2", "3", "5", "6"]  # blank lines are not records
    assert [r[err] for r in out] == ["", "broken_encoding", "", "malformed_row", "empty_text"]
    assert out[3][1] == f"{good[2][3]},多出来的,字段"  # extra fields kept, joined into the last column
    assert "\ufffd" in out[1][1]
    assert result.summary.blank_rows == 2


def test_xlsx_cells_that_are_not_text(classifier, tmp_path):
    import datetime as dt

    rows = [[1, "护士很耐心", dt.datetime(2024, 3, 1, 9, 30)], [2, 5, dt.datetime(2024, 3, 2)],
            [None, None, None], [3, dt.datetime(2024, 3, 3), None]]
    src = write_table(tmp_path / "in.xlsx", ["编号", "评论", "时间"], rows)
    run(classifier, src, tmp_path / "out.xlsx")
    columns, out = read_table(tmp_path / "out.xlsx")
    err = columns.index("error")
    assert [r[:3] for r in out] == [rows[0], rows[1], rows[3]]  # types kept: ints, datetimes
    assert [r[err] for r in out] == [None, "not_text", "not_text"]


def test_cli_scores_and_writes_the_summary(tiny_model_dir, tmp_path):
    from pvoice.cli import app

    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(20), encoding="gbk")
    res = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "out" / "scored.csv"), "--model",
                                   str(tiny_model_dir), "--summary", str(tmp_path / "out" / "summary.md"),
                                   "--batch-size", "8", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "# Scoring summary: in.csv" in res.output and "## Touchpoints × sentiment" in res.output
    text = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "rows: 20 (20 scored" in text and "tiny-random-0" in text
    assert len(read_table(tmp_path / "out" / "scored.csv")[1]) == 20


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_cells_that_start_like_a_formula_stay_text(suffix, classifier, tmp_path):
    """OWASP CSV injection: nothing a patient wrote may run as a spreadsheet formula."""
    hostile = ['=HYPERLINK("http://x","点我")', "+1+1 挂号太慢", "-2 医生不耐烦", "@SUM(A1) 护士很好"]
    rows = [[f"r{i}", "门诊", f"2026-03-0{i + 1}", text] for i, text in enumerate(hostile)]  # 意见 is the text
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, rows)
    run(classifier, src, tmp_path / f"out.{suffix}", chunk_rows=16)
    if suffix == "csv":
        _, out = read_table(tmp_path / "out.csv")
        assert [r[3] for r in out] == ["'" + t for t in hostile]  # escaped with a quote, as OWASP advises
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(tmp_path / "out.xlsx").active
        cells = [row[3] for row in sheet.iter_rows(min_row=2)]
        assert [c.value for c in cells] == hostile and {c.data_type for c in cells} == {"s"}  # text, not formula

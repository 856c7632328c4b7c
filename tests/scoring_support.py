"""Small survey exports in every supported format, and a reader of outputs, for tests and the benchmark."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pvoice.scoring.readers import format_of

# Comments written for these tests: varied length, touchpoints and tone, some urgent.
SAMPLE_TEXTS = [
    "挂号排了一个多小时，窗口只开了两个，后面的人都在抱怨",
    "王医生很耐心，把检查结果一项一项讲给我听，谢谢！",
    "B超预约要等两个星期，孩子的病等不起",
    "药房发错了药，回家才发现，打电话过去也没人管，我要去卫健委投诉",
    "住院部的护士晚上按铃半天没人来",
    "停车场太小了，转了三圈才找到车位",
    "小程序上缴费很方便，报告也能直接查",
    "抽血的护士手法很好，一点都不疼",
    "医生看病不到两分钟就开单子，问什么都不耐烦",
    "出院结算要跑三个窗口，医保报销比例也没人解释清楚",
    "厕所很脏，地上都是水，老人差点滑倒",
    "随访电话很及时，护士还提醒我按时复查",
    "导诊台的人把我指错了楼层，来回跑了好几趟",
    "手术很成功，感谢骨科团队",
    "夜里病房太吵，隔壁床家属一直打电话",
    "自助机老是卡住，退卡也退不了",
    "收费处多收了我两百块，到现在还没退",
    "医生收了红包才给安排床位，这种风气必须查",
    "我把病历给了护士站，结果别的病人家属都能随便翻看",
    "候诊区叫号系统一直不准，过号了也没人提醒",
    "整体还可以，希望以后多开几个窗口",
    "护工态度很差，对老人大声呵斥",
    "检查报告出来了但是线上看不到，只能再跑一趟医院",
    "再这样拖着不给说法，我就找媒体曝光",
    "食堂的饭菜价格偏贵，味道一般",
    "电梯等太久了，坐轮椅的病人很不方便",
    "复诊拆线的时候护士很细心，伤口恢复得不错",
    "输液室人太多，座位不够，只能站着打针",
    "开的药医保不能报，医生也没提前说一声",
    "急诊医生处理得很快，救了我父亲一命",
]
SAMPLE_COLUMNS = ["序号", "科室", "就诊日期", "意见"]
DEPARTMENTS = ["内科", "外科", "儿科", "妇产科", "骨科", "急诊科", "检验科", "药剂科"]


def sample_rows(n: int) -> list[list[Any]]:
    """n rows of SAMPLE_COLUMNS; the number keeps leading zeros (it must survive scoring unchanged)."""
    return [[f"{i + 1:04d}", DEPARTMENTS[i % len(DEPARTMENTS)], f"2024-{(i % 12) + 1:02d}-{(i % 27) + 1:02d}",
             SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)] + ("" if i < len(SAMPLE_TEXTS) else f"（第{i // len(SAMPLE_TEXTS)}次）")]
            for i in range(n)]


def write_table(path: Path, columns: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    """Write rows in the format of `path`'s extension (CSV/TSV in `encoding`)."""
    fmt = format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("csv", "tsv"):
        with open(path, "w", encoding=encoding, newline="") as f:
            writer = csv.writer(f, delimiter="\t" if fmt == "tsv" else ",")
            writer.writerow(columns)
            writer.writerows(rows)
    elif fmt == "jsonl":
        with open(path, "w", encoding=encoding) as f:
            for row in rows:
                f.write(json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n")
    elif fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(columns)
        for row in rows:
            ws.append(row)
        wb.save(path)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([dict(zip(columns, row)) for row in rows])
        pq.write_table(table, path, row_group_size=max(1, len(rows) // 5))  # several row groups
    return path


def read_table(path: Path) -> tuple[list[str], list[list[Any]]]:
    """A whole (small) output file: its column names and rows."""
    fmt = format_of(path)
    if fmt in ("csv", "tsv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            data = list(csv.reader(f, delimiter="\t" if fmt == "tsv" else ","))
        return data[0], data[1:]
    if fmt == "jsonl":
        objects = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        columns = list(dict.fromkeys(k for obj in objects for k in obj))
        return columns, [[obj.get(c) for c in columns] for obj in objects]
    if fmt == "xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
        width = len(rows[0])  # read-only rows may stop at their last filled cell
        return [str(c) for c in rows[0]], [r + [None] * (width - len(r)) for r in rows[1:]]
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.column_names, [list(d.values()) for d in table.to_pylist()]

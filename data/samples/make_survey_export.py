"""Writes `survey_export.csv`: a small made-up survey export, GBK-encoded as Chinese Excel saves CSV.

The comments are written for this sample (not taken from the labeled corpus) and recombined from the
pieces below with a fixed seed, so the file is reproducible: `python data/samples/make_survey_export.py`.
A few rows are deliberately bad (empty, a score typed into the comment column) to show how scoring keeps
them with an `error`.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

OUT = Path(__file__).with_name("survey_export.csv")
ROWS = 200

DEPARTMENTS = ["心内科", "消化内科", "呼吸科", "骨科", "普外科", "妇科", "产科", "儿科", "眼科", "口腔科",
               "皮肤科", "急诊科", "神经内科", "内分泌科", "肾内科", "中医科"]

# Whole comments, as patients write them.
WHOLE = [
    "医生很耐心，把病情和用药讲得很清楚，谢谢！",
    "挂号太难了，早上七点在手机上抢号，一放号就没了",
    "导诊台的工作人员很热情，一路带我到检查室",
    "排队两个多小时，看病五分钟，这效率实在不敢恭维",
    "护士打针技术很好，孩子都没怎么哭",
    "核磁共振要预约到三周以后，能不能想想办法",
    "抽血窗口只开了两个，后面排了几十个人",
    "手术很顺利，主刀医生术后每天都来看，非常感谢",
    "药房取药要排很久，叫号屏幕也看不清",
    "医保结算出错，多扣了我三百多块钱，退费要跑好几趟",
    "病房空调不制冷，晚上热得睡不着",
    "出院后第三天就接到了回访电话，问得很仔细",
    "卫生间没有纸，洗手池也堵了",
    "手机上的报告查询功能很好用，不用再跑一趟",
    "停车太难了，医院门口堵了半个小时",
    "整体满意，希望周末也能多开几个诊室",
    "医生态度冷淡，我问了两句就让我出去",
    "护工对我父亲很照顾，给他擦身翻身都很细致",
    "住院押金要交两万，事先也没人通知",
    "自助机打印不了发票，找工作人员也说不清楚",
    "胃镜检查前的注意事项没有人交代，白白空腹了一上午",
    "复诊的号永远挂不上，只能现场加号",
    "急诊留观区太拥挤，连把椅子都没有",
    "门诊楼的指示牌太乱，找个B超室转了好几圈",
    "没什么意见",
    "很好",
    "一般吧",
]

# Urgent ones: safety, threats, privacy, misconduct, escalation (by the label contract).
URGENT = [
    "护士给我妈挂错了吊瓶，幸好我们自己发现了，到现在没人给个说法",
    "我的检查结果被别的病人家属拍照发到了群里，隐私完全没有保护",
    "麻醉医生暗示要给红包才能安排手术时间",
    "孩子发烧在急诊等了四个小时没人管，最后抽搐了才有医生过来",
    "再不给我处理退费，我就打12345投诉你们",
    "保安对我父亲动手推搡，我已经报警了",
    "术后伤口感染，医生却说是我们自己没护理好，我准备找律师",
    "我母亲在病房里摔倒了半小时都没人发现",
]

# Pieces recombined into more comments: who came, what happened, how the writer feels about it.
WHO = ["", "", "上周带孩子来看病，", "陪老人来复查，", "第一次来贵院，", "做完手术住了一周，", "周末来看急诊，",
       "从外地赶过来，", "老病号了，"]
GOOD = [
    "医生看片子看得很仔细", "做CT的技师很负责", "随访护士提醒我按时吃药", "线上问诊回复很快",
    "检验科出报告比以前快多了", "主任查房时讲得很明白", "康复科的治疗师很专业", "药师把用法用量写在了药盒上",
    "导诊志愿者主动帮忙推轮椅", "病房每天都有人打扫，很干净",
]
BAD_EXPERIENCE = [
    "挂号的时候系统一直显示繁忙", "候诊区叫号顺序乱了", "护士站晚上按铃没人应", "药房少给了一盒药",
    "缴费窗口只开了一个", "病房里的热水器坏了好几天", "电梯总是满员，等了十几分钟", "出院手续办了一整天",
    "食堂饭菜又贵又难吃", "预约的时间到了还要再等一个小时", "分诊护士让我去错了诊室", "住院部夜里走廊太吵",
    "医保卡在自助机上刷不了", "检查单上的名字打错了，又重新排队改", "医生开了一堆检查却不解释为什么",
]
GOOD_END = ["，很满意。", "，点赞！", "，辛苦了，谢谢。", "，值得表扬。", "。"]
BAD_END = ["，希望改进。", "，真的很失望。", "，请尽快解决。", "，体验很差。", "。", "，下次不想再来了。"]
BAD = ["", "  ", "5", "10分", "无"]


def comments(rng: random.Random) -> list[str]:
    composed = [w + g + e for w in WHO for g in GOOD for e in GOOD_END]
    composed += [w + b + e for w in WHO for b in BAD_EXPERIENCE for e in BAD_END]
    out = WHOLE + URGENT + rng.sample(composed, ROWS - len(WHOLE) - len(URGENT) - len(BAD))
    rng.shuffle(out)
    for text in BAD:  # spread through the file
        out.insert(rng.randrange(len(out)), text)
    return out


def main() -> None:
    rng = random.Random(20240501)
    start = dt.date(2024, 4, 1)
    with open(OUT, "w", encoding="gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["序号", "科室", "就诊日期", "意见"])
        for i, text in enumerate(comments(rng), start=1):
            day = start + dt.timedelta(days=rng.randrange(30))
            writer.writerow([i, rng.choice(DEPARTMENTS), day.isoformat(), text])
    print(f"wrote {OUT} ({ROWS} rows, GBK)")


if __name__ == "__main__":
    main()

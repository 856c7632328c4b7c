"""Masking of personal identifiers in text: phone numbers, 身份证号, record numbers, e-mail, WeChat and QQ ids,
names of people and street addresses.

Detection runs on a normalised copy of the text (NFKC, so full-width digits read as digits; zero-width characters
dropped; a few traditional characters folded to simplified), and every match is mapped back onto the original, so
the unmasked parts of the result are the original characters. Numbers keep a few characters so a person can match
a record (138****5678, 110***********3X, 住院号：******34); names become [姓名] (a title after a surname stays:
[姓名]医生), addresses lose their street and house detail to [地址] (province, city and district stay).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass

NAME_MARK = "[姓名]"
ADDRESS_MARK = "[地址]"

_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
# traditional forms of the characters the patterns and the name rules look at; one character to one, so offsets hold
_FOLD = str.maketrans(
    "號證醫護診處門歷檔編碼電話區縣鎮鄉園棟樓單層師長紀錄聯繫係郵箱館廣場灣環橋衛莊東義"
    "陳劉張楊黃趙吳孫馬鄭謝韓馮鄧許蔣葉蘇盧魯羅錢龔顧賀嚴龍陸湯賈閆蕭鍾鐘譚閻聶龐鄒賴溫韋歐陽萬藍駱喬鄔應費華"
    "偉強國軍麗蘭鳳紅雲傑濤輝鵬靜潔穎瑩嬌寶銘愛劍鋒榮興運銳飛詩儀慶進華曉聰夢樂"
    "這個時間為沒來對還會讓給點開從與關藥療檢驗報錯傷總體資說們態謝問題應該姓氣幾後員兒媽爺孫",
    "号证医护诊处门历档编码电话区县镇乡园栋楼单层师长纪录联系系邮箱馆广场湾环桥卫庄东义"
    "陈刘张杨黄赵吴孙马郑谢韩冯邓许蒋叶苏卢鲁罗钱龚顾贺严龙陆汤贾闫萧钟钟谭阎聂庞邹赖温韦欧阳万蓝骆乔邬应费华"
    "伟强国军丽兰凤红云杰涛辉鹏静洁颖莹娇宝铭爱剑锋荣兴运锐飞诗仪庆进华晓聪梦乐"
    "这个时间为没来对还会让给点开从与关药疗检验报错伤总体资说们态谢问题应该姓气几后员儿妈爷孙",
)


def _normalise(text: str) -> tuple[str, list[int]]:
    """The text to match on, and for each of its characters the index of the original character it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch in _ZERO_WIDTH:
            continue
        if ch.isascii():
            chars.append(ch)
            origin.append(i)
            continue
        for out in unicodedata.normalize("NFKC", ch).translate(_FOLD):
            chars.append(out)
            origin.append(i)
    return "".join(chars), origin


# ---- numbers and ids ---------------------------------------------------------------------------------------------
_SEP = r"[ \t-]?"
_MOBILE = re.compile(r"(?<![\dA-Za-z])(?:\(?\+?86\)?[ \t-]?)?1" + _SEP + r"[3-9](?:" + _SEP + r"\d){9}(?!\d)")
_LANDLINE = re.compile(r"(?<![\dA-Za-z])(0\d{2,3})[ -]?[2-9]\d{2,3}[ -]?\d{4}(?!\d)")
def _spaced(*atoms: str) -> str:
    return _SEP.join(atoms)


# 18-digit resident id (birth date inside, last may be X), written in any grouping; or the old 15-digit form
_D = r"\d"
_ID_CARD = re.compile(
    r"(?<![\dA-Za-z])" + _spaced("[1-8]", _D, _D, _D, _D, _D)
    + _SEP + "(?:" + _spaced("1", "[89]") + "|" + _spaced("2", "0") + ")" + _SEP + _spaced(_D, _D)
    + _SEP + "(?:" + _spaced("0", "[1-9]") + "|" + _spaced("1", "[0-2]") + ")"
    + _SEP + "(?:" + _spaced("0", "[1-9]") + "|" + _spaced("[12]", _D) + "|" + _spaced("3", "[01]") + ")"
    + _SEP + _spaced(_D, _D, _D, r"[\dXx]") + r"(?![\dA-Za-z])"
    r"|(?<![\dA-Za-z])[1-8]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![\dA-Za-z])")
# a record number is recognised by the words that announce it; the value must hold a digit
_RECORD = re.compile(
    r"(?:(?:病历|病案|住院|门诊|急诊|就诊|诊疗|医保|社保|健康|挂号|登记|检查|检验|化验|处方|患者|病人|报告)"
    r"(?:单|卡)?(?:编号|号码|流水号|ID号|ID|id|号|码)|身份证(?:号码|号)?|ID号|流水号|编号|卡号|MRN|mrn)"
    r"\s*(?:是|为)?\s*[:：#]?\s*(?P<value>[A-Za-z]{0,4}-?\d[\dA-Za-z-]{3,}(?<!-))")
_EMAIL = re.compile(r"(?<![A-Za-z0-9.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_WECHAT = re.compile(
    r"(?:微信|威信|(?<![A-Za-z])(?:[Vv][Xx]|[Ww][Xx]|[Vv]信|weixin|wechat|WeChat))\s*(?:号码|号|ID|id)?\s*(?:是|为)?\s*"
    r"[:：]?\s*(?P<value>[A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])")
_QQ = re.compile(r"(?:扣扣|企鹅号|(?<![A-Za-z])[Qq][Qq])\s*(?:号码|号)?\s*(?:是|为)?\s*[:：]?\s*(?P<value>[1-9]\d{4,10})(?!\d)")

# ---- addresses ---------------------------------------------------------------------------------------------------
_NUM = r"[0-9一二三四五六七八九十百零〇两]"
# a place name stops at words that only come before it (我住在, 家在, 地址是) and at the district above it
_PLACE = r"[^\W\d_a-zA-Z住在是的到我你他她家于从去址及和与省市区县镇乡]{1,7}"
_HOUSE = (r"(?:" + _NUM + r"+(?:号楼|号院|栋|幢|座|期|区|排)" + r"|" + _NUM + r"+单元|" + _NUM + r"+(?:层|楼)|"
          + _NUM + r"+(?:室|户|号)|\d{3,4}(?![\d元块岁天次床]))")
_STREET = re.compile(
    _PLACE + r"(?:大街|大道|街道|路|街|巷|胡同|弄|里)(?:" + _NUM + r"+段)?" + _NUM + r"+(?:号|弄|巷)" + r"(?:[-之附]?(?:院|" + _HOUSE + r"))*")
_ESTATE = re.compile(
    _PLACE + r"(?:小区|花园|家园|公寓|新村|华庭|大厦|社区|广场|园|苑|府|庭|湾|郡|居|城)(?:[-之]?" + _HOUSE + r")+"
    r"|(?<![0-9A-Za-z])" + _NUM + r"+(?:号楼|栋|幢)" + _NUM + r"+单元(?:" + _NUM + r"+(?:室|号|层|楼)?)?")

# ---- names -------------------------------------------------------------------------------------------------------
_SURNAMES_2 = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "令狐", "司徒", "夏侯", "尉迟", "公孙", "长孙",
               "宇文", "端木", "西门", "南宫", "独孤")
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康"
    "施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏"
    "席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝赖黎")
# words that follow a surname to name a person by role; the title stays, the surname is masked
_TITLES = frozenset({
    "医生", "医师", "大夫", "护士", "护士长", "护师", "主任", "副主任", "主任医师", "副主任医师", "主治医师", "主治医生",
    "院长", "副院长", "教授", "副教授", "先生", "女士", "小姐", "阿姨", "师傅", "老师", "药师", "技师", "科长", "主管",
    "大姐", "姐姐", "大哥", "叔叔", "大爷", "大妈", "奶奶", "爷爷", "老人", "老太太", "老先生", "同志", "总",
})
_TITLES_LONGEST_FIRST = sorted(_TITLES, key=len, reverse=True)
# words after which the next surname-led word is a person's name
_CUES = frozenset({"患者", "病人", "病号", "家属", "叫", "名叫", "叫做", "姓名", "名字", "本人", "老伴", "丈夫", "妻子",
                   "儿子", "女儿", "父亲", "母亲", "爸爸", "妈妈", "爷爷", "奶奶", "外婆", "外公", "联系人", "签字"})
_CUE_GAP = frozenset({"：", ":", "是", "叫", "为", " ", "、"})
# characters that do not occur in given names: the tagger's "names" that contain one are ordinary words
_NOT_IN_NAMES = frozenset("的了是在不有个么吗呢吧啊说也都就还很能时这那要会可以到去来着过给把被让和与及或但而您你我他她们几哪啥什怎谁昨没"
                          "号床科室区楼层元块钱年日点分秒次岁病药费医护院诊疗查检治疼痛好坏差多少大小")
# a word the dictionary knows this well is an ordinary word even when the tagger calls it a name (谢谢, 安静, 文明)
_COMMON_WORD_FREQ = 20
_FUNCTION_TAGS = frozenset({"p", "c", "u", "uj", "ul", "uz", "ug", "uv", "ud", "y", "e", "o", "x"})
# surnames that are far more often adverbs (常去, 白跑): as an adverb they are not a name
_ADVERB_SURNAMES = frozenset("常白单都还")
_NAME_TAGS = frozenset({"nr", "nrfg", "nrt"})
_HAN = re.compile(r"[\u4e00-\u9fff]")

_tagger = None
_tagger_lock = threading.RLock()
_loading = threading.local()


def _load_tagger():
    """jieba's part-of-speech tagger, loaded once on first use: loading its dictionary takes about half a second.
    None while this thread is loading it: a log line the loader writes is masked without names, not deadlocked."""
    global _tagger
    if _tagger is None:
        with _tagger_lock:
            if _tagger is None:
                if getattr(_loading, "active", False):
                    return None
                _loading.active = True
                try:
                    import jieba
                    import jieba.posseg

                    jieba.setLogLevel(logging.WARNING)
                    jieba.posseg.dt.initialize()
                    _tagger = jieba.posseg.dt
                finally:
                    _loading.active = False
    return _tagger


@dataclass(frozen=True)
class PiiSpan:
    """One identifier found in a text: [start, end) in the original text, its kind, and what replaces it."""
    start: int
    end: int
    kind: str
    replacement: str


def _keep(core: str, head: int, tail: int) -> str:
    hidden = max(len(core) - head - tail, 2)
    return core[:head] + "*" * hidden + (core[-tail:] if tail else "")


def _digits(s: str) -> str:
    return re.sub(r"[^\dXx]", "", s)


def _render_mobile(s: str) -> str:
    d = _digits(s)[-11:]
    return d[:3] + "****" + d[-4:]


def _render_landline(m: re.Match) -> str:
    return m.group(1) + "-****" + _digits(m.group(0))[-2:]


def _render_email(s: str) -> str:
    local, _, domain = s.partition("@")
    return local[0] + "***@" + domain


def _number_spans(norm: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, replacement) in normalised coordinates, most specific detectors first."""
    found: list[tuple[int, int, str, str]] = []
    for m in _EMAIL.finditer(norm):
        found.append((m.start(), m.end(), "email", _render_email(m.group(0))))
    for m in _ID_CARD.finditer(norm):
        found.append((m.start(), m.end(), "id_card", _keep(_digits(m.group(0)), 3, 2)))
    for kind, pattern in (("wechat", _WECHAT), ("qq", _QQ), ("record", _RECORD)):
        for m in pattern.finditer(norm):
            value = m.group("value")
            if kind == "record" and len(_digits(value)) == 11 and _MOBILE.fullmatch(value):
                continue  # a phone number after 号码: the phone rule keeps its usual form
            keep = (2, 0) if kind == "wechat" else (0, 2)
            found.append((m.start("value"), m.end("value"), kind, _keep(value, *keep)))
    for m in _MOBILE.finditer(norm):
        found.append((m.start(), m.end(), "phone", _render_mobile(m.group(0))))
    for m in _LANDLINE.finditer(norm):
        found.append((m.start(), m.end(), "phone", _render_landline(m)))
    for pattern in (_STREET, _ESTATE):
        for m in pattern.finditer(norm):
            found.append((m.start(), m.end(), "address", ADDRESS_MARK))
    return found


def _is_given_name(s: str) -> bool:
    return 1 <= len(s) <= 2 and all(_HAN.match(c) and c not in _NOT_IN_NAMES for c in s)


def _may_be_name(word: str, flag: str) -> bool:
    return flag not in _FUNCTION_TAGS and not (flag == "d" and word in _ADVERB_SURNAMES)


def _surname_len(word: str) -> int:
    if word[:2] in _SURNAMES_2:
        return 2
    return 1 if word[:1] in _SURNAMES else 0


def _tokens(tagger, norm: str) -> list[tuple[int, str, str]]:
    """(offset, word, tag) of `norm`. The tagger's HMM, which finds names its dictionary lacks, costs ten times the
    dictionary pass; it only ever reads runs of single characters, so only runs that hold a surname get it."""
    plain = [(pair.word, pair.flag) for pair in tagger.cut(norm, HMM=False)]
    out: list[tuple[int, str, str]] = []
    at = 0
    i = 0
    while i < len(plain):
        j = i
        while j < len(plain) and len(plain[j][0]) == 1 and _HAN.match(plain[j][0]):
            j += 1
        run = "".join(w for w, _ in plain[i:j])
        if j - i >= 2 and any(c in _SURNAMES for c in run):
            for pair in tagger.cut(run):
                out.append((at, pair.word, pair.flag))
                at += len(pair.word)
            i = j
            continue
        word, flag = plain[i]
        out.append((at, word, flag))
        at += len(word)
        i += 1
    return out


def _name_spans(norm: str) -> list[tuple[int, int, str, str]]:
    tagger = _load_tagger()
    if tagger is None:
        return []
    tokens = _tokens(tagger, norm)
    freq = tagger.tokenizer.FREQ
    found: list[tuple[int, int, str, str]] = []

    def common(word: str) -> bool:
        return freq.get(word, 0) > _COMMON_WORD_FREQ

    def add(start: int, end: int) -> None:
        found.append((start, end, "name", NAME_MARK))

    def after_cue(i: int) -> bool:
        if i >= 1 and tokens[i - 1][1] in _CUES:
            return True
        return i >= 2 and tokens[i - 1][1] in _CUE_GAP and tokens[i - 2][1] in _CUES

    for i, (start, word, flag) in enumerate(tokens):
        prev = tokens[i - 1] if i else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        cued = after_cue(i)
        if word in _TITLES:
            if prev is None:
                continue
            # 王/护士, 欧阳/医生, 黄/淑芬/女士, 小/李/护士: the surname (and given name) before a title
            p_start, p_word, p_flag = prev
            n = _surname_len(p_word)
            if n and _may_be_name(p_word, p_flag) and (len(p_word) == n or (
                    _is_given_name(p_word[n:]) and (len(p_word) == n + 2 or not common(p_word)))):
                add(p_start, p_start + len(p_word))
            elif i >= 2 and p_flag in _NAME_TAGS | {"ns", "nz", "ng", "n"} and _is_given_name(p_word) \
                    and _surname_len(tokens[i - 2][1]) == len(tokens[i - 2][1]) \
                    and _may_be_name(tokens[i - 2][1], tokens[i - 2][2]):
                add(tokens[i - 2][0], p_start + len(p_word))
            elif len(p_word) >= 2 and p_word[-1] in _SURNAMES and p_word not in freq:
                add(p_start + len(p_word) - 1, p_start + len(p_word))  # 转夏/主任: the tagger glued a verb on
            continue
        n = _surname_len(word)
        if not n or not _may_be_name(word, flag):
            continue
        rest = word[n:]
        if prev is not None and prev[1] == "姓" and not rest:  # 我姓万
            add(start, start + n)
            continue
        if flag in _NAME_TAGS and rest:
            title = next((t for t in _TITLES_LONGEST_FIRST if rest.endswith(t)), None)
            if title is not None:  # 李医生, 孙先生, 王师傅 as one word
                given = rest[: len(rest) - len(title)]
                if not given or _is_given_name(given):
                    add(start, start + n + len(given))
            elif _is_given_name(rest) and (cued or not common(word)):
                add(start, start + len(word))
            continue
        if not rest and nxt is not None and nxt[1] not in _TITLES and _is_given_name(nxt[1]) and not common(word + nxt[1]) and (
                cued or nxt[2] in _NAME_TAGS | {"nz"} or not common(nxt[1])):
            add(start, start + n + len(nxt[1]))  # 冯/建华, 金/美玲: surname and given name cut apart
            continue
        if cued and (nxt is None or nxt[1] not in _TITLES):  # 叫/方志/勇: after 叫, 患者, 联系人 the next two or three characters are a name
            tail = norm[start + n:start + n + 2]
            given = tail if _is_given_name(tail) else tail[:1]
            if _is_given_name(given) and not common(norm[start:start + n + len(given)]):
                add(start, start + n + len(given))
    return found


def find_pii(text: str) -> list[PiiSpan]:
    """The identifiers in `text`, in order, none overlapping; offsets are into `text` itself."""
    if not text:
        return []
    norm, origin = _normalise(text)
    found = _number_spans(norm)
    if _HAN.search(norm) and any(c in _SURNAMES for c in norm):
        found += _name_spans(norm)
    taken: list[tuple[int, int]] = []
    spans: list[PiiSpan] = []
    # earlier detectors win an overlap: an e-mail's local part is not also a phone number
    for start, end, kind, replacement in found:
        if start >= end or any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        spans.append(PiiSpan(origin[start], origin[end - 1] + 1, kind, replacement))
    return sorted(spans, key=lambda s: s.start)


def apply_spans(text: str, spans: list[PiiSpan]) -> str:
    out: list[str] = []
    at = 0
    for span in spans:
        out.append(text[at:span.start])
        out.append(span.replacement)
        at = span.end
    out.append(text[at:])
    return "".join(out)


def mask_pii(text: str) -> str:
    """The text with identifiers replaced, keeping a few characters of numbers so a person can match a record."""
    if not text:
        return text
    return apply_spans(text, find_pii(text))


def hash_patient_ref(ref: str, salt: str) -> str:
    """A keyed hash: the same patient links up across comments, the reference itself is never stored."""
    return hmac.new(salt.encode(), ref.strip().encode(), hashlib.sha256).hexdigest()

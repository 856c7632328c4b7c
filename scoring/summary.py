"""The end-of-run summary, kept as counters chunk by chunk so that memory stays bounded.

Its state is saved with each commit, so a resumed run reports the same summary as an uninterrupted one.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pvoice.scoring.engine import LIST_SEP

EXCERPT_CHARS = 60
TOP_KEYWORDS = 10
# Word counts per touchpoint are pruned to the most frequent PRUNE_TO when they pass PRUNE_AT entries. Rare
# words are the ones dropped, so the top keywords of a large file are those of the exact count in practice.
PRUNE_AT, PRUNE_TO = 20_000, 5_000
# Words that say nothing about what went wrong, on top of jieba's own stop words.
DOMAIN_STOP_WORDS = frozenset(
    "医院 我们 你们 他们 她们 自己 什么 怎么 这么 那么 这个 那个 这样 那样 还是 就是 但是 因为 所以 而且 然后 "
    "已经 一个 一下 一直 没有 不是 可以 还有 时候 现在 今天 昨天 明天 觉得 感觉 真的 非常 特别 比较 有点 希望 "
    "建议 问题 情况 医生 护士 患者 病人 家属 我妈 我爸 孩子 老人".split())
_WORD = re.compile(r"\w{2,}")


def _excerpt(text: Any) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= EXCERPT_CHARS else s[:EXCERPT_CHARS - 1] + "…"


class Keywords:
    """jieba words of negative comments per touchpoint, ranked by count × jieba's IDF."""

    def __init__(self):
        import jieba
        import jieba.analyse

        jieba.setLogLevel(logging.WARNING)
        self._cut = jieba.lcut
        tfidf = jieba.analyse.default_tfidf
        self._idf, self._median_idf = tfidf.idf_freq, tfidf.median_idf
        self._stop = set(tfidf.stop_words) | DOMAIN_STOP_WORDS

    def words(self, text: str) -> list[str]:
        return [w for w in self._cut(text) if _WORD.fullmatch(w) and not w.isdigit() and w.lower() not in self._stop]

    def top(self, counts: Counter, n: int = TOP_KEYWORDS) -> list[str]:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1] * self._idf.get(kv[0], self._median_idf), kv[0]))
        return [w for w, _ in ranked[:n]]


class Summary:
    def __init__(self, touchpoints: Sequence[str], sentiments: Sequence[str], urgent_cap: int,
                 names: dict[str, str] | None = None):
        self.touchpoints, self.sentiments, self.urgent_cap = list(touchpoints), list(sentiments), urgent_cap
        self.names = names or {}
        self.rows = 0
        self.blank_rows = 0
        self.matrix: dict[str, Counter] = {t: Counter() for t in self.touchpoints}
        self.sentiment: Counter = Counter()
        self.urgency: Counter = Counter()
        self.errors: Counter = Counter()
        self.urgent: list[dict] = []
        self.urgent_total = 0
        self.words: dict[str, Counter] = {t: Counter() for t in self.touchpoints}
        self._keywords: Keywords | None = None

    # ---- counting ----------------------------------------------------------------------------
    def add(self, row_number: int, text: Any, values: dict[str, Any]) -> None:
        self.rows += 1
        if values["error"]:
            self.errors[values["error"]] += 1
            return
        self.sentiment[values["sentiment"]] += 1
        self.urgency[values["urgency"]] += 1
        tps = values["touchpoints"].split(LIST_SEP)
        negative = []
        for t in tps:
            polarity = values.get(f"aspect_{t}")
            self.matrix.setdefault(t, Counter())[polarity] += 1
            if polarity == "negative":
                negative.append(t)
        if negative:
            self._count_words(text, negative)
        if values["urgency"] == "urgent":
            self.urgent_total += 1
            if len(self.urgent) < self.urgent_cap:
                self.urgent.append({"row": row_number, "reasons": values["urgent_reasons"], "touchpoints": tps,
                                    "text": _excerpt(text)})

    def _count_words(self, text: str, touchpoints: list[str]) -> None:
        if self._keywords is None:
            self._keywords = Keywords()
        words = self._keywords.words(text)
        for t in touchpoints:
            counts = self.words.setdefault(t, Counter())
            counts.update(words)
            if len(counts) > PRUNE_AT:
                self.words[t] = Counter(dict(counts.most_common(PRUNE_TO)))

    # ---- persistence (saved with each commit) ------------------------------------------------
    def state(self) -> dict:
        return {"rows": self.rows, "blank_rows": self.blank_rows,
                "matrix": {t: dict(c) for t, c in self.matrix.items()}, "sentiment": dict(self.sentiment),
                "urgency": dict(self.urgency), "errors": dict(self.errors), "urgent": self.urgent,
                "urgent_total": self.urgent_total, "words": {t: dict(c) for t, c in self.words.items()}}

    def load_state(self, state: dict) -> None:
        self.rows, self.blank_rows = state["rows"], state["blank_rows"]
        self.matrix = {t: Counter(c) for t, c in state["matrix"].items()}
        self.sentiment, self.urgency = Counter(state["sentiment"]), Counter(state["urgency"])
        self.errors, self.urgent = Counter(state["errors"]), list(state["urgent"])
        self.urgent_total = state["urgent_total"]
        self.words = {t: Counter(c) for t, c in state["words"].items()}

    # ---- reading -----------------------------------------------------------------------------
    def keywords(self, touchpoint: str) -> list[str]:
        counts = self.words.get(touchpoint)
        if not counts:
            return []
        if self._keywords is None:
            self._keywords = Keywords()
        return self._keywords.top(counts)

    def label(self, label_id: str) -> str:
        name = self.names.get(label_id)
        return f"{label_id} {name}" if name else label_id

    def render(self, urgent_limit: int | None = None, header: str = "") -> str:
        """Markdown: readable in a terminal and as a file."""
        parts = [header] if header else []
        parts += [self._overview(), self._matrix_table(), self._urgent_table(urgent_limit), self._keyword_table(),
                  self._error_table()]
        return "\n\n".join(p for p in parts if p) + "\n"

    def _overview(self) -> str:
        scored = self.rows - sum(self.errors.values())
        lines = [f"- rows: {self.rows:,} ({scored:,} scored, {sum(self.errors.values()):,} not scored"
                 + (f"; {self.blank_rows:,} blank lines skipped" if self.blank_rows else "") + ")"]
        if scored:
            lines.append("- sentiment: " + ", ".join(f"{self.label(s)} {self.sentiment[s]:,}" for s in self.sentiments))
            lines.append("- urgency: " + ", ".join(f"{self.label(u)} {n:,}" for u, n in self.urgency.most_common()))
        return "\n".join(lines)

    def _matrix_table(self) -> str:
        rows = [(t, c) for t, c in self.matrix.items() if sum(c.values())]
        if not rows:
            return ""
        head = "| touchpoint | " + " | ".join(self.sentiments) + " | total |"
        lines = ["## Touchpoints × sentiment",
                 "Rows naming each touchpoint, by the sentiment expressed about that touchpoint.", "",
                 head, "|" + " --- |" * (len(self.sentiments) + 2)]
        for t, c in sorted(rows, key=lambda tc: -sum(tc[1].values())):
            cells = " | ".join(f"{c[s]:,}" for s in self.sentiments)
            lines.append(f"| {self.label(t)} | {cells} | {sum(c.values()):,} |")
        return "\n".join(lines)

    def _urgent_table(self, limit: int | None) -> str:
        if not self.urgent_total:
            return "## Urgent rows\nNone."
        shown = self.urgent if limit is None else self.urgent[:limit]
        lines = [f"## Urgent rows ({self.urgent_total:,})",
                 "Row numbers count data rows from 1 (the header is not counted).", "",
                 "| row | reasons | touchpoints | text |", "| --- | --- | --- | --- |"]
        for u in shown:
            text = u["text"].replace("|", "\\|")
            lines.append(f"| {u['row']} | {u['reasons']} | {LIST_SEP.join(u['touchpoints'])} | {text} |")
        if self.urgent_total > len(shown):
            lines += ["", f"… and {self.urgent_total - len(shown):,} more: filter the output on urgency = urgent."]
        return "\n".join(lines)

    def _keyword_table(self) -> str:
        rows = [(t, self.keywords(t)) for t in self.matrix if self.matrix[t].get("negative")]
        rows = [(t, kw) for t, kw in rows if kw]
        if not rows:
            return ""
        lines = ["## Top keywords of negative comments",
                 "jieba words of the rows where the touchpoint's sentiment is negative, by count × IDF.", "",
                 "| touchpoint | negative rows | keywords |", "| --- | --- | --- |"]
        for t, kw in sorted(rows, key=lambda r: -self.matrix[r[0]]["negative"]):
            lines.append(f"| {self.label(t)} | {self.matrix[t]['negative']:,} | {'、'.join(kw)} |")
        return "\n".join(lines)

    def _error_table(self) -> str:
        if not self.errors:
            return ""
        lines = ["## Rows not scored", "Kept in the output with the code in its `error` column.", "",
                 "| error | rows |", "| --- | --- |"]
        lines += [f"| {code} | {n:,} |" for code, n in self.errors.most_common()]
        return "\n".join(lines)

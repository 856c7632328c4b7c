"""`pvoice data check`: contract validation, label counts, splits and near-duplicate rate of a corpus, and its
overlap with real-text evaluation sets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pvoice.labels import Taxonomy, load_taxonomy
from pvoice.training.corpus import CorpusRow, RowError, iter_rows
from pvoice.training.data import split_rows
from pvoice.training.real_overlap import real_text_overlaps
from pvoice.training.splits import SPLITS, near_duplicate_pairs, near_duplicate_rate


LENGTH_BANDS = ((0, 20), (20, 40), (40, 80), (80, 200), (200, None))
# Characters written only in traditional script (their simplified forms differ); two or more mark a row.
TRADITIONAL_ONLY = frozenset("醫護藥診檢驗費號預約櫃臺電話樓層門廳廁問題幫給讓錢辦處這們個來說時會對過還麼後術療雙")


def is_traditional(text: str) -> bool:
    return sum(ch in TRADITIONAL_ONLY for ch in text) >= 2


@dataclass(frozen=True)
class CorpusTargets:
    """What the classifier issue asks of corpus v2: size, registers, no length shortcut, minimal pairs."""

    min_rows: int = 12000
    min_per_touchpoint: int = 250
    min_per_reason: int = 80
    urgent_share: tuple[float, float] = (0.05, 0.10)
    max_band_ratio: float = 2.0  # every length band's urgent share within this factor of the overall share
    min_mid_long: int = 2500  # rows of 80-800 characters
    min_traditional_share: float = 0.03
    min_pairs: int = 800
    multi_touchpoint_share: tuple[float, float] = (0.30, 0.45)
    max_augmented_share: float = 0.15
    max_near_duplicate_rate: float = 0.03
    # a real comment's 4-grams found in one corpus row; stock phrases stay under it, a row written from it does not
    max_real_overlap: float = 0.2


@dataclass
class CorpusReport:
    rows: list[CorpusRow]
    errors: list[RowError]
    near_dup_pairs: list[tuple[int, int]]
    taxonomy: Taxonomy
    targets: CorpusTargets = field(default_factory=CorpusTargets)

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def near_dup_rate(self) -> float:
        return near_duplicate_rate(self.n, self.near_dup_pairs)

    def share(self, predicate) -> float:
        return sum(1 for r in self.rows if predicate(r)) / max(1, self.n)

    def counts(self) -> dict[str, Counter]:
        return {
            "touchpoint": Counter(t for r in self.rows for t in r.touchpoints),
            "aspect": Counter(f"{t}:{s}" for r in self.rows for t, s in r.aspects.items()),
            "sentiment": Counter(r.sentiment for r in self.rows),
            "urgency": Counter(r.urgency for r in self.rows),
            "urgent_reason": Counter(x for r in self.rows for x in r.urgent_reasons),
            "channel": Counter(r.channel or "-" for r in self.rows),
            "source": Counter(r.source for r in self.rows),
        }

    def length_bands(self) -> list[tuple[str, int, float]]:
        """(band, rows, urgent share) per length band."""
        out = []
        for lo, hi in LENGTH_BANDS:
            band = [r for r in self.rows if len(r.text) >= lo and (hi is None or len(r.text) < hi)]
            share = sum(r.urgency == "urgent" for r in band) / max(1, len(band))
            out.append((f"{lo}-{hi or ''}", len(band), share))
        return out

    def pairs(self) -> int:
        """Minimal pairs: tags shared by an urgent row and a non-urgent one."""
        groups: dict[str, set[bool]] = {}
        for r in self.rows:
            if r.pair:
                groups.setdefault(r.pair, set()).add(r.urgency == "urgent")
        return sum(1 for sides in groups.values() if sides == {True, False})

    def _band_ratio(self, overall: float) -> float:
        ratios = [max(s / overall, overall / s) if s else float("inf") for _, n, s in self.length_bands() if n]
        return max(ratios, default=1.0) if overall else 1.0

    def minimums(self) -> list[tuple[str, bool, str]]:
        """(name, met, measured) for each target."""
        t, c = self.targets, self.counts()
        urgent = self.share(lambda r: r.urgency == "urgent")
        ratio = self._band_ratio(urgent)
        mid_long = sum(1 for r in self.rows if 80 <= len(r.text) <= 800)
        traditional = self.share(lambda r: is_traditional(r.text))
        low_tp = {k: c["touchpoint"][k] for k in self.taxonomy.touchpoint_ids}
        low_rs = {k: c["urgent_reason"][k] for k in self.taxonomy.reason_ids}
        multi = self.share(lambda r: len(r.touchpoints) >= 2)
        aug = self.share(lambda r: r.source == "augmented")
        return [
            (f"rows >= {t.min_rows}", self.n >= t.min_rows, str(self.n)),
            (f"every touchpoint >= {t.min_per_touchpoint}", min(low_tp.values()) >= t.min_per_touchpoint,
             f"min {min(low_tp, key=low_tp.get)}={min(low_tp.values())}"),
            (f"every urgent reason >= {t.min_per_reason}", min(low_rs.values()) >= t.min_per_reason,
             f"min {min(low_rs, key=low_rs.get)}={min(low_rs.values())}"),
            (f"urgent {t.urgent_share[0]:.0%}-{t.urgent_share[1]:.0%}",
             t.urgent_share[0] <= urgent <= t.urgent_share[1], f"{urgent:.1%}"),
            (f"urgent share of every length band within {t.max_band_ratio:g}x", ratio <= t.max_band_ratio,
             f"worst {ratio:.2f}x"),
            (f"rows of 80-800 characters >= {t.min_mid_long}", mid_long >= t.min_mid_long, str(mid_long)),
            (f"traditional characters >= {t.min_traditional_share:.0%}", traditional >= t.min_traditional_share,
             f"{traditional:.1%}"),
            (f"minimal pairs >= {t.min_pairs}", self.pairs() >= t.min_pairs, str(self.pairs())),
            (f"two+ touchpoints {t.multi_touchpoint_share[0]:.0%}-{t.multi_touchpoint_share[1]:.0%}",
             t.multi_touchpoint_share[0] <= multi <= t.multi_touchpoint_share[1], f"{multi:.1%}"),
            (f"augmented <= {t.max_augmented_share:.0%}", aug <= t.max_augmented_share, f"{aug:.1%}"),
            (f"near-duplicate rate <= {t.max_near_duplicate_rate:.0%}",
             self.near_dup_rate <= t.max_near_duplicate_rate, f"{self.near_dup_rate:.2%}"),
        ]


def check_corpus(paths: Iterable[str | Path], tax: Taxonomy | None = None) -> CorpusReport:
    tax = tax or load_taxonomy()
    rows, errors, seen = [], [], {}
    for row, errs in iter_rows(paths, tax):
        errors += errs
        if row is None:
            continue
        if row.id in seen:
            errors.append(RowError(row.file, row.line, "id", f"duplicate id {row.id!r} (first at {seen[row.id]})"))
        seen[row.id] = f"{row.file}:{row.line}"
        rows.append(row)
    pairs = near_duplicate_pairs([r.text for r in rows])
    return CorpusReport(rows=rows, errors=errors, near_dup_pairs=pairs, taxonomy=tax)


def _table(title: str, counter: Counter, order: list[str] | None = None, total: int | None = None) -> list[str]:
    keys = order if order is not None else [k for k, _ in counter.most_common()]
    lines = [title]
    for k in keys:
        share = f"  {counter[k] / total:6.1%}" if total else ""
        lines.append(f"  {k:<28}{counter[k]:>7}{share}")
    return lines


def render_report(report: CorpusReport) -> str:
    tax, c, n = report.taxonomy, report.counts(), report.n
    lines = [f"rows: {n} valid, {len(report.errors)} broken"]
    lines += _table("touchpoints", c["touchpoint"], tax.touchpoint_ids, n)
    lines += _table("sentiment", c["sentiment"], tax.sentiment_ids, n)
    lines += _table("urgency", c["urgency"], tax.urgency_ids, n)
    lines += _table("urgent reasons", c["urgent_reason"], tax.reason_ids, n)
    lines += _table("aspect sentiment", c["aspect"],
                    [f"{t}:{s}" for t in tax.touchpoint_ids for s in tax.sentiment_ids])
    lines += _table("channel", c["channel"], None, n)
    lines += _table("source", c["source"], None, n)
    if report.rows:
        splits = split_rows(report.rows)
        lines.append("splits")
        for name in SPLITS:
            part = splits[name]
            urgent = sum(r.urgency == "urgent" for r in part)
            lines.append(f"  {name:<28}{len(part):>7}  {len(part) / n:6.1%}  urgent {urgent}")
    lines.append(f"near-duplicate rate (5-gram Jaccard >= 0.8): {report.near_dup_rate:.2%} "
                 f"({len(report.near_dup_pairs)} pairs)")
    for i, j in report.near_dup_pairs[:10]:
        a, b = report.rows[i], report.rows[j]
        lines.append(f"  {a.file}:{a.line} ~ {b.file}:{b.line}")
    lines.append("urgent share by length (characters)")
    lines += [f"  {band:<28}{count:>7}  {share:6.1%}" for band, count, share in report.length_bands()]
    lines.append("minimums")
    for name, met, measured in report.minimums():
        lines.append(f"  [{'ok' if met else 'NO'}] {name:<34} {measured}")
    return "\n".join(lines)


def render_real_overlap(report: CorpusReport, name: str, real_rows: list[CorpusRow], shown: int = 5) -> tuple[str, float]:
    """The real comments a corpus row repeats most of, and the highest share."""
    overlaps = real_text_overlaps([r.text for r in report.rows], [r.text for r in real_rows])
    highest = overlaps[0].share if overlaps else 0.0
    lines = [f"overlap with {name} ({len(real_rows)} real comments; character 4-grams found in one corpus row): "
             f"highest {highest:.3f}, limit {report.targets.max_real_overlap}"]
    for o in overlaps[:shown]:
        if o.corpus_index >= 0:
            row = report.rows[o.corpus_index]
            lines.append(f"  {o.share:.3f}  {real_rows[o.real_index].id} ~ {row.file}:{row.line}")
    return "\n".join(lines), highest

"""Recall, precision and cost of `mask_pii` on the labeled snippets in tests/data/pii_snippets.jsonl.

Usage: python bench/pii_masking.py [--data PATH] [--min-recall 0.95] [--min-precision 0.90] [--show-misses]

Each row holds a `text` and its labeled PII `spans` ({start, end, kind}, offsets into the text). What is
compared is what `find_pii` reports, the spans that `mask_pii` replaces (the replacement of a number keeps a few
of its characters by design, like 138****5678; the span is still the whole number).

Matching, on a span's core characters (those that are not spaces, dashes or zero-width characters):
- a labeled span is caught when at least 90% of its core characters lie inside masked spans;
- a masked span is correct when at least half of its core characters lie inside labeled spans (of any kind).
Recall is caught / labeled spans, per labeled kind and overall; precision is correct / masked spans, per masked
kind and overall. Character recall (share of labeled core characters masked) is printed beside it.
Cost: milliseconds per call on 1,000-character comment texts, after the tagger has loaded (its load is timed
on its own). Exits 1 when overall recall or precision is under its threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from pvoice.serving.masking import apply_spans, find_pii, mask_pii

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pii_snippets.jsonl"
CAUGHT_SHARE = 0.9
CORRECT_SHARE = 0.5
_NOT_CORE = set(" \t-\u200b\u200c\u200d\u2060\ufeff")


def load_rows(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _core(text: str, start: int, end: int) -> list[int]:
    return [i for i in range(start, end) if text[i] not in _NOT_CORE]


def measure(rows: list[dict]) -> dict:
    labeled, caught, masked, correct = Counter(), Counter(), Counter(), Counter()
    chars_labeled = chars_hidden = 0
    misses, false_hits = [], []
    for row in rows:
        text = row["text"]
        found = find_pii(text)
        assert apply_spans(text, found) == mask_pii(text)
        hidden = {i for s in found for i in range(s.start, s.end)}
        gold = {i for s in row["spans"] for i in range(s["start"], s["end"])}
        for span in row["spans"]:
            core = _core(text, span["start"], span["end"])
            covered = sum(i in hidden for i in core)
            labeled[span["kind"]] += 1
            chars_labeled += len(core)
            chars_hidden += covered
            if covered >= CAUGHT_SHARE * len(core):
                caught[span["kind"]] += 1
            else:
                misses.append((span["kind"], text, text[span["start"]:span["end"]], mask_pii(text)))
        for span in found:
            core = _core(text, span.start, span.end)
            masked[span.kind] += 1
            if core and sum(i in gold for i in core) >= CORRECT_SHARE * len(core):
                correct[span.kind] += 1
            else:
                false_hits.append((span.kind, text, text[span.start:span.end]))
    total_labeled, total_masked = sum(labeled.values()), sum(masked.values())
    return {
        "rows": len(rows), "negative_rows": sum(not r["spans"] for r in rows),
        "recall": sum(caught.values()) / total_labeled if total_labeled else 1.0,
        "precision": sum(correct.values()) / total_masked if total_masked else 1.0,
        "char_recall": chars_hidden / chars_labeled if chars_labeled else 1.0,
        "recall_by_kind": {k: (caught[k], labeled[k]) for k in sorted(labeled)},
        "precision_by_kind": {k: (correct[k], masked[k]) for k in sorted(masked)},
        "misses": misses, "false_hits": false_hits,
    }


def cost_ms_per_1000_chars(rows: list[dict], repeats: int = 20) -> tuple[float, float]:
    """(first call, including the tagger's load; then ms per call on a 1,000-character text)."""
    started = time.perf_counter()
    mask_pii("患者王建国，电话13812345678")
    first = (time.perf_counter() - started) * 1000
    joined = "，".join(r["text"] for r in rows)
    texts = [joined[i:i + 1000] for i in range(0, len(joined) - 1000, 1000)] or [joined]
    started = time.perf_counter()
    for _ in range(repeats):
        for text in texts:
            mask_pii(text)
    return first, (time.perf_counter() - started) * 1000 / (repeats * len(texts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--min-recall", type=float, default=0.95)
    parser.add_argument("--min-precision", type=float, default=0.90)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    rows = load_rows(args.data)
    first, per_call = cost_ms_per_1000_chars(rows)
    result = measure(rows)
    print(f"{result['rows']} snippets ({result['negative_rows']} with no PII)\n")
    print("| kind | recall | precision |\n|---|---|---|")
    for kind in sorted(set(result["recall_by_kind"]) | set(result["precision_by_kind"])):
        c, n = result["recall_by_kind"].get(kind, (0, 0))
        ok, m = result["precision_by_kind"].get(kind, (0, 0))
        print(f"| {kind} | {c}/{n} = {c / n if n else 1:.3f} | {ok}/{m} = {ok / m if m else 1:.3f} |")
    print(f"| **all** | {result['recall']:.3f} | {result['precision']:.3f} |\n")
    print(f"character recall {result['char_recall']:.3f}")
    print(f"cost: first call {first:.0f} ms (loads the name tagger), then {per_call:.2f} ms per 1,000-char text")
    if args.show_misses:
        for kind, text, span, out in result["misses"]:
            print(f"MISS {kind}: {span!r} in {text!r} -> {out!r}")
        for kind, text, span in result["false_hits"]:
            print(f"FALSE {kind}: {span!r} in {text!r}")
    ok = result["recall"] >= args.min_recall and result["precision"] >= args.min_precision
    if not ok:
        print(f"FAIL: recall {result['recall']:.3f} (min {args.min_recall}), precision {result['precision']:.3f} "
              f"(min {args.min_precision})", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

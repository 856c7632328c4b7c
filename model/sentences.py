"""Sentences of a comment: the unit that urgency is scored on.

A comment is urgent only when one of its sentences carries an urgent reason, so a long, calm story cannot
become urgent by its length alone; the sentence that pages is also the evidence shown to staff."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

# sentence ends: Chinese and Western full stops, question and exclamation marks, semicolons, line breaks
_END = re.compile(r"[。！？!?；;\n…]+|(?<=[^0-9])\.(?=\s|$)")
_CLAUSE = re.compile(r"[，,、：:]")
MIN_CHARS = 6  # shorter pieces (谢谢！, 唉。) join the next sentence
MAX_CHARS = 80  # a run-on without stops (speech to text) is cut at its commas


def _split_long(start: int, end: int, text: str) -> list[tuple[int, int]]:
    if end - start <= MAX_CHARS:
        return [(start, end)]
    pieces, cur = [], start
    for m in _CLAUSE.finditer(text, start, end):
        if m.end() - cur >= MAX_CHARS // 2:
            pieces.append((cur, m.end()))
            cur = m.end()
    pieces.append((cur, end))
    out = []
    for s, e in pieces:  # still too long (no commas at all): fixed-size cuts
        out += [(i, min(i + MAX_CHARS, e)) for i in range(s, e, MAX_CHARS)]
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans [start, end) covering `text`, each a sentence (or a piece of a run-on)."""
    raw, cur = [], 0
    for m in _END.finditer(text):
        raw.append((cur, m.end()))
        cur = m.end()
    if cur < len(text):
        raw.append((cur, len(text)))
    merged: list[tuple[int, int]] = []
    pending = None
    for s, e in raw:
        s = pending if pending is not None else s
        if len(text[s:e].strip()) < MIN_CHARS:
            pending = s
            continue
        pending = None
        merged.append((s, e))
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], len(text))
        else:
            merged.append((pending, len(text)))
    spans = [p for s, e in merged for p in _split_long(s, e, text)]
    return spans or [(0, len(text))]


def token_sentences(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """The sentence index of each token, from its character offsets; -1 for tokens without characters."""
    starts = [s for s, _ in spans]
    out = []
    for s, e in offsets:
        out.append(-1 if e <= s else max(0, bisect.bisect_right(starts, s) - 1))
    return out


def encode_with_sentences(tokenizer, texts: Sequence[str]
                          ) -> tuple[list[list[int]], list[list[int]], list[list[tuple[int, int]]]]:
    """Token ids (no special tokens), each token's sentence index, and each text's sentence spans."""
    enc = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    spans = [sentence_spans(t) for t in texts]
    sids = [token_sentences(off, sp) for off, sp in zip(enc["offset_mapping"], spans)]
    return enc["input_ids"], sids, spans

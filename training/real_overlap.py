"""How much of each real comment a corpus row repeats: the guard that no written row paraphrases the real-text
evaluation set. A real comment's character 4-grams are looked up in every corpus row; its overlap is the largest
share found in any one row. Stock phrases (以后再也不来了, 排了很久的队) reach 0.1-0.2; a row written from a real
comment repeats much more of it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pvoice.training.splits import shingles

GRAM = 4


@dataclass(frozen=True)
class Overlap:
    real_index: int
    corpus_index: int  # -1 when no corpus row shares a 4-gram with it
    share: float  # of the real comment's 4-grams, found in that one corpus row


def real_text_overlaps(corpus_texts: Sequence[str], real_texts: Sequence[str]) -> list[Overlap]:
    """Each real comment's highest overlap with one corpus row, highest first."""
    index: dict[str, list[int]] = defaultdict(list)  # 4-gram -> the corpus rows holding it
    for i, text in enumerate(corpus_texts):
        for gram in shingles(text, GRAM):
            index[gram].append(i)
    found = [_best_row(j, shingles(text, GRAM), index) for j, text in enumerate(real_texts)]
    return sorted(found, key=lambda o: -o.share)


def _best_row(real_index: int, grams: set[str], index: dict[str, list[int]]) -> Overlap:
    hits: dict[int, int] = defaultdict(int)
    for gram in grams:
        for i in index.get(gram, ()):
            hits[i] += 1
    if not hits:
        return Overlap(real_index, -1, 0.0)
    row, count = max(hits.items(), key=lambda kv: (kv[1], -kv[0]))
    return Overlap(real_index, row, count / len(grams))

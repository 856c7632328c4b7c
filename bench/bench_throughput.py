"""Batch-scoring throughput on real comment lengths, from a plain pipeline to the int8 student, in one run.

Usage: python bench/bench_throughput.py [--teacher models/default-teacher] [--student models/default-student]
                                        [--score-model models/default] [--pipeline-texts 600] [--repeat 2]
                                        [--skip-teacher]

Texts: `../shared/eval/real_dev.jsonl` plus the corpus's test split (their lengths: median about 22 tokens, a
tail to 400). Every variant classifies the same texts in this one process, one after the other, so ratios hold
under the same load:
- pipeline: `transformers.pipeline("text-classification")` looped at batch size 1 over a sequence-
  classification model built from the teacher's encoder weights (its head is new; the encoder is the cost).
  It runs on the first `--pipeline-texts` texts only (it is slow); its rate is comments per second all the same.
- teacher / student on torch fp32, the student on ONNX Runtime fp32 and int8 (`Classifier.predict`, no
  evidence): one process, all cores.
- the student's int8 graph in N worker processes, each pinned to one core with one thread.
- `pvoice score` end to end on a CSV of the same texts with the default model (`--score-model`), on the local
  engine (one process, all threads) and on the pinned engine (one process per core, one thread each): the
  measurement behind the `score_engine` default.
Also printed: FLOPs per comment of each network (the matrix products of the encoder and heads, from the real
token counts), the machine's measured GEMM rate (fp32 torch, and int8 through ONNX Runtime) and the fraction
of it the student reaches, and the peak memory of the process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

from pvoice.model.predictor import Classifier
from pvoice.settings import get_settings
from pvoice.training.gates import gate_sets


def bench_texts() -> list[str]:
    settings = get_settings()
    sets = gate_sets([settings.corpus_dir], [p for p in settings.real_eval_paths if p.is_file()])
    return [r.text for rows in sets.values() for r in rows]


def rate(fn, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def pipeline_rate(teacher: Path, texts: list[str]) -> float:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(str(teacher / "encoder"), num_labels=3)
    tokenizer = AutoTokenizer.from_pretrained(str(teacher / "tokenizer"))
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1, truncation=True,
                    max_length=256)
    with torch.inference_mode():
        pipe(texts[0])
        start = time.perf_counter()
        for text in texts:
            pipe(text)
    return len(texts) / (time.perf_counter() - start)


def flops_per_comment(directory: Path, clf: Classifier, texts: list[str]) -> float:
    """Multiply-adds × 2 of the encoder's dense layers and attention, plus the heads, per comment."""
    enc = clf.tokenizer(texts, add_special_tokens=True, truncation=True, max_length=clf.config.max_length)
    lengths = np.array([len(x) for x in enc["input_ids"]], dtype=np.float64)
    cfg = json.loads((directory / "encoder" / "config.json").read_text(encoding="utf-8"))
    h, ff, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    dense = 2 * (4 * h * h + 2 * h * ff)  # q, k, v, output and the two feed-forward products, per token
    attention = 2 * 2 * h  # scores and weighted sum, per token pair
    per_text = layers * (dense * lengths + attention * lengths ** 2)
    n_tp = len(clf.config.touchpoints)
    heads = 2 * h * h * (5 + 2 * n_tp) + 2 * h * h * lengths  # head MLPs, the touchpoint attention's keys
    return float(np.mean(per_text + heads))


def gemm_rates() -> dict[str, float]:
    """Best sustained dense product rates of this machine, all cores: fp32 (torch) and int8 (ONNX Runtime)."""
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper

    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    fp32 = rate(lambda: [torch.mm(a, b) for _ in range(20)], 20, 3) * 2 * n ** 3
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["C"])], "gemm",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n]),
         helper.make_tensor_value_info("B", TensorProto.INT8, [n, n])],
        [helper.make_tensor_value_info("C", TensorProto.INT32, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {"A": np.random.randint(0, 255, (n, n), dtype=np.uint8),
            "B": np.random.randint(-127, 127, (n, n), dtype=np.int8)}
    int8 = rate(lambda: [session.run(None, feed) for _ in range(20)], 20, 3) * 2 * n ** 3
    return {"fp32": fp32, "int8": int8}


def _worker(args: tuple[str, int, list[str], str | None, str | None, mp.Queue]) -> None:
    directory, core, texts, runtime, quantize, out = args
    os.sched_setaffinity(0, {core})
    clf = Classifier.from_pretrained(directory, runtime=runtime, quantize=quantize, threads=1)
    import torch

    torch.set_num_threads(1)
    clf.predict(texts[:32])
    out.put(("ready", core))
    start = time.perf_counter()
    clf.predict(texts)
    out.put(("done", time.perf_counter() - start))


def pinned_rate(directory: Path, texts: list[str], runtime: str, quantize: str | None) -> float:
    """Rate of one process per core, each on an equal share of the texts (interleaved, so shares match)."""
    cores = sorted(os.sched_getaffinity(0))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=((str(directory), core, texts[i::len(cores)], runtime, quantize,
                                                 out),)) for i, core in enumerate(cores)]
    for p in procs:
        p.start()
    times = [out.get()[1] for _ in range(2 * len(procs))]
    for p in procs:
        p.join()
    return len(texts) / max(t for t in times if isinstance(t, float))


def score_rates(model_dir: Path, texts: list[str]) -> dict[str, float]:
    """Rows per second of `pvoice score` (reading, scoring, writing and committing) on each local engine."""
    import csv
    import tempfile

    from pvoice.scoring import ScoreJob, score_file

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "comments.csv"
        with src.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "comment"])
            writer.writerows([i, t] for i, t in enumerate(texts))
        for engine in ("local", "pinned"):
            result = score_file(ScoreJob(input=src, output=Path(tmp) / f"{engine}.csv", model_dir=model_dir,
                                         engine=engine, progress=False))
            out[engine] = result.rows / result.seconds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, default=Path("models/default-teacher"))
    parser.add_argument("--student", type=Path, default=Path("models/default-student"))
    parser.add_argument("--pipeline-texts", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-teacher", action="store_true")
    parser.add_argument("--score-model", type=Path, default=Path("models/default"),
                        help="The model `pvoice score` runs with, on each engine.")
    args = parser.parse_args()
    texts = bench_texts()
    print(f"# {len(texts)} texts (real_dev + test split); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)
    rows = []
    base = pipeline_rate(args.teacher, texts[:args.pipeline_texts])
    rows.append(("pipeline, batch 1, teacher's encoder (torch fp32)", base))
    print(f"pipeline: {base:.1f}/s", flush=True)
    variants = [("teacher", args.teacher, "torch", "fp32")] if not args.skip_teacher else []
    variants += [("student", args.student, "torch", "fp32"), ("student", args.student, "onnxruntime", "fp32"),
                 ("student", args.student, "onnxruntime", "int8")]
    flops = {}
    for name, directory, runtime, precision in variants:
        clf = Classifier.from_pretrained(directory, runtime=runtime, quantize=precision)
        flops[name] = flops_per_comment(directory, clf, texts)
        clf.predict(texts[:64])
        r = rate(lambda: clf.predict(texts), len(texts), args.repeat)
        rows.append((f"{name} ({directory.name}), {clf.runtime.name} {clf.runtime.precision}, one process", r))
        print(f"{rows[-1][0]}: {r:.1f}/s", flush=True)
    pinned = pinned_rate(args.student, texts, "onnxruntime", "int8")
    rows.append((f"student ({args.student.name}), onnxruntime int8, {len(os.sched_getaffinity(0))} pinned "
                 "processes × 1 thread", pinned))
    for engine, r in score_rates(args.score_model, texts).items():
        rows.append((f"`pvoice score` ({args.score_model.name}), {engine} engine, CSV in and out", r))
        print(f"{rows[-1][0]}: {r:.1f}/s", flush=True)
    gemm = gemm_rates()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n| variant | comments/s | × pipeline |\n| --- | ---: | ---: |")
    for label, r in rows:
        print(f"| {label} | {r:.1f} | {r / base:.1f}× |")
    best = max(r for label, r in rows if label.startswith("student"))
    print(f"\nFLOPs per comment: " + ", ".join(f"{k} {v / 1e9:.2f} GFLOP" for k, v in flops.items()))
    print(f"GEMM rate (1024³, all cores): fp32 {gemm['fp32'] / 1e9:.1f} GFLOP/s, int8 {gemm['int8'] / 1e9:.1f} "
          "GOP/s")
    achieved = best * flops["student"]
    print(f"student at its best rate: {achieved / 1e9:.1f} GFLOP/s = {achieved / gemm['int8']:.0%} of the int8 "
          f"GEMM rate ({achieved / gemm['fp32']:.0%} of fp32)")
    print(f"peak memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()

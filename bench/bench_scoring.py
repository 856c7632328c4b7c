"""Batch scoring throughput and peak memory: local engine, Ray on this machine, a plain transformers pipeline.

Usage: python bench/bench_scoring.py [--rows 100000] [--model DIR|synthetic] [--batch-size 32]
                                     [--chunk-rows 10000] [--engines local,ray,pipeline] [--keep]

`--model synthetic` builds a random classifier of multilingual-e5-small's shape (12 layers, hidden 384,
max_length 256) on a character tokenizer: its labels are noise, but its compute per text is the real
model's, for measuring where no trained model is at hand.

1. Generates a CSV of `--rows` comment-like rows (sampled from data/comments/*.jsonl and recombined: pieces
   of two comments joined, clipped, or repeated, so lengths vary). It is benchmark input, not training data.
2. Runs each engine in its own subprocess, one after the other, on the same file:
   - local: `pvoice score` in-process (`score_file`, local engine), writing a CSV;
   - ray: the same with `--engine ray`, a local Ray started on all cores of this machine;
   - pipeline: `transformers.pipeline("text-classification")` looped over the same texts in batches, on a
     sequence-classification model built from the saved model's encoder weights and tokenizer. Its head is
     new and random (and smaller than ours), but the encoder dominates the cost; it writes nothing, and it
     truncates at the model's max_length where `Classifier` reads long texts in overlapping windows.
3. Times each end to end inside its process (model load, Ray start and file I/O included) and takes its
   peak memory: the process's own ru_maxrss, and the peak summed RSS of its whole process tree (Ray's
   raylet and actor processes included), sampled every 0.2 s with psutil.
Ratios are between engines measured in this one run, so they hold under the same load.
Results: a markdown table on stdout and JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ENGINES = ("local", "ray", "pipeline")


# ---- input -----------------------------------------------------------------------------------------
def corpus_texts() -> list[str]:
    from pvoice.settings import get_settings

    texts = []
    for path in sorted(Path(get_settings().corpus_dir).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


def varied(rng: random.Random, texts: list[str]) -> str:
    a, b = rng.choice(texts), rng.choice(texts)
    roll = rng.random()
    if roll < 0.5:
        return a
    if roll < 0.75:
        return a[: max(4, len(a) // 2)] + "，" + b[len(b) // 2:]  # the start of one, the end of another
    if roll < 0.9:
        return a[: rng.randint(4, max(5, len(a)))]  # clipped
    return a + " " + b  # long


def make_input(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    texts = corpus_texts()
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["序号", "科室", "就诊日期", "意见"])
        for i in range(rows):
            writer.writerow([i + 1, f"科室{rng.randrange(20):02d}", f"2024-{rng.randint(1, 12):02d}-01",
                             varied(rng, texts)])
    return path


def synthetic_model(directory: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    from pvoice.model.config import ClassifierConfig
    from pvoice.model.modeling import MultiTaskModel
    from pvoice.model.predictor import Classifier
    from pvoice.labels import load_taxonomy
    from pvoice.model.testing import tiny_tokenizer

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    encoder = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=384, num_hidden_layers=12,
                                   num_attention_heads=12, intermediate_size=1536, max_position_embeddings=512,
                                   pad_token_id=tokenizer.pad_token_id), add_pooling_layer=False)
    labels = load_taxonomy().label_maps()
    config = ClassifierConfig(labels=labels, base_model="synthetic-e5-small-shape", max_length=256,
                              window_stride=128, model_version="synthetic-0")
    return Classifier(MultiTaskModel(encoder, labels), tokenizer, config).save_pretrained(directory)


# ---- workers (each in its own process) -------------------------------------------------------------
def work_score(engine: str, args) -> dict:
    from pvoice.scoring import ScoreJob, score_file

    out = Path(args.workdir) / f"scored_{engine}.csv"
    result = score_file(ScoreJob(input=Path(args.input), output=out, model_dir=Path(args.model), engine=engine,
                                 batch_size=args.batch_size, chunk_rows=args.chunk_rows, overwrite=True,
                                 progress=False))
    return {"rows": result.rows, "errors": sum(result.summary.errors.values())}


def work_pipeline(args) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from pvoice.model.config import ClassifierConfig
    from pvoice.model.predictor import ENCODER_DIR, TOKENIZER_DIR
    from pvoice.scoring import find_text_column, open_source

    config = ClassifierConfig.load(Path(args.model))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(Path(args.model) / ENCODER_DIR), num_labels=len(config.sentiments)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(Path(args.model) / TOKENIZER_DIR))
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)
    source = open_source(Path(args.input))
    column = find_text_column(source.columns)
    rows = 0
    with torch.inference_mode():
        for chunk in source.chunks(args.chunk_rows):
            texts = chunk.column(column)
            pipe(texts, batch_size=args.batch_size, truncation=True, max_length=config.max_length)
            rows += len(texts)
    return {"rows": rows, "errors": 0}


def worker(args) -> None:
    start = time.perf_counter()
    out = work_pipeline(args) if args.worker == "pipeline" else work_score(args.worker, args)
    out["seconds"] = time.perf_counter() - start
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out))


# ---- driver ----------------------------------------------------------------------------------------
def tree_rss_mb(proc) -> float:
    try:
        procs = [proc, *proc.children(recursive=True)]
    except Exception:  # noqa: BLE001 - the process ended between two samples
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except Exception:  # noqa: BLE001
            pass
    return total / 2**20


def run_engine(engine: str, args, input_path: Path, workdir: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", engine, "--input", str(input_path), "--workdir", str(workdir),
           "--model", args.model, "--batch-size", str(args.batch_size), "--chunk-rows", str(args.chunk_rows)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    try:
        import psutil

        handle = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(handle))
            time.sleep(0.2)
    except ImportError:
        pass
    stdout, stderr = proc.communicate()
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{engine} failed ({proc.returncode}):\n{stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result["tree_peak_rss_mb"] = peak or None
    result["rows_per_s"] = result["rows"] / result["seconds"]
    return result


def render(results: dict, args, rows: int) -> str:
    import torch

    lines = [f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
             f"{rows:,} rows, batch {args.batch_size}, chunk {args.chunk_rows:,}; model {args.model}", "",
             "| engine | rows/s | seconds | peak RSS, process (MB) | peak RSS, process tree (MB) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        tree = f"{r['tree_peak_rss_mb']:.0f}" if r["tree_peak_rss_mb"] else "n/a"
        lines.append(f"| {name} | {r['rows_per_s']:.1f} | {r['seconds']:.1f} | {r['ru_maxrss_mb']:.0f} | {tree} |")
    lines.append("")
    base = results.get("local")
    for name, r in results.items():
        if base and name != "local":
            mem = (f", peak memory (tree) {r['tree_peak_rss_mb'] / base['tree_peak_rss_mb']:.2f}x"
                   if r["tree_peak_rss_mb"] and base["tree_peak_rss_mb"] else "")
            lines.append(f"- {name} / local: throughput {r['rows_per_s'] / base['rows_per_s']:.2f}x{mem}")
    return "\n".join(lines)


def main() -> None:
    from pvoice.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--model", default=str(get_settings().model_dir))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: local, ray, pipeline")
    parser.add_argument("--keep", action="store_true", help="keep the generated input and outputs")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    workdir = Path(tempfile.mkdtemp(prefix="bench_scoring_"))
    if args.model == "synthetic":
        args.model = str(synthetic_model(workdir / "synthetic-model"))
    input_path = make_input(workdir / f"comments_{args.rows}.csv", args.rows)
    print(f"input: {input_path} ({input_path.stat().st_size / 2**20:.1f} MB)", flush=True)
    results = {}
    for engine in args.engines.split(","):
        results[engine] = run_engine(engine, args, input_path, workdir)
        print(f"{engine}: {results[engine]['rows_per_s']:.1f} rows/s", flush=True)
    print(render(results, args, args.rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scoring_{args.rows}.json"
    out.write_text(json.dumps({"rows": args.rows, "batch_size": args.batch_size, "chunk_rows": args.chunk_rows,
                               "model": args.model, "results": results}, indent=2), encoding="utf-8")
    print(f"\nresults: {out}")
    if not args.keep:
        import shutil

        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()

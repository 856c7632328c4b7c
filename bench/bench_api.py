"""Latency and throughput of the triage API: `/v1/classify` and `/v1/comments` at concurrency 1, 8 and 32.

Usage: python bench/bench_api.py [--model DIR] [--requests 200] [--concurrency 1,8,32] [--workers 1]
                                 [--port 0] [--evidence]

Starts `pvoice serve` in a subprocess on 127.0.0.1 with a fresh SQLite database in a temp directory and the
given model, creates an intake key, then for each endpoint and concurrency sends `--requests` requests (one
comment text each, drawn from data/comments) from that many concurrent httpx clients, after a warm-up.
With `--workers 1,2` the whole run is repeated for each number of server processes (`pvoice serve
--workers N`) on a fresh database. Prints a markdown table: p50/p99 latency in ms and requests per second. `/v1/classify` is timed without
evidence unless `--evidence` (evidence costs about fifty model passes per text). Alerts go to the routing
file's local placeholder targets, so nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pvoice.settings import get_settings


def corpus_texts(limit: int = 2000) -> list[str]:
    texts = []
    for path in sorted(get_settings().corpus_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    random.Random(0).shuffle(texts)
    return texts[:limit]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, port: int, workdir: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PVOICE_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "PVOICE_MODEL_DIR": str(model),
           "PVOICE_LOG_LEVEL": "WARNING"}
    pvoice = [sys.executable, "-m", "pvoice"]
    subprocess.run([*pvoice, "db", "upgrade"], env=env, capture_output=True, check=True)
    created = subprocess.run([*pvoice, "keys", "create", "--role", "intake"], env=env, capture_output=True,
                             text=True, check=True)
    key = created.stdout.strip().splitlines()[-1]
    log = open(workdir / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen([*pvoice, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                               str(workers)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited; see {workdir / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server, key
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise SystemExit("server not ready within 180 s")


def body_for(endpoint: str, text: str, n: int, evidence: bool) -> dict:
    if endpoint == "/v1/classify":
        return {"texts": [text], "evidence": evidence}
    return {"comments": [{"text": text, "channel": "survey", "received_at": "2026-03-02T09:00:00+08:00",
                          "external_id": f"bench-{time.time_ns()}-{n}"}]}


async def run_level(base: str, key: str, endpoint: str, texts: list[str], concurrency: int, requests: int,
                    evidence: bool) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in counter:
            start = time.perf_counter()
            response = await client.post(endpoint, json=body_for(endpoint, texts[n % len(texts)], n, evidence),
                                         headers=headers)
            latencies.append(time.perf_counter() - start)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        for n in range(min(4, requests)):  # warm-up
            await client.post(endpoint, json=body_for(endpoint, texts[n], -n - 1, evidence), headers=headers)
        start = time.perf_counter()
        await asyncio.gather(*[worker(client) for _ in range(concurrency)])
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {"endpoint": endpoint, "workers": 1, "concurrency": concurrency, "requests": len(latencies), "errors": errors,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "rps": len(latencies) / elapsed}


def table(rows: list[dict]) -> str:
    lines = ["| endpoint | workers | concurrency | requests | p50 ms | p99 ms | req/s | errors |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| `{r['endpoint']}` | {r['workers']} | {r['concurrency']} | {r['requests']} | {r['p50_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {r['rps']:.1f} | {r['errors']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=get_settings().model_dir)
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint and concurrency")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--workers", default="1", help="server processes, e.g. 1,2 to compare")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--evidence", action="store_true", help="time /v1/classify with evidence")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    texts = corpus_texts()
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        port = args.port or free_port()
        with tempfile.TemporaryDirectory(prefix="pvoice-bench-") as tmp:
            server, key = start_server(args.model, port, Path(tmp), workers)
            try:
                for endpoint in ("/v1/classify", "/v1/comments"):
                    for c in levels:
                        row = asyncio.run(run_level(f"http://127.0.0.1:{port}", key, endpoint, texts, c,
                                                    args.requests, args.evidence))
                        rows.append({**row, "workers": workers})
            finally:
                server.terminate()
                server.wait(30)
    print(f"model: {args.model} | {platform.processor() or platform.machine()}, {os.cpu_count()} cores | "
          f"{args.requests} requests per row, one text each | classify evidence: {args.evidence}\n")
    print(table(rows))


if __name__ == "__main__":
    main()

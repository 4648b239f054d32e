"""Capacity of the reference shop on this machine: the highest throughput whose p99 stays within
the budget (50 ms by default), on the cache-backed product read and on order placement.

Starts its own shop in a temporary directory (fresh seed data, warm cache), then steps wrk's
connection count up (1, 2, 4, ...) for each path, stopping a sweep at the first step that breaks
the budget, and prints a Markdown table. A step with more than 1% failures (non-2xx answers such
as a shed 429, or socket errors) does not count as within budget either.

    .venv/bin/python bench/shop_capacity.py                       # ~1-2 minutes
    .venv/bin/python bench/shop_capacity.py --duration 10 --connections 1,2,4,8,16,32,64

wrk is closed-loop (each connection waits for its answer), so these are capacity figures under
queueing, not open-model latencies; the order path writes to SQLite, so it is bound by one
writer at a time whatever the number of workers.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

from peakdrill.shop import start_shop, stop_shop

READ_LUA = """
math.randomseed(7)
request = function() return wrk.format("GET", "/api/products/" .. math.random(1, 200)) end
"""
# Each request a new Idempotency-Key (thread id + run start + counter), so every request is a new order.
ORDER_LUA = """
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local counter, prefix = 0, ""
function init(args) prefix = tostring(tid) .. "-" .. tostring(os.time()); math.randomseed(tid) end
request = function()
  counter = counter + 1
  local body = string.format('{"customer_id":"bench","items":[{"product_id":%d,"quantity":1}]}', math.random(1, 200))
  return wrk.format("POST", "/api/orders", {["Content-Type"] = "application/json",
                                            ["Idempotency-Key"] = "bench-" .. prefix .. "-" .. counter}, body)
end
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Step:
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int  # non-2xx answers + socket errors

    def within(self, budget_ms: float) -> bool:
        return self.p99_ms <= budget_ms and self.failed <= 0.01 * max(self.requests, 1)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def parse_wrk(output: str, connections: int) -> Step:
    percentile = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+(?:us|ms|s))\s*$", output, re.MULTILINE))
    requests_done = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not (percentile and requests_done and rps):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    failed = int(non_2xx.group(1)) if non_2xx else 0
    if errors:  # connect/read/write errors and timeouts fail the step like error answers do
        failed += sum(map(int, errors.groups()))
    return Step(connections=connections, rps=float(rps.group(1)), p50_ms=_ms(percentile["50"]),
                p99_ms=_ms(percentile["99"]), requests=int(requests_done.group(1)), failed=failed)


def run_wrk(url: str, script: Path, connections: int, duration_s: int) -> Step:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "5s", "--latency", "-s", str(script), url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 30, check=True)
    return parse_wrk(result.stdout, connections)


def sweep(url: str, script: Path, steps: list[int], duration_s: int, budget_ms: float) -> list[Step]:
    done: list[Step] = []
    for connections in steps:
        done.append(run_wrk(url, script, connections, duration_s))
        print(f"  -c{connections:<3} {done[-1].rps:8.1f} req/s  p50 {done[-1].p50_ms:7.2f} ms  "
              f"p99 {done[-1].p99_ms:7.2f} ms  failed {done[-1].failed}", file=sys.stderr)
        if not done[-1].within(budget_ms):
            break
    return done


def table(results: dict[str, list[Step]], budget_ms: float) -> str:
    lines = [f"| path | connections | req/s | p50 ms | p99 ms | failed | p99 <= {budget_ms:g} ms |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for path, steps in results.items():
        for step in steps:
            lines.append(f"| {path} | {step.connections} | {step.rps:.0f} | {step.p50_ms:.2f} | {step.p99_ms:.2f} | "
                         f"{step.failed} | {'yes' if step.within(budget_ms) else 'no'} |")
    lines.append("")
    for path, steps in results.items():
        best = max((s for s in steps if s.within(budget_ms)), key=lambda s: s.rps, default=None)
        verdict = (f"{best.rps:.0f} req/s at {best.connections} connections (p99 {best.p99_ms:.1f} ms)" if best
                   else f"none: even 1 connection breaks p99 <= {budget_ms:g} ms")
        lines.append(f"- **{path}**: capacity at p99 <= {budget_ms:g} ms: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the shop")
    parser.add_argument("--duration", type=int, default=5, help="seconds per step")
    parser.add_argument("--connections", default="1,2,4,8,16,32", help="wrk connection counts to step through")
    parser.add_argument("--budget-ms", type=float, default=50.0, help="p99 budget")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench: wrk is not on PATH (fix: apt-get install wrk)", file=sys.stderr)
        return 2
    steps = [int(c) for c in args.connections.split(",")]
    with tempfile.TemporaryDirectory(prefix="peakdrill-bench-") as tmp:
        shop = start_shop(Path(tmp) / "shop", port=0, workers=args.workers)
        try:
            for product_id in range(1, 201):  # warm: the read sweep measures cache hits
                requests.get(f"{shop.url}/api/products/{product_id}", timeout=10)
            scripts = {name: Path(tmp) / f"{name}.lua" for name in ("read", "order")}
            scripts["read"].write_text(READ_LUA)
            scripts["order"].write_text(ORDER_LUA)
            results = {}
            for path, name in (("GET /api/products/<id> (cache hit)", "read"), ("POST /api/orders", "order")):
                print(f"{path}:", file=sys.stderr)
                results[path] = sweep(shop.url, scripts[name], steps, args.duration, args.budget_ms)
        finally:
            stop_shop(shop.shop_dir)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end; "
          f"shop: {args.workers} workers; wrk -t1, {args.duration}s per step\n")
    print(table(results, args.budget_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())

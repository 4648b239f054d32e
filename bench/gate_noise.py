"""Does `peakdrill gate` cry wolf, and does it catch a 20% slowdown? Counted, not assumed.

    .venv/bin/python bench/gate_noise.py               # about 4 minutes: 1 baseline + 5 + 5 runs
    .venv/bin/python bench/gate_noise.py --runs 2      # the smaller version `make test` runs

Against tests/knob_server.py (a small HTTP service with a latency knob, not the reference shop),
driven by tests/plain_locustfile.py (plain Locust, no peakdrill import) through `peakdrill load`:
one baseline run saved with `peakdrill baseline save`, then N unchanged reruns and N reruns with
the knob raised by 20%, each gated against the baseline with the default tolerances. Prints one
line per run (gate verdict, failed endpoint x metric, p95 of GET /item) and the counts. Exit code 1
when an unchanged rerun fails or a slowed one passes.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path.insert(0, str(TESTS))

from knob_server import knob_server, set_knob  # noqa: E402

PROFILE = """\
name: knob-flat
stages:
  - {name: warm-up, duration: 2s, users: 40, spawn_rate: 40, measured: false}
  - {name: steady, duration: 10s, users: 40, spawn_rate: 40}
"""


def peakdrill(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peakdrill.cli", *args], capture_output=True, text=True, timeout=300)


def load_run(tmp: Path, url: str) -> Path:
    reports = tmp / "reports"
    before = set(reports.iterdir()) if reports.exists() else set()
    result = peakdrill("load", str(tmp / "profile.yaml"), "--host", url, "--locustfile", str(TESTS / "plain_locustfile.py"),
                       "--reports-dir", str(reports), "--no-progress")
    (run_dir,) = set(reports.iterdir()) - before
    if not (run_dir / "run.json").is_file():
        raise SystemExit(f"the run failed: {result.stderr}")
    return run_dir


def gate(run_dir: Path, baseline: Path) -> dict:
    peakdrill("gate", str(run_dir), "--baseline", str(baseline))
    return json.loads((run_dir / "score.json").read_text())["gate"]


def _exit_on_sigterm(signum, frame):
    raise SystemExit(143)  # unwinds through knob_server's finally, which stops the server


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="reruns of each kind (default 5)")
    parser.add_argument("--latency-ms", type=float, default=400.0, help="the knob's base latency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-noise-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "profile.yaml").write_text(PROFILE)
        with knob_server(tmp, args.latency_ms) as url:
            baseline = tmp / "baseline.json"
            peakdrill("baseline", "save", str(load_run(tmp, url)), "-o", str(baseline))
            item = json.loads(baseline.read_text())["endpoints"]["GET /item"]
            print(f"baseline: GET /item p95 {item['p95_ms']:.1f} ms, p99 {item['p99_ms']:.1f} ms, {item['rps']:.1f} req/s")
            wrong = 0
            for label, latency, expected in (("unchanged", args.latency_ms, "PASS"),
                                             ("knob +20%", args.latency_ms * 1.2, "FAIL")):
                set_knob(url, latency)
                verdicts = []
                for index in range(args.runs):
                    result = gate(load_run(tmp, url), baseline)
                    failed = [f"{c['endpoint']} {c['metric']}" for c in result["cases"] if c["verdict"] == "FAIL"]
                    p95 = next(c["now"] for c in result["cases"] if c["endpoint"] == "GET /item" and c["metric"] == "p95")
                    verdicts.append(result["verdict"])
                    print(f"{label:<10} run {index + 1}: gate {result['verdict']:<12} GET /item p95 {p95:7.1f} ms  "
                          f"failed: {', '.join(failed) or '-'}", flush=True)
                right = verdicts.count(expected)
                wrong += len(verdicts) - right
                print(f"{label}: {right} of {len(verdicts)} gated {expected}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())

"""Debian's own Prometheus server for tests: a private config, data dir and port; stopped by PID."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Prometheus:
    def __init__(self, workdir: Path, scrape_port: int, interval_s: float = 1.0) -> None:
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        if not Path(binary).exists():
            pytest.skip("Debian's prometheus is not installed: run `make system-deps`")
        self.interval_s = interval_s
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        config.write_text(f"""\
global: {{scrape_interval: {interval_s:g}s, scrape_timeout: {interval_s:g}s}}
scrape_configs:
  - job_name: peakdrill
    static_configs: [{{targets: ["127.0.0.1:{scrape_port}"]}}]
""")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/-/ready", timeout=1).read()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise AssertionError(f"prometheus did not become ready; see {workdir / 'prometheus.log'}")

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}", timeout=10) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def samples(self, selector: str, at: float, span_s: int = 600) -> list[tuple[dict, list[tuple[float, float]]]]:
        """Every raw sample (scrape time, value) of the series matching ``selector`` over ``span_s`` up to ``at``."""
        return [(r["metric"], [(float(ts), float(v)) for ts, v in r["values"]])
                for r in self.query(f"{selector}[{span_s}s]", at)]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

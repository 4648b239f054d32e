"""Measure what one Locust process sustains on this machine: ``peakdrill calibrate``.

One headless Locust process ramps users up against the target (by default a built-in fast
server, so the figures are the generator's and not the target's) while its own hooks write
per-second health (users, requests/s, CPU) into a scratch run directory and this process samples
its RSS. The ramp stops at the end of its time or once the process has sat at Locust's 90% CPU
warning for a few seconds: that is the saturation point.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import psutil

from peakdrill.errors import SizingError, quote
from peakdrill.loadgen.keepalive import raise_fd_limit
from peakdrill.rundir import GENERATOR_FILE, JsonlTail
from peakdrill.rundir.records import HealthReader, Where
from peakdrill.safety import LOOPBACK_HOSTS, ensure_allowed
from peakdrill.sizing.calibration import SATURATION_CPU_PERCENT, Calibration, Sample, Saturation
from peakdrill.sizing.fastserver import FastServer

logger = logging.getLogger(__name__)

CALIBRATION_LOCUSTFILE = Path(importlib.util.find_spec("peakdrill.sizing.locustfile").origin)
SATURATED_FOR_S = 3  # consecutive seconds at or above 90% CPU that count as saturated
STOP_GRACE_S = 15.0


@dataclass(frozen=True, slots=True)
class CalibrationRun:
    """What to measure; validated on construction, before any process starts."""

    max_users: int
    spawn_rate: float
    duration_s: float
    think_time_s: tuple[float, float]
    host: str | None = None  # None: the built-in fast server
    path: str = "/"
    locustfile: Path = CALIBRATION_LOCUSTFILE
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS

    def __post_init__(self) -> None:
        if self.max_users < 1:
            raise SizingError(f"--users {self.max_users!r} must be at least 1; e.g. --users 3000")
        if self.spawn_rate <= 0:
            raise SizingError(f"--spawn-rate {self.spawn_rate!r} must be above 0; e.g. --spawn-rate 100")
        if not 5 <= self.duration_s <= 600:
            raise SizingError(f"--duration {self.duration_s!r} must be between 5 and 600 seconds; e.g. --duration 45")
        low, high = self.think_time_s
        if not 0 <= low <= high:
            raise SizingError(f"--think-time {low:g},{high:g} must be MIN,MAX with 0 <= MIN <= MAX; e.g. --think-time 0.5,1.5")
        if not self.locustfile.is_file():
            raise SizingError(f"--locustfile {quote(str(self.locustfile))} does not exist; give the path of a locustfile")
        if self.host is not None:
            ensure_allowed(self.host, self.allowed_hosts, "the command line")


def _machine() -> dict[str, str | int]:
    return {"hostname": platform.node(), "cpu_count": os.cpu_count() or 0, "python": platform.python_version(),
            "locust": version("locust"), "geventhttpclient": version("geventhttpclient")}


def _locust_command(run: CalibrationRun, url: str, run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(run.locustfile), "--headless", "--host", url,
            "-u", str(run.max_users), "-r", f"{run.spawn_rate:g}", "-t", f"{run.duration_s:g}s",
            "--stop-timeout", "0", "--only-summary", "--loglevel", "WARNING",
            "--logfile", str(run_dir / "locust.log"), "--peakdrill-run-dir", str(run_dir)]


def _saturation(health: list[dict]) -> Saturation | None:
    run = 0
    for index, record in enumerate(health):
        run = run + 1 if record["cpu_percent"] >= SATURATION_CPU_PERCENT else 0
        if run == SATURATED_FOR_S:
            first = health[index - SATURATED_FOR_S + 1]
            window = health[index - SATURATED_FOR_S + 1:index + 1]
            return Saturation(users=first["users"], rps=sum(r["rps"] for r in window) / len(window),
                              cpu_percent=sum(r["cpu_percent"] for r in window) / len(window))
    return None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _watch(process: subprocess.Popen, run: CalibrationRun, health: JsonlTail, reader: HealthReader,
           records: list[dict]) -> list[tuple[float, int]]:
    """Sample the Locust process's RSS every second until it ends or saturates: (ts, rss) pairs.
    The generator's health records gathered meanwhile are appended to ``records``."""
    rss: list[tuple[float, int]] = []
    watched = psutil.Process(process.pid)
    deadline = time.monotonic() + run.duration_s + 30
    while process.poll() is None and time.monotonic() < deadline:
        try:
            rss.append((time.time(), watched.memory_info().rss))
        except psutil.NoSuchProcess:
            break
        records.extend(_expand(health, reader))
        if _saturation(records) is not None:
            logger.info("peakdrill: the load process is saturated; stopping the ramp")
            break
        time.sleep(1.0)
    return rss


def _expand(health: JsonlTail, reader: HealthReader) -> list[dict]:
    """The health samples appended since the last call (generator.jsonl lines of either format)."""
    where = Where(health.path, 0)
    return [asdict(sample) for raw in health.read_new() for sample in reader.samples(raw, where)
            if sample.cpu_percent is not None]


def _samples(health: list[dict], rss: list[tuple[float, int]], start_ts: float) -> list[Sample]:
    samples = []
    # The last record is the second Locust stopped in, tearing users down: neither rate nor memory is representative.
    for record in health[:-1]:
        if not rss:
            break
        nearest = min(rss, key=lambda pair: abs(pair[0] - record["ts"]))[1]
        samples.append(Sample(t=round(record["ts"] - start_ts, 3), users=record["users"], rps=record["rps"],
                              cpu_percent=record["cpu_percent"], rss_bytes=nearest))
    return samples


def _memory_fit(samples: list[Sample]) -> tuple[float, int]:
    """Least-squares slope and intercept of RSS against users: bytes per user and the base RSS."""
    points = [(s.users, s.rss_bytes) for s in samples if s.users > 0]
    if len({users for users, _ in points}) < 2:
        raise SizingError(f"the ramp reached only {sorted({u for u, _ in points})} users, too few points to measure "
                          "memory per user; give it more --duration or a higher --spawn-rate")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    if slope <= 0:
        raise SizingError(f"RSS did not grow with users (slope {slope:.0f} bytes/user); calibrate with more --users")
    return slope, max(0, int(mean_y - slope * mean_x))


def summarise(samples: list[Sample], run: CalibrationRun, target: str, fd_limit: tuple[int, int]) -> Calibration:
    busy = [s for s in samples if s.users > 0 and s.cpu_percent > 0]
    if not busy or sum(s.rps for s in busy) == 0:
        raise SizingError(f"no requests were measured against {target!r}; check the target answers "
                          "(the Locust log is kept when calibrate fails)")
    health = [s.model_dump() for s in samples]
    memory_per_user, base_rss = _memory_fit(samples)
    return Calibration(
        source="measured", machine=_machine(), target=target, think_time_s=run.think_time_s,
        users_reached=max(s.users for s in samples), peak_rps=max(s.rps for s in samples),
        peak_cpu_percent=max(s.cpu_percent for s in samples), saturation=_saturation(health),
        requests_per_cpu_second=sum(s.rps for s in busy) / sum(s.cpu_percent / 100 for s in busy),
        memory_per_user_bytes=memory_per_user, base_rss_bytes=base_rss, fd_limit=fd_limit, samples=samples)


def calibrate(run: CalibrationRun) -> Calibration:
    """Run the ramp and return what it measured (see the module doc)."""
    # The built-in server holds one connection per user in this process.
    fd_limit = raise_fd_limit(run.max_users)
    scratch = Path(tempfile.mkdtemp(prefix="peakdrill-calibrate-"))
    env = dict(os.environ, PEAKDRILL_CALIBRATE_PATH=run.path,
               PEAKDRILL_CALIBRATE_THINK=f"{run.think_time_s[0]},{run.think_time_s[1]}")
    with (nullcontext() if run.host else FastServer()) as server:
        target = run.host or server.url
        start_ts = time.time()
        with (scratch / "locust.err").open("wb") as errors:
            try:
                process = subprocess.Popen(_locust_command(run, target, scratch), env=env, stdout=subprocess.DEVNULL,
                                           stderr=errors, stdin=subprocess.DEVNULL)
            except OSError as exc:
                raise SizingError(f"could not start Locust ({exc}); is peakdrill installed in this environment?") from exc
        health, reader, records = JsonlTail(scratch / GENERATOR_FILE), HealthReader(), []
        try:
            rss = _watch(process, run, health, reader, records)
        finally:
            _stop(process)
    records.extend(_expand(health, reader))
    try:
        calibration = summarise(_samples(records, rss, start_ts), run, target, fd_limit)
    except SizingError as exc:
        raise SizingError(f"{exc}; Locust's output is in {scratch}") from exc
    shutil.rmtree(scratch, ignore_errors=True)
    return calibration

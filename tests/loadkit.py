"""Helpers for tests that run `peakdrill load` / `capacity` / `merge` as the user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LOCUSTFILE = str(Path(__file__).resolve().parent / "target_locustfile.py")
OPEN_LOCUSTFILE = str(Path(__file__).resolve().parent / "target_open_locustfile.py")


def start_peakdrill(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "peakdrill.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})))


def finish(process: subprocess.Popen, timeout: float) -> subprocess.CompletedProcess:
    """Wait for a peakdrill process; past ``timeout`` stop it with SIGTERM, which makes it stop its own
    Locust process group first (a SIGKILL would leave Locust running in its separate session)."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def peakdrill(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return finish(start_peakdrill(*args, env=env), timeout)


def write_profile(tmp_path: Path, users: int, seconds: int) -> str:
    path = tmp_path / "flat.yaml"
    path.write_text(f"name: flat\nstages:\n  - {{name: steady, duration: {seconds}s, users: {users}, spawn_rate: {users}}}\n")
    return str(path)

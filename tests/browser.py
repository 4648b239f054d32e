"""Real headless Chromium for tests: render a page, read the DOM its scripts built, screenshot it.

Needs /usr/bin/chromium (or $PEAKDRILL_CHROMIUM; `make test` installs it). Without it the tests
skip, and under $CI a skip fails (tests/conftest.py): CI must never pass by skipping the browser.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = os.environ.get("PEAKDRILL_CHROMIUM", "/usr/bin/chromium")


def _require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Chromium (apt-get install chromium) to run browser tests")
    return CHROMIUM


def chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess:
    # The flags keep Chromium off the network this machine does not have, and out of any real profile.
    command = [
        _require_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000", *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def rendered_charts(tmp_path: Path, page: Path) -> dict[str, tuple[str, str]]:
    """Each chart's ``<svg>`` opening tag and body, from the DOM after the page's scripts ran."""
    result = chromium(tmp_path, page, "--dump-dom")
    assert "<svg" in result.stdout, f"chromium printed no DOM (exit {result.returncode}): {result.stderr[-2000:]}"
    found = re.findall(r"(<svg\b[^>]*data-chart=\"([a-z_]+)\"[^>]*>)(.*?)</svg>", result.stdout, flags=re.S)
    return {name: (tag, body) for tag, name, body in found}


def assert_drawn(tag: str, body: str, min_points: int, min_lines: int = 2) -> None:
    assert 'data-drawn="true"' in tag and "data-error" not in tag, tag
    assert int(re.search(r'data-points="(\d+)"', tag).group(1)) >= min_points, tag
    lines = re.findall(r"<(?:path|polyline)\b[^>]*\bd=\"M[^\"]{200,}", body)
    assert len(lines) >= min_lines, f"{len(lines)} data lines in {tag}"


def screenshot(tmp_path: Path, page: Path, width: int = 1280, height: int = 2400) -> Image.Image:
    shot = tmp_path / "page.png"
    result = chromium(tmp_path, page, f"--screenshot={shot}", f"--window-size={width},{height}")
    assert shot.is_file(), result.stderr[-2000:]
    return Image.open(shot).convert("RGB")

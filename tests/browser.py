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


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe (its fds 3 and 4), for pages
    that must be interacted with (typing, clicking) rather than only dumped. No extra library."""

    def __init__(self, tmp_path: Path) -> None:
        import fcntl

        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_fds() -> None:  # in the child: the pipe ends become fds 3 (commands) and 4 (replies)
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        command = [_require_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={tmp_path / 'chromium-devtools'}", "--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen(command, preexec_fn=wire_fds, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.session = ""

    def call(self, method: str, session: str = "", **params) -> dict:
        import json

        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_chrome, 65536)
                if not chunk:
                    raise AssertionError(f"chromium closed the DevTools pipe during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.call("Runtime.evaluate", self.session, expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (AssertionError, OSError):
            pass
        finally:
            for fd in (self._to_chrome, self._from_chrome):
                os.close(fd)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

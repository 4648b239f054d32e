"""No load and no fault reach a host the configuration does not allow, not even one request."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from peakdrill.errors import UnsafeTargetError
from peakdrill.safety import LOOPBACK_HOSTS, ensure_allowed

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("url", ["http://10.0.0.8:8800", "https://shop.example.com", "http://127.0.0.2:8800"])
def test_hosts_outside_the_list_are_refused_with_the_fix(url):
    with pytest.raises(UnsafeTargetError) as caught:
        ensure_allowed(url, LOOPBACK_HOSTS, "drills/x.yaml")
    assert "target.allowed_hosts in drills/x.yaml" in str(caught.value)
    assert "--allow-host" in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8800", "http:///nohost"])
def test_malformed_urls_are_refused(url):
    with pytest.raises(UnsafeTargetError):
        ensure_allowed(url, LOOPBACK_HOSTS, "x")


def test_drill_against_a_disallowed_host_sends_no_request(tmp_path):
    # 127.0.0.2 is a loopback address we can listen on, but not in the default allowed list.
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "peakdrill.cli", "drill", str(ROOT / "drills/demo.yaml"),
             "--target", f"http://127.0.0.2:{port}", "--reports-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert "refusing to send load or faults to '127.0.0.2'" in result.stderr
        assert "Traceback" not in result.stderr
        with pytest.raises(socket.timeout):
            listener.accept()
        assert list(tmp_path.iterdir()) == []  # not even a run directory was started
    finally:
        listener.close()

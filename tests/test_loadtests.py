"""The locustfile is plain Locust: it runs with the `locust` command against the reference shop."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_plain_locust_headless_runs_without_failures(shop, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests/locustfile.py"), "--headless", "-u", "20", "-r", "10",
         "-t", "20s", "--host", shop.url, "--csv", str(tmp_path / "stats"), "--only-summary"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["Name"]: row for row in csv.DictReader((tmp_path / "stats_stats.csv").open())}
    total = rows.pop("Aggregated")
    assert int(total["Request Count"]) > 100
    assert int(total["Failure Count"]) == 0, (tmp_path / "stats_failures.csv").read_text()
    # Both journeys ran, with ids folded into names so the stats stay readable.
    assert {"/api/products/[id]", "/api/orders", "/api/cs/chats", "first response"} <= set(rows)
    # Every step of the order journey, and the customer-service follow-ups, through the endpoint map.
    assert {"/api/inventory/[id]", "/api/carts", "/api/carts/[id]/items", "/api/orders/[id]/pay",
            "/api/orders/[id]/tracking", "/api/cs/chats/[id]/escalate"} <= set(rows)
    assert not any(name.rstrip("/").split("/")[-1].isdigit() for name in rows)

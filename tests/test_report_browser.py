"""report.html in real headless Chromium: the inline script runs offline and draws every chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import assert_drawn, rendered_charts, screenshot
from peakdrill.report import build_report, report_files
from runfactory import make_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    run = make_run(tmp_path_factory.mktemp("browser"))
    build_report(run.path)
    files = report_files(run.path)
    return files.html


def test_every_chart_is_drawn_in_headless_chromium(report, tmp_path):
    charts = rendered_charts(tmp_path, report)
    assert set(charts) == {"latency", "throughput", "server_cache"}
    for name, (tag, body) in charts.items():
        assert_drawn(tag, body, min_points=100)
        assert "fault" in body and "run time (s)" in body, name  # shaded fault window and axis label
    latency = charts["latency"][1]
    # The reference shop's preset has one latency rule (cache-backed reads, p99 <= 50 ms): its bound is drawn.
    assert latency.count('class="target-line"') == 1 and "p99 &lt;= 50ms" in latency, latency[-3000:]
    assert latency.count('class="series"') == 4


def test_screenshot_is_not_blank(report, tmp_path):
    image = screenshot(tmp_path, report)
    assert image.width == 1280
    colours = image.crop((0, 0, 1280, 1100)).getcolors(maxcolors=1_000_000)
    assert len(colours) > 200, f"only {len(colours)} distinct colours: the page looks blank"
    # the verdict banner (PASS, green) sits near the top of the page
    banner = [image.getpixel((x, 110)) for x in range(1280)]
    greens = sum(1 for r, g, b in banner if g > r + 20 and g > b)
    assert greens > 300, "no green PASS banner near the top"

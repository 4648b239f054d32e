"""The command-line options of the live views, shared by ``drill``, ``load`` and ``capacity``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from peakdrill.argtypes import number
from peakdrill.options import option
from peakdrill.live import LiveOptions, LiveViews
from peakdrill.live.progress import wanted as progress_bar_wanted


PORT = number(int, 0, 65535, above_low=False, example="9464")


def add_live_options(parser: argparse.ArgumentParser) -> None:
    live = parser.add_argument_group("watching the run live (docs/live.md)")
    option(live, "--metrics-port", type=PORT, metavar="PORT",
           help="serve Prometheus metrics of the run on PORT (0: any free port, printed at the start)")
    option(live, "--metrics-host", default="127.0.0.1",
           help="interface for --metrics-port; anything but loopback exposes the run to that network")
    option(live, "--web", action="store_true",
           help="serve the live report page (the report so far, refreshed, with a 'stop the drill' button)")
    option(live, "--web-port", type=PORT, default=0, metavar="PORT", help="port of the live page (0: any free port)")
    option(live, "--web-host", default="127.0.0.1",
           help="interface for the live page; anything but loopback exposes the run (the stop needs the token)")


def live_views(args: argparse.Namespace, plan) -> LiveViews | None:
    """The views asked for, bound now (a port in use is a usage error before anything runs)."""
    options = LiveOptions(metrics_port=args.metrics_port, metrics_host=args.metrics_host,
                          web_port=int(args.web_port) if args.web else None, web_host=args.web_host,
                          progress_bar=not args.no_progress and progress_bar_wanted())
    return LiveViews(options, plan) if options.anything else None


@contextmanager
def watching(args: argparse.Namespace, plan) -> Iterator[tuple[LiveViews, ...]]:
    """The observers to hand to ``run_drill``; the servers close when the block (run and report) ends."""
    views = live_views(args, plan)
    try:
        yield (views,) if views is not None else ()
    finally:
        if views is not None:
            views.close()

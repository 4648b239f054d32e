"""Locust worker processes that join a master on another machine (``peakdrill load --worker``,
``peakdrill drill --worker``; plain ``locust --worker`` joins the same way).

A worker records nothing itself: its measurements travel to the master inside Locust's own
reports, and the master writes the run directory. Only Locust's log is kept here.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from peakdrill.errors import DrillError, SpecError
from peakdrill.rundir import new_run_id
from peakdrill.run.locust import LoadSpec, LocustProcess, Topology
from peakdrill.spec.endpoints import endpoints_env, load_endpoint_map
from peakdrill.spec.profile import load_profile


@dataclass(slots=True, frozen=True)
class WorkerOptions:
    locustfile: Path
    profile_file: Path
    scale: float
    workers: int
    endpoints: Path | None  # the target's endpoint map; None: the reference shop's paths
    source: str  # where these settings came from, for errors: "the command line" or the drill file


def run_worker(options: WorkerOptions, topology: Topology, reports_dir: Path) -> int:
    """Run until the master ends the test (exit 0), or until Ctrl-C / SIGTERM (exit 3)."""
    if not options.workers > 0:
        raise SpecError(options.source, "--workers", f"{options.workers!r} is not above 0", "pass --workers 1 or more")
    # The journeys read think time and mix from the profile, so a bad one must fail here, not in Locust.
    profile = load_profile(options.profile_file)
    if options.endpoints is not None:
        load_endpoint_map(options.endpoints)
    log_dir = reports_dir / new_run_id(f"{profile.name}-worker")
    log_dir.mkdir(parents=True, exist_ok=True)
    locust = LocustProcess(LoadSpec(locustfile=options.locustfile, profile=options.profile_file, scale=options.scale,
                                    workers=options.workers, host="", run_dir=log_dir, topology=topology,
                                    env=endpoints_env(options.endpoints)))
    previous_sigterm = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        pid = locust.start()
        print(f"peakdrill: {options.workers} Locust worker(s) (pid {pid}) joining the master at "
              f"{topology.master_host}:{topology.master_port}; Locust's log: {log_dir / 'locust.log'}", flush=True)
        exit_code = None
        while exit_code is None:
            exit_code = locust.wait(timeout=1.0)
    except KeyboardInterrupt:
        print("peakdrill: interrupted; stopping the worker(s)", flush=True)
        return 3
    finally:
        locust.stop()
        signal.signal(signal.SIGTERM, previous_sigterm)
    if exit_code != 0:
        raise DrillError(f"the Locust worker exited with {exit_code}; its log says:\n{locust.log_tail()}")
    print("peakdrill: the master ended the test; worker done", flush=True)
    return 0

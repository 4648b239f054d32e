"""``peakdrill plan --drill``: size a whole drill and write what runs it in a cluster."""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime
from pathlib import Path

from peakdrill.errors import SizingError, quote
from peakdrill.sizing.calibration import CONSERVATIVE, load_calibration
from peakdrill.sizing.cluster_drill import even_shards, load_cluster_drill
from peakdrill.sizing.drill_manifests import RUNNER_ACCOUNT, DrillCluster, drill_manifests
from peakdrill.sizing.manifests import loadtest_files, write_files
from peakdrill.sizing.plan import PlanRequest, plan, table
from peakdrill.sizing.rbac import Rule, rules_for

START_LEAD_S = 30 * 60  # without --start-at: time to apply the manifests and schedule every worker


def start_at(value: str | None, masters: int) -> tuple[str | None, str]:
    """When the masters start, as UTC ISO 8601, and how it was chosen (one master: when it is ready)."""
    if value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise SizingError(f"--start-at {quote(value)} is not an ISO 8601 time; write e.g. 2026-11-10T15:30:00Z") from None
        if moment.tzinfo is None:
            raise SizingError(f"--start-at {quote(value)} has no time zone; write it in UTC, e.g. 2026-11-10T15:30:00Z")
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "--start-at"
    if masters == 1:
        return None, ""
    lead = math.ceil((time.time() + START_LEAD_S) / 60) * 60
    return (datetime.fromtimestamp(lead, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            f"plan time + {START_LEAD_S // 60} min, as no --start-at was given: apply the manifests before then, "
            "or change start-at in the peakdrill-clock ConfigMap")


def _rules_table(rules: tuple[Rule, ...], target_namespace: str) -> str:
    if not rules:
        return "role: none (the experiments do not call the Kubernetes API); the runner gets no ServiceAccount token"
    lines = [f"role {RUNNER_ACCOUNT} in namespace {target_namespace} (all the experiments call, nothing else):"]
    lines += [f"  {rule.api_group or 'core'}/{rule.resource}: {', '.join(rule.verbs)}" for rule in rules]
    return "\n".join(lines)


def plan_drill(args: argparse.Namespace) -> int:
    if args.profile:
        raise SizingError("--profile does not go with --drill: the drill names its own profile (load.profile)")
    loadtests_dir = Path(args.loadtests_dir)
    drill = load_cluster_drill(Path(args.drill), users=args.users, host=args.host, allow_hosts=tuple(args.allow_host or ()),
                               loadtests_dir=loadtests_dir, target_namespace=args.target_namespace,
                               experiments_dir=Path(args.experiments_dir) if args.experiments_dir else None)
    rules = rules_for(drill.documents)
    request = PlanRequest(users=args.users, think_time_s=args.think_time or drill.profile.think_time.mean,
                          cpu_target_percent=args.cpu_target, max_users_per_worker=args.max_users_per_worker,
                          workers_per_master=args.workers_per_master, targets=args.targets)
    sizing = even_shards(plan(request, load_calibration(args.calibration) if args.calibration else CONSERVATIVE))
    start, chosen = start_at(args.start_at, sizing.masters)
    cluster = DrillCluster(image=args.image, namespace=args.namespace, target_namespace=args.target_namespace, start_at=start)
    files = drill_manifests(sizing, drill, cluster, loadtest_files(loadtests_dir), rules)

    print(f"drill {drill.name!r} ({drill.drill_file}) against {drill.target_url}: profile {drill.profile.name!r} "
          f"scaled to peak at {args.users:,} users")
    print(table(sizing))
    if not args.calibration:
        print("note: no --calibration given; used the built-in conservative defaults above. "
              "Run `peakdrill calibrate` on the load machines for a sizing from measurement.")
    if start:
        print(f"start: {sizing.masters} master(s) at {start} (from {chosen})")
    print("experiments (timeline -> cluster variant):")
    for experiment, variant in drill.variants:
        print(f"  {experiment} -> {variant}")
    print(_rules_table(rules, args.target_namespace))
    if args.output_dir:
        for path in write_files(files, sizing, Path(args.output_dir)):
            print(f"wrote {path}")
    return 0

"""A drill as it runs in a cluster: the same drill file, its experiments swapped for their Kubernetes
variants, its paths pointing at the ConfigMaps, its target the cluster's, its profile scaled to the users.

Which experiment runs in the cluster: the Kubernetes variant of ``experiments/NAME.yaml`` is the
file of the **same name** in ``experiments/kubernetes/`` (the ``kubernetes/`` directory next to
the experiment), or in ``--experiments-dir DIR`` when that is given. The variants keep the
emergency plan and its drill variables and act on Deployments and Pods instead of local
processes, so a drill file needs no second copy for the cluster.

In the pods the ConfigMaps are mounted side by side, so the rewritten drill uses relative paths,
exactly as a drill file in the repository does::

    /drill/drill.yaml         the drill, rewritten
    /drill/profile.yaml       its profile, the stages already scaled to the users (load.scale 1)
    /experiments/NAME.yaml    the Kubernetes variants of its timeline's experiments
    /loadtests/...            the load tests (locustfile, journeys, profiles, endpoint maps)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from peakdrill.run.experiments import prepare
from peakdrill.errors import SizingError, quote
from peakdrill.safety import ensure_allowed
from peakdrill.sizing.manifests import shipped_path
from peakdrill.sizing.plan import Shard, Sizing, require
from peakdrill.spec.drill import load_drill
from peakdrill.spec.loader import read_yaml
from peakdrill.spec.profile import Profile, load_profile, profile_from_dict

DRILL_MOUNT, EXPERIMENTS_MOUNT = "/drill", "/experiments"
DRILL_FILE, PROFILE_FILE = "drill.yaml", "profile.yaml"
KUBERNETES_VARIANTS = "kubernetes"  # the directory next to an experiment that holds its cluster variant


@dataclass(frozen=True, slots=True)
class ClusterDrill:
    """A drill checked for the cluster: every file it needs, the Role's input and the drill the runner reads."""

    drill_file: Path
    name: str
    max_duration_s: float
    profile: Profile
    target_url: str
    experiments: dict[str, Path]  # file name under /experiments -> the Kubernetes variant it ships
    variants: tuple[tuple[str, Path], ...]  # per timeline entry: its experiment, the variant that runs instead
    documents: dict[Path, dict]  # each variant as Chaos Toolkit loaded and validated it, with the drill's vars
    document: dict  # the drill the runner reads at /drill/drill.yaml
    profile_document: dict  # its profile at /drill/profile.yaml, scaled to the users

    @property
    def runner_drill(self) -> str:
        return f"{DRILL_MOUNT}/{DRILL_FILE}"


def kubernetes_variant(experiment: Path, experiments_dir: Path | None) -> Path:
    return (experiments_dir if experiments_dir is not None else experiment.parent / KUBERNETES_VARIANTS) / experiment.name


def load_cluster_drill(drill_file: Path, *, users: int, host: str | None, allow_hosts: tuple[str, ...],
                       loadtests_dir: Path, experiments_dir: Path | None, target_namespace: str) -> ClusterDrill:
    """Load ``drill_file``, check everything the cluster run needs, and rewrite it for the pods."""
    drill = load_drill(drill_file)
    target_url = host or drill.target.url
    if not target_url:
        raise SizingError(f"{drill_file}: the drill names no target.url (it drills the embedded reference shop, which "
                          "does not run in a cluster); give --host, the URL of the shop in the cluster, e.g. "
                          "--host http://shop-app.shop.svc:8080 --allow-host shop-app.shop.svc")
    allowed = (*drill.target.allowed_hosts, *allow_hosts)
    ensure_allowed(target_url, allowed, str(drill_file))
    profile = load_profile(drill.load.profile)

    experiments: dict[str, Path] = {}
    documents: dict[Path, dict] = {}
    timeline, variants = [], []
    raw = read_yaml(drill_file)
    for index, (entry, raw_entry) in enumerate(zip(drill.timeline, raw.get("timeline") or (), strict=True)):
        variant = kubernetes_variant(Path(entry.experiment), experiments_dir)
        field = f"{drill_file}: timeline.{index}.experiment"
        if not variant.is_file():
            raise SizingError(f"{field}: {quote(entry.experiment)} has no Kubernetes variant at {variant} (fix: write one "
                              f"there, with the same drill variables, or point --experiments-dir at the directory of yours)")
        if experiments.setdefault(variant.name, variant) != variant:
            raise SizingError(f"{field}: two experiments named {quote(variant.name)} from different directories would share "
                              "one file in the experiments ConfigMap; rename one")
        if str(entry.vars.get("ns", target_namespace)) != target_namespace:
            raise SizingError(f"{field}: vars.ns is {quote(entry.vars['ns'])} but the Role is written for "
                              f"--target-namespace {target_namespace!r}; make them the same")
        # Loads it through Chaos Toolkit and checks the drill's vars are declared: what the runner will do.
        documents[variant] = prepare(index, entry.at, variant, dict(entry.vars), entry.recovery_target).experiment
        timeline.append({**raw_entry, "experiment": f"..{EXPERIMENTS_MOUNT}/{variant.name}"})
        variants.append((entry.experiment, variant))

    def shipped(path: str, what: str) -> str:
        return f"../loadtests/{shipped_path(Path(path), loadtests_dir, what)}"

    target = {"url": target_url, "allowed_hosts": list(allowed)}
    if drill.target.endpoint_map:
        target["endpoint_map"] = shipped(drill.target.endpoint_map, "the drill's target.endpoint_map")
    load = {**raw["load"], "profile": PROFILE_FILE, "scale": 1.0,
            "locustfile": shipped(drill.load.locustfile, "the drill's load.locustfile")}
    document = {**raw, "target": target, "load": load, "timeline": timeline}
    return ClusterDrill(drill_file=drill_file, name=drill.name, max_duration_s=drill.max_duration, profile=profile,
                        target_url=target_url, experiments=experiments, variants=tuple(variants), documents=documents,
                        document=document, profile_document=_scaled(Path(drill.load.profile), profile, users))


def _scaled(path: Path, profile: Profile, users: int) -> dict:
    """The profile as written, its stages scaled once so that the shards together peak at ``users``."""
    raw = read_yaml(path)
    scale = users / profile.peak_users
    stages = []
    for raw_stage, stage in zip(raw["stages"], profile.scaled_stages(scale), strict=True):
        rates = {"spawn_rate": stage.spawn_rate} | ({"arrival_rate": stage.arrival_rate} if stage.arrival_rate is not None else {})
        stages.append({**raw_stage, "users": stage.users, **rates})
    description = f"{raw.get('description', '')}".strip()
    document = {**raw, "description": f"{description} Scaled by `peakdrill plan` to peak at {users:,} users.".strip(),
                "stages": stages}
    if profile.peak_concurrent_users:
        document["peak_concurrent_users"] = max(1, round(profile.peak_concurrent_users * scale))
    profile_from_dict(document, f"{path} scaled to {users:,} users")  # refused here, not in the runner
    return document


def even_shards(sizing: Sizing) -> Sizing:
    """The sizing with every shard the same: ``--shard K/N`` gives each master 1/N of the users, so each
    gets the workers the largest share needs (the total may round up by a few workers)."""
    count = sizing.masters
    users = sizing.request.users
    per_shard = math.ceil(sizing.workers / count)
    shards = tuple(Shard(index=k, workers=per_shard, users=users * (k + 1) // count - users * k // count)
                   for k in range(count))
    even = replace(sizing, workers=per_shard * count, shards=shards)
    check_adds_up(even, minimum_workers=sizing.workers)
    return even


def check_adds_up(sizing: Sizing, minimum_workers: int) -> None:
    """Every user has a worker slot, every worker a master: refuse manifests that would not carry the load."""
    users, per_worker = sizing.request.users, sizing.users_per_worker
    per_shard = max(shard.workers for shard in sizing.shards)
    require([
        (minimum_workers * per_worker >= users, f"{minimum_workers} workers x {per_worker} users each < {users} users"),
        (sizing.workers >= minimum_workers, f"{sizing.workers} workers < the {minimum_workers} the sizing needs"),
        (sizing.masters * per_shard >= sizing.workers,
         f"{sizing.masters} masters x {per_shard} workers each < {sizing.workers} workers"),
        (per_shard <= sizing.request.workers_per_master,
         f"{per_shard} workers per master > --workers-per-master {sizing.request.workers_per_master}"),
        (all(shard.workers * per_worker >= shard.users for shard in sizing.shards),
         "a shard has more users than its workers carry"),
        (sum(shard.users for shard in sizing.shards) == users, "the shards' users do not add up to --users"),
    ])

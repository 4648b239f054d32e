"""Kubernetes manifests for a whole drill: ``peakdrill plan --drill DRILL.yaml --output-dir``.

Per shard K of N: a Job ``peakdrill-drill-K`` that runs ``peakdrill drill`` as the Locust master
(shard 0 is the drill runner: it also runs the experiments' timeline, and only it gets the
ServiceAccount whose Role the experiments need), the Service its workers join, and a worker
Deployment. Common to all: the namespace, ConfigMaps with the drill, its experiments and the load
tests, the start time (N > 1), the RBAC objects, and the reports volume the run directories
are written to. A reader Pod (``reports/reader.yaml``, not applied with the rest) mounts that
volume afterwards to merge, score and copy the run out.

The Jobs and Deployments are written for the distributed drill of issue 11: ``peakdrill drill
--expect-workers N``, ``--wait-for-workers``, ``--shard K/N``, ``--start-at`` and ``peakdrill drill
--worker`` are that work's flags (docs/scaling.md says which exist today).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from peakdrill.errors import quote
from peakdrill.sizing.cluster_drill import DRILL_FILE, DRILL_MOUNT, EXPERIMENTS_MOUNT, PROFILE_FILE, ClusterDrill
from peakdrill.sizing.manifests import (CONFIGMAP_LIMIT_BYTES, DNS_LABEL, LOADTESTS_MOUNT, LOCUST_PORT, MIB, NAME, REPORTS_MOUNT,
                                        REPORTS_VOLUME, Dumper, labels, loadtests_configmap, loadtests_volume, meta,
                                        namespace, reports_claim)
from peakdrill.sizing.plan import Shard, Sizing, require
from peakdrill.sizing.rbac import Rule

# The drill runner is a Locust master process plus the runner's own (timeline, chaos, watcher,
# scraper): a core each. Requests equal limits, as for the workers: a throttled master lies.
RUNNER_RESOURCES = {"cpu": "2", "memory": "3Gi"}
READER_RESOURCES = {"cpu": "1", "memory": "2Gi"}
WAIT_FOR_WORKERS_S = 900  # scheduling a few hundred worker pods takes minutes on a busy cluster
# Beyond the drill's own max_duration: waiting for workers and the start time, then the report.
JOB_GRACE_S = 1800
READER_LIFETIME_S = 4 * 3600
RUNNER_ACCOUNT = f"{NAME}-drill-runner"
CLOCK = f"{NAME}-clock"



@dataclass(frozen=True, slots=True)
class DrillCluster:
    """Where and with what the drill runs; the plan checks these before writing anything."""

    image: str
    namespace: str  # peakdrill's own: Jobs, workers, ConfigMaps, the reports volume
    target_namespace: str  # the shop's: where the experiments act, and so where the Role is
    start_at: str | None = None  # when the masters start (UTC, ISO 8601); needed when there are several

    def __post_init__(self) -> None:
        require([
            (bool(self.image.strip()), f"--image {self.image!r} is empty; name an image with peakdrill installed"),
            *((bool(DNS_LABEL.fullmatch(value)),
               f"{flag} {quote(value)} is not a Kubernetes name; use lower-case letters, digits and '-'")
              for flag, value in (("--namespace", self.namespace), ("--target-namespace", self.target_namespace))),
        ])


def _configmap(name: str, cluster: DrillCluster, component: str, data: dict[str, str]) -> dict:
    size = sum(len(text.encode()) for text in data.values())
    require([(size <= CONFIGMAP_LIMIT_BYTES, f"the {component} are {size:,} bytes, over the {CONFIGMAP_LIMIT_BYTES:,} "
                                             "one ConfigMap holds; bake them into the image instead")])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, cluster.namespace, labels(component)),
            "data": data}


def _volumes(drill: ClusterDrill, loadtests: dict[str, str]) -> list[dict]:
    return [{"name": "drill", "configMap": {"name": f"{NAME}-drill"}},
            {"name": "experiments", "configMap": {"name": f"{NAME}-experiments"}},
            loadtests_volume(loadtests)]


def _mounts(reports: bool) -> list[dict]:
    mounts = [{"name": name, "mountPath": path, "readOnly": True}
              for name, path in (("drill", DRILL_MOUNT), ("experiments", EXPERIMENTS_MOUNT), ("loadtests", LOADTESTS_MOUNT))]
    return mounts + ([{"name": "reports", "mountPath": REPORTS_MOUNT}] if reports else [])


def _component(shard: Shard) -> str:
    return "runner" if shard.index == 0 else "master"


def _drill_name(shard: Shard) -> str:
    return f"{NAME}-drill-{shard.index}"


def _runner_job(shard: Shard, sizing: Sizing, drill: ClusterDrill, cluster: DrillCluster,
                loadtests: dict[str, str], rules: tuple[Rule, ...]) -> dict:
    pod_labels = labels(_component(shard), shard)
    args = ["drill", drill.runner_drill, "--expect-workers", str(shard.workers),
            "--wait-for-workers", str(WAIT_FOR_WORKERS_S), "--reports-dir", REPORTS_MOUNT]
    env = [{"name": "PYTHONUNBUFFERED", "value": "1"}]
    if sizing.masters > 1:
        # Each shard's run directory is one part; `peakdrill merge` makes the one report.
        args += ["--shard", f"{shard.index}/{sizing.masters}", "--no-report"]
    if cluster.start_at:
        env.append({"name": "PEAKDRILL_START_AT", "valueFrom": {"configMapKeyRef": {"name": CLOCK, "key": "start-at"}}})
    runs_experiments = shard.index == 0 and bool(drill.experiments)
    if runs_experiments:
        env += [{"name": "PEAKDRILL_TARGET_URL", "value": drill.target_url},  # the experiments' shop_url
                {"name": "PEAKDRILL_K8S_NAMESPACE", "value": cluster.target_namespace},
                {"name": "CHAOSTOOLKIT_IN_POD", "value": "true"}]  # chaosk8s: use the ServiceAccount's token
    resources = dict(RUNNER_RESOURCES)
    container = {"name": "drill", "image": cluster.image, "command": ["peakdrill"], "args": args, "env": env,
                 "ports": [{"name": "locust", "containerPort": LOCUST_PORT}],
                 "resources": {"requests": resources, "limits": dict(resources)}, "volumeMounts": _mounts(reports=True)}
    pod = {"restartPolicy": "Never", "containers": [container],
           "volumes": [*_volumes(drill, loadtests), REPORTS_VOLUME]}
    if runs_experiments and rules:
        pod["serviceAccountName"] = RUNNER_ACCOUNT
    else:
        pod["automountServiceAccountToken"] = False
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(_drill_name(shard), cluster.namespace, pod_labels),
            # Never run a drill twice by retrying it; past the deadline Kubernetes stops it (SIGTERM:
            # rollbacks play) instead of leaving faults and load running unattended.
            "spec": {"backoffLimit": 0, "activeDeadlineSeconds": int(drill.max_duration_s) + JOB_GRACE_S,
                     "template": {"metadata": {"labels": pod_labels}, "spec": pod}}}


def _service(shard: Shard, cluster: DrillCluster) -> dict:
    selector = labels(_component(shard), shard)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(_drill_name(shard), cluster.namespace, selector),
            "spec": {"selector": selector, "ports": [{"name": "locust", "port": LOCUST_PORT, "targetPort": LOCUST_PORT}]}}


def _workers(shard: Shard, sizing: Sizing, drill: ClusterDrill, cluster: DrillCluster, loadtests: dict[str, str]) -> dict:
    pod_labels = labels("worker", shard)
    resources = {"cpu": "1", "memory": f"{sizing.memory_per_worker_bytes // MIB}Mi"}
    args = ["drill", drill.runner_drill, "--worker", "--workers", "1",
            "--master-host", _drill_name(shard), "--master-port", str(LOCUST_PORT)]
    annotations = {"peakdrill/nofile": str(sizing.fds_per_worker), "peakdrill/users-per-worker": str(sizing.users_per_worker)}
    container = {"name": "worker", "image": cluster.image, "command": ["peakdrill"], "args": args,
                 "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
                 "resources": {"requests": resources, "limits": dict(resources)}, "volumeMounts": _mounts(reports=False)}
    pod = {"automountServiceAccountToken": False, "containers": [container], "volumes": _volumes(drill, loadtests)}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(f"{NAME}-worker-{shard.index}", cluster.namespace, pod_labels, annotations=annotations),
            "spec": {"replicas": shard.workers, "selector": {"matchLabels": pod_labels},
                     "template": {"metadata": {"labels": pod_labels, "annotations": annotations}, "spec": pod}}}


def _rbac(cluster: DrillCluster, rules: tuple[Rule, ...]) -> list[dict]:
    """The runner's identity, allowed exactly what the experiments call, in the shop's namespace only."""
    if not rules:
        return []
    role_labels = labels("runner")
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(RUNNER_ACCOUNT, cluster.namespace, role_labels)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": meta(RUNNER_ACCOUNT, cluster.target_namespace, role_labels),
         "rules": [rule.as_policy_rule() for rule in rules]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": meta(RUNNER_ACCOUNT, cluster.target_namespace, role_labels),
         "subjects": [{"kind": "ServiceAccount", "name": RUNNER_ACCOUNT, "namespace": cluster.namespace}],
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RUNNER_ACCOUNT}},
    ]


def _reader(cluster: DrillCluster) -> dict:
    """A pod that mounts the reports volume after the drill, to merge, score and `kubectl cp` the runs out."""
    resources = dict(READER_RESOURCES)
    container = {"name": "reader", "image": cluster.image, "command": ["sleep", str(READER_LIFETIME_S)],
                 "workingDir": REPORTS_MOUNT, "resources": {"requests": resources, "limits": dict(resources)},
                 "volumeMounts": [{"name": "reports", "mountPath": REPORTS_MOUNT}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(f"{NAME}-reports", cluster.namespace, labels("reports")),
            "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False, "containers": [container],
                     "volumes": [REPORTS_VOLUME]}}


def drill_manifests(sizing: Sizing, drill: ClusterDrill, cluster: DrillCluster, loadtests: dict[str, str],
                    rules: tuple[Rule, ...]) -> dict[str, list[dict]]:
    """File name -> the Kubernetes objects it holds, in the order to apply them."""
    require([(sizing.masters == 1 or bool(cluster.start_at),
              f"{sizing.masters} masters need a common start time; give --start-at")])
    common = [
        namespace(cluster.namespace),
        _configmap(f"{NAME}-drill", cluster, "drill",
                   {DRILL_FILE: yaml.dump(drill.document, Dumper=Dumper, sort_keys=False),
                    PROFILE_FILE: yaml.dump(drill.profile_document, Dumper=Dumper, sort_keys=False)}),
        _configmap(f"{NAME}-experiments", cluster, "experiments",
                   {name: path.read_text(encoding="utf-8") for name, path in sorted(drill.experiments.items())}),
        loadtests_configmap(cluster.namespace, loadtests),
        reports_claim(cluster.namespace),
    ]
    if cluster.start_at:
        common.append(_configmap(CLOCK, cluster, "clock", {"start-at": cluster.start_at}))
    out = {"00-common.yaml": common}
    if rules:
        out["01-rbac.yaml"] = _rbac(cluster, rules)
    for shard in sizing.shards:
        out[f"10-shard-{shard.index:02d}.yaml"] = [
            _service(shard, cluster),
            _workers(shard, sizing, drill, cluster, loadtests),
            _runner_job(shard, sizing, drill, cluster, loadtests, rules),
        ]
    out["reports/reader.yaml"] = [_reader(cluster)]
    return out

"""Kubernetes manifests for a sizing: ``peakdrill plan --output-dir``.

One namespace; the load tests (every file under ``loadtests/``) as a ConfigMap mounted where
Locust finds the locustfile and its ``journeys`` package; a volume claim the masters write the run
directory to; and per shard a master Job, its Service and a worker Deployment.

The master is a Job, not a Deployment: a headless master ends when its run time is over, and a
Deployment would restart it and send the whole load again. Workers and masters get CPU and memory
requests equal to their limits (Guaranteed QoS): a throttled or evicted generator makes latencies
lie. Kubernetes has no per-pod ``ulimit``; the open-file limit comes from the container runtime,
so each worker carries the figure it needs as an annotation and logs a warning at start when the
limit is lower (see docs/scaling.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from peakdrill.errors import SizingError, quote
from peakdrill.sizing.plan import MIB, Shard, Sizing, require
from peakdrill.spec.loader import parse_duration
from peakdrill.spec.profile import Profile

NAME = "peakdrill"
LOADTESTS_MOUNT = "/loadtests"
REPORTS_MOUNT = "/reports"
CONFIGMAP_LIMIT_BYTES = 1024 * 1024  # what the Kubernetes API server accepts in one object
MASTER_RESOURCES = {"cpu": "1", "memory": "2Gi"}
LOCUST_PORT = 5557
PROFILE_SHAPE = "profile_shape.py"  # under the load tests directory
_NAME = re.compile(r"[A-Za-z0-9._-]+")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class Dumper(yaml.SafeDumper):
    # Shared label dicts would come out as YAML anchors (&id001), which people reading or
    # patching the manifests trip over.
    def ignore_aliases(self, data) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Files in ConfigMaps read as files (a block), not as one escaped line.
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


Dumper.add_representer(str, _text)


@dataclass(frozen=True, slots=True)
class ProfileLoad:
    """A load profile the masters run through its LoadTestShape (``loadtests/profile_shape.py``)
    instead of a flat ramp: its stages, scaled so that the shards together peak at the sizing's users."""

    path: str  # under the load tests directory, as mounted
    peak_users: int

    @classmethod
    def shipped(cls, profile: Profile, path: Path, loadtests_dir: Path) -> ProfileLoad:
        """``profile``, read from ``path``, as the masters will find it in the ConfigMap."""
        relative = shipped_path(path, loadtests_dir, "--profile")
        if not (loadtests_dir / PROFILE_SHAPE).is_file():
            raise SizingError(f"--loadtests-dir {str(loadtests_dir)!r} has no {PROFILE_SHAPE}, which runs a profile's "
                              "stages; copy it from the project's loadtests/")
        return cls(path=relative, peak_users=profile.peak_users)

    def scale(self, shard: Shard) -> float:
        return shard.users / self.peak_users


@dataclass(frozen=True, slots=True)
class ClusterRun:
    """What the manifests run and where; validated on construction, before anything is written."""

    host: str
    image: str
    run_time: str
    ramp_up_s: float
    run_id: str
    loadtests_dir: Path
    namespace: str = NAME
    profile: ProfileLoad | None = None  # None: a flat ramp to each shard's users over ramp_up_s for run_time

    def __post_init__(self) -> None:
        try:
            seconds = parse_duration(self.run_time)
        except ValueError as exc:
            raise SizingError(f"--run-time {quote(self.run_time)} is not a duration; write e.g. 30m or 1h30m") from exc
        require([
            (seconds > 0, f"--run-time {quote(self.run_time)} must be longer than 0; e.g. 30m"),
            (self.ramp_up_s > 0, f"--ramp-up {self.ramp_up_s!r} must be above 0 seconds; e.g. 600"),
            (bool(self.image.strip()), f"--image {quote(self.image)} is empty; name an image with peakdrill installed"),
            (bool(_NAME.fullmatch(self.run_id)), f"--run-id {quote(self.run_id)} may hold only letters, digits, '.', '_' and '-'"),
            (bool(DNS_LABEL.fullmatch(self.namespace)),
             f"--namespace {quote(self.namespace)} is not a Kubernetes name; use lower-case letters, digits and '-'"),
        ])


def shipped_path(path: Path, loadtests_dir: Path, what: str) -> str:
    """``path`` relative to the load tests directory, which is all the ConfigMap ships."""
    try:
        return path.resolve().relative_to(loadtests_dir.resolve()).as_posix()
    except ValueError:
        raise SizingError(f"{what} {str(path)!r} is not under --loadtests-dir {str(loadtests_dir)!r}: only the "
                          f"load tests ship in the ConfigMap; put it in {loadtests_dir}/") from None


def labels(component: str, shard: Shard | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": component}
    if shard is not None:
        labels["peakdrill/shard"] = str(shard.index)
    return labels


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels("namespace")}}


def meta(name: str, namespace: str, labels: dict[str, str], **extra) -> dict:
    return {"name": name, "namespace": namespace, "labels": labels, **extra}


def _configmap_key(relative: Path) -> str:
    # ConfigMap keys cannot hold "/"; the volume's items put each file back at its path.
    return relative.as_posix().replace("/", "__")


def loadtest_files(loadtests_dir: Path) -> dict[str, str]:
    """Every locustfile, journey, profile and target file, keyed by its path under loadtests/."""
    files = {path.relative_to(loadtests_dir).as_posix(): path.read_text(encoding="utf-8")
             for path in sorted(loadtests_dir.rglob("*"))
             if path.is_file() and path.suffix in (".py", ".yaml", ".yml") and "__pycache__" not in path.parts}
    if "locustfile.py" not in files:
        raise SizingError(f"--loadtests-dir {str(loadtests_dir)!r} holds no locustfile.py; point it at the project's loadtests/")
    size = sum(len(text.encode()) for text in files.values())
    if size > CONFIGMAP_LIMIT_BYTES:
        raise SizingError(f"the load tests in {str(loadtests_dir)!r} are {size:,} bytes, over the {CONFIGMAP_LIMIT_BYTES:,} "
                          "a ConfigMap holds; bake them into the image instead")
    return files


def loadtests_configmap(namespace: str, files: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta(f"{NAME}-loadtests", namespace, labels("loadtests")),
            "data": {_configmap_key(Path(path)): text for path, text in files.items()}}


def loadtests_volume(files: dict[str, str]) -> dict:
    items = [{"key": _configmap_key(Path(path)), "path": path} for path in files]
    return {"name": "loadtests", "configMap": {"name": f"{NAME}-loadtests", "items": items}}


REPORTS_VOLUME = {"name": "reports", "persistentVolumeClaim": {"claimName": f"{NAME}-reports"}}


def reports_claim(namespace: str) -> dict:
    # Every master writes into the one reports volume, and it outlives their pods: ReadWriteMany.
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(f"{NAME}-reports", namespace, labels("reports")),
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "20Gi"}}}}


def _volumes(files: dict[str, str]) -> list[dict]:
    return [loadtests_volume(files), REPORTS_VOLUME]


def _container(name: str, run: ClusterRun, shard: Shard, args: list[str], resources: dict[str, str]) -> dict:
    locustfiles = [f"{LOADTESTS_MOUNT}/locustfile.py"]
    env = [{"name": "PYTHONUNBUFFERED", "value": "1"}]
    if run.profile is not None:  # workers need it too: the journeys take think time and mixes from it
        locustfiles.append(f"{LOADTESTS_MOUNT}/{PROFILE_SHAPE}")
        env += [{"name": "PEAKDRILL_PROFILE", "value": f"{LOADTESTS_MOUNT}/{run.profile.path}"},
                {"name": "PEAKDRILL_SCALE", "value": f"{run.profile.scale(shard):.6g}"}]
    return {
        "name": name, "image": run.image,
        "command": ["locust"], "args": ["-f", ",".join(locustfiles), *args],
        "env": env,
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "volumeMounts": [{"name": "loadtests", "mountPath": LOADTESTS_MOUNT, "readOnly": True},
                         {"name": "reports", "mountPath": REPORTS_MOUNT}],
    }


def _master_name(shard: Shard) -> str:
    return f"{NAME}-master-{shard.index}"


def _master_job(shard: Shard, run: ClusterRun, files: dict[str, str]) -> dict:
    pod_labels = labels("master", shard)
    # With a profile, its shape sets users, spawn rates and the end of the run.
    flat = [] if run.profile else ["-u", str(shard.users), "-r", f"{max(1.0, shard.users / run.ramp_up_s):g}",
                                   "-t", run.run_time]
    args = ["--master", "--headless", "--host", run.host, "--expect-workers", str(shard.workers), *flat,
            "--stop-timeout", "10", "--peakdrill-run-dir", f"{REPORTS_MOUNT}/{run.run_id}"]
    pod = {"restartPolicy": "Never", "volumes": _volumes(files),
           "containers": [_container("locust-master", run, shard, args, MASTER_RESOURCES)]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(_master_name(shard), run.namespace, pod_labels),
            "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": pod_labels}, "spec": pod}}}


def _master_service(shard: Shard, run: ClusterRun) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(_master_name(shard), run.namespace, labels("master", shard)),
            "spec": {"selector": labels("master", shard),
                     "ports": [{"name": "locust", "port": LOCUST_PORT, "targetPort": LOCUST_PORT}]}}


def _worker_deployment(sizing: Sizing, shard: Shard, run: ClusterRun, files: dict[str, str]) -> dict:
    pod_labels = labels("worker", shard)
    resources = {"cpu": "1", "memory": f"{sizing.memory_per_worker_bytes // MIB}Mi"}
    args = ["--worker", "--master-host", _master_name(shard), "--master-port", str(LOCUST_PORT)]
    annotations = {"peakdrill/nofile": str(sizing.fds_per_worker), "peakdrill/users-per-worker": str(sizing.users_per_worker)}
    pod = {"volumes": _volumes(files), "containers": [_container("locust-worker", run, shard, args, resources)]}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(f"{NAME}-worker-{shard.index}", run.namespace, pod_labels, annotations=annotations),
            "spec": {"replicas": shard.workers, "selector": {"matchLabels": pod_labels},
                     "template": {"metadata": {"labels": pod_labels, "annotations": annotations}, "spec": pod}}}


def manifests(sizing: Sizing, run: ClusterRun) -> dict[str, list[dict]]:
    """File name -> the Kubernetes objects it holds, in the order to apply them."""
    files = loadtest_files(run.loadtests_dir)
    common = [
        namespace(run.namespace),
        loadtests_configmap(run.namespace, files),
        reports_claim(run.namespace),
    ]
    out = {"00-common.yaml": common}
    for shard in sizing.shards:
        out[f"10-shard-{shard.index:02d}.yaml"] = [
            _master_service(shard, run),
            _worker_deployment(sizing, shard, run, files),
            _master_job(shard, run, files),
        ]
    return out


def write_files(files: dict[str, list[dict]], sizing: Sizing, output_dir: Path) -> list[Path]:
    """Write each file's objects under ``output_dir`` (names may hold a sub-directory)."""
    header = (f"# Written by `peakdrill plan` for {sizing.request.users:,} users ({sizing.workers} workers, "
              f"{sizing.masters} master(s)). Apply with: kubectl apply -f {output_dir}/\n"
              f"# Workers need an open-file limit of at least {sizing.fds_per_worker} (container runtime nofile).\n")
    written = []
    for name, objects in files.items():
        path = output_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + yaml.dump_all(objects, Dumper=Dumper, sort_keys=False), encoding="utf-8")
        written.append(path)
    return written


def write_manifests(sizing: Sizing, run: ClusterRun, output_dir: Path) -> list[Path]:
    return write_files(manifests(sizing, run), sizing, output_dir)

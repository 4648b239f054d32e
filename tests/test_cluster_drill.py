"""``peakdrill plan --drill``: a whole drill in a cluster, checked against the real Kubernetes schemas."""

from __future__ import annotations

import copy
import importlib
import inspect
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from peakdrill.cli import main
from peakdrill.drill.plan import build_plan
from peakdrill.sizing.calibration import CONSERVATIVE, Calibration
from peakdrill.sizing.cluster_drill import even_shards
from peakdrill.sizing.plan import PlanRequest, plan
from peakdrill.sizing.rbac import KUBERNETES_API

ROOT = Path(__file__).resolve().parent.parent
LOADTESTS = ROOT / "loadtests"
# The newest Kubernetes minor kubernetes-validate ships schemas for (1.37, August 2026).
KUBERNETES_VERSION = "1.37"
CLUSTER = ["--host", "http://shop-app.shop.svc:8080", "--allow-host", "shop-app.shop.svc", "--loadtests-dir", str(LOADTESTS)]
START = "2026-11-10T15:30:00Z"


def _plan(tmp_path: Path, *args: str) -> dict[str, list[dict]]:
    out = tmp_path / "k8s"
    assert main(["plan", *args, *CLUSTER, "--output-dir", str(out)]) == 0
    return {path.relative_to(out).as_posix(): list(yaml.safe_load_all(path.read_text()))
            for path in sorted(out.rglob("*.yaml"))}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, list[dict]]:
    return _plan(tmp_path_factory.mktemp("demo"), "--drill", str(ROOT / "drills/demo.yaml"), "--users", "1000000",
                 "--start-at", START)


def _all(files: dict[str, list[dict]]) -> list[dict]:
    return [obj for objects in files.values() for obj in objects]


def _kind(files: dict[str, list[dict]], kind: str) -> list[dict]:
    return [obj for obj in _all(files) if obj["kind"] == kind]


def _container(obj: dict) -> dict:
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
    return spec["containers"][0]


def _validate(files: dict[str, list[dict]]) -> None:
    for name, objects in files.items():
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {obj['kind']} {obj['metadata']['name']}: {exc}")


def test_every_drill_manifest_passes_the_kubernetes_schemas(demo):
    _validate(demo)
    kinds = sorted({obj["kind"] for obj in _all(demo)})
    assert kinds == ["ConfigMap", "Deployment", "Job", "Namespace", "PersistentVolumeClaim", "Pod", "Role",
                     "RoleBinding", "Service", "ServiceAccount"]


def test_the_validation_can_fail(demo):
    job = copy.deepcopy(_kind(demo, "Job")[0])
    job["spec"]["template"]["spec"]["containers"][0]["resource"] = {}  # a typo strict validation must catch
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


def test_the_load_manifests_pass_the_kubernetes_schemas_too(tmp_path):
    _validate(_plan(tmp_path, "--users", "1000000", "--profile", str(LOADTESTS / "profiles/double11-peak.yaml")))


def test_the_role_grants_exactly_what_the_demo_drills_experiments_call(demo):
    (role,), (binding,), (account,) = (_kind(demo, kind) for kind in ("Role", "RoleBinding", "ServiceAccount"))
    # experiments/kubernetes/cache-outage.yaml: deployment_available_and_healthy lists deployments,
    # scale_deployment patches one; nothing else of its activities calls the Kubernetes API.
    assert role["rules"] == [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list", "patch"]}]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "shop"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": account["metadata"]["namespace"]}]
    pods = [obj["spec"]["template"]["spec"] for obj in _kind(demo, "Job") + _kind(demo, "Deployment")]
    with_account = [pod for pod in pods if pod.get("serviceAccountName")]
    assert len(with_account) == 1 and with_account[0]["serviceAccountName"] == account["metadata"]["name"]
    assert all(pod.get("automountServiceAccountToken") is False for pod in pods if pod not in with_account)


# A call, or a list function handed to watch.Watch().stream.
_CALL = re.compile(r"\.(list|patch|delete|create|read|replace)_namespaced_([a-z]+(?:_log)?)\b")
_VERB = {"read": "get", "replace": "update"}


def _api_calls(function) -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every Kubernetes client call in ``function`` and the module's helpers it calls."""
    module = importlib.import_module(function.__module__)
    seen, todo, calls = set(), [function], set()
    while todo:
        source = inspect.getsource(todo.pop())
        group = "apps" if "AppsV1Api" in source else ""
        for verb, kind in _CALL.findall(source):
            resource = "pods/log" if kind == "pod_log" else kind + "s"
            calls.add((group, resource, _VERB.get(verb, verb)))
            if "watch.Watch" in source:
                calls.add((group, resource, "watch"))
        for name in re.findall(r"\b(\w+)\(", source):
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) and helper.__module__ == module.__name__ and name not in seen:
                seen.add(name)
                todo.append(helper)
    return calls


@pytest.mark.parametrize("name", sorted(KUBERNETES_API))
def test_the_permission_table_matches_what_chaostoolkit_kubernetes_calls(name):
    module, _, func = name.rpartition(".")
    found = _api_calls(getattr(importlib.import_module(module), func))
    table = {(group, resource, verb) for group, resource, verbs in KUBERNETES_API[name] for verb in verbs}
    assert table == found


def test_an_action_the_table_does_not_know_is_refused_with_the_fix(tmp_path, capsys):
    variants = tmp_path / "variants"
    variants.mkdir()
    experiment = yaml.safe_load((ROOT / "experiments/kubernetes/cache-outage.yaml").read_text())
    experiment["method"][0]["provider"].update(module="chaosk8s.node.actions", func="drain_nodes", arguments={})
    (variants / "cache-outage.yaml").write_text(yaml.safe_dump(experiment))
    code = main(["plan", "--drill", str(ROOT / "drills/demo.yaml"), *CLUSTER, "--experiments-dir", str(variants),
                 "--output-dir", str(tmp_path / "k8s")])
    err = capsys.readouterr().err
    assert code == 2
    assert "chaosk8s.node.actions.drain_nodes" in err and "method.0 (scale-cache-to-zero)" in err
    assert "KUBERNETES_API in peakdrill/sizing/rbac.py" in err
    assert not (tmp_path / "k8s").exists()


def test_the_sizing_adds_up_in_the_manifests(demo):
    jobs, workers = _kind(demo, "Job"), _kind(demo, "Deployment")
    replicas = {w["metadata"]["labels"]["peakdrill/shard"]: w["spec"]["replicas"] for w in workers}
    users_per_worker = int(workers[0]["metadata"]["annotations"]["peakdrill/users-per-worker"])
    total = sum(replicas.values())
    assert total * users_per_worker >= 1_000_000, "workers x users per worker >= users"
    assert len(jobs) * max(replicas.values()) >= total, "shards x workers per shard >= workers"
    assert total >= math.ceil(1_000_000 / users_per_worker)
    for job in jobs:
        args = _container(job)["args"]
        shard = job["metadata"]["labels"]["peakdrill/shard"]
        assert int(args[args.index("--expect-workers") + 1]) == replicas[shard]
        assert args[args.index("--shard") + 1] == f"{shard}/{len(jobs)}"
        # --shard K/N gives each master 1/N of the users: its workers must carry them.
        assert replicas[shard] * users_per_worker >= math.ceil(1_000_000 / len(jobs))


@pytest.mark.parametrize("users,think,per_master", [(1, 1, 200), (999, 1, 200), (1_000_000, 1, 200),
                                                    (1_234_567, 0.3, 7), (1_000_000, 9, 200), (50_000, 2, 1)])
def test_even_shards_add_up(users, think, per_master):
    calibration = Calibration(source="test", requests_per_cpu_second=1234.0, memory_per_user_bytes=40_000, base_rss_bytes=0)
    sizing = plan(PlanRequest(users=users, think_time_s=think, workers_per_master=per_master), calibration)
    even = even_shards(sizing)
    per_shard = {shard.workers for shard in even.shards}
    assert len(per_shard) == 1 and per_shard.pop() <= per_master
    assert even.workers * even.users_per_worker >= users
    assert even.masters * even.shards[0].workers >= sizing.workers
    assert sum(shard.users for shard in even.shards) == users
    assert all(shard.users * even.masters - users in range(-even.masters, even.masters) for shard in even.shards)


def _materialize(files: dict[str, list[dict]], job: dict, root: Path) -> None:
    """Lay the Job's ConfigMap volumes out at their mount paths under ``root``, as the kubelet would."""
    configmaps = {obj["metadata"]["name"]: obj["data"] for obj in _kind(files, "ConfigMap")}
    spec = job["spec"]["template"]["spec"]
    mounts = {mount["name"]: mount["mountPath"] for mount in spec["containers"][0]["volumeMounts"]}
    for volume in spec["volumes"]:
        if "configMap" not in volume:
            continue
        data = configmaps[volume["configMap"]["name"]]
        items = volume["configMap"].get("items") or [{"key": key, "path": key} for key in data]
        for item in items:
            path = root / mounts[volume["name"]].lstrip("/") / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data[item["key"]])


def test_the_runner_reads_a_valid_drill_with_the_kubernetes_variants_at_full_scale(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("PEAKDRILL_ALLOWED_HOSTS", "")  # build_plan sets it; restored after the test
    runner = next(job for job in _kind(demo, "Job") if job["metadata"]["labels"]["app.kubernetes.io/component"] == "runner")
    _materialize(demo, runner, tmp_path)
    args = _container(runner)["args"]
    drill_plan = build_plan(tmp_path / args[1].lstrip("/"))
    assert drill_plan.target_url == "http://shop-app.shop.svc:8080"
    # Scaled once, in the shipped profile: the drill runs it as written.
    assert drill_plan.scale == 1.0 and max(stage.users for stage in drill_plan.stages) == 1_000_000
    assert [stage.users for stage in drill_plan.profile.stages] == [333_333, 1_000_000]  # demo: 10 and 30 users
    assert [step.path.name for step in drill_plan.steps] == ["cache-outage.yaml"]
    assert drill_plan.steps[0].experiment["title"].startswith("Cache outage (Kubernetes)")
    assert drill_plan.steps[0].configuration["outage_duration"] == 30  # the drill's vars still apply
    env = {item["name"]: item.get("value") for item in _container(runner)["env"]}
    assert env["PEAKDRILL_TARGET_URL"] == drill_plan.target_url and env["PEAKDRILL_K8S_NAMESPACE"] == "shop"


def test_the_runbooks_double11_drill_runs_on_one_master_with_the_role_for_both_plans(tmp_path):
    files = _plan(tmp_path, "--drill", str(ROOT / "drills/double11.yaml"), "--users", "1000000")
    _validate(files)
    expected = plan(PlanRequest(users=1_000_000, think_time_s=9), CONSERVATIVE)
    (job,), (workers,) = _kind(files, "Job"), _kind(files, "Deployment")
    assert workers["spec"]["replicas"] == expected.workers and "--shard" not in _container(job)["args"]
    assert not [obj for obj in _kind(files, "ConfigMap") if obj["metadata"]["name"] == "peakdrill-clock"]
    (role,) = _kind(files, "Role")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "list"]},
                             {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list", "patch"]}]


@pytest.mark.parametrize("drill,start", [("double11", START), ("demo", None)])
def test_the_masters_read_their_start_time_from_one_clock(tmp_path, drill, start):
    files = _plan(tmp_path, "--drill", str(ROOT / f"drills/{drill}.yaml"), "--users", "1000000",
                  *(["--start-at", "2026-11-10T16:30:00+01:00"] if start else []))
    (clock,) = [obj for obj in _kind(files, "ConfigMap") if obj["metadata"]["name"] == "peakdrill-clock"]
    at = datetime.fromisoformat(clock["data"]["start-at"])
    if start:
        assert clock["data"]["start-at"] == START  # written in UTC
    else:  # several masters and no --start-at: the plan's own time + 30 min
        assert timedelta(minutes=29) < at - datetime.now(UTC) <= timedelta(minutes=31)
    for job in _kind(files, "Job"):
        (ref,) = [item["valueFrom"]["configMapKeyRef"] for item in _container(job)["env"] if item["name"] == "PEAKDRILL_START_AT"]
        assert ref == {"name": "peakdrill-clock", "key": "start-at"}


@pytest.mark.parametrize("args,words", [
    ([], "names no target.url"),
    (["--host", "http://shop.example.com"], "--allow-host shop.example.com"),
    (["--host", "http://127.0.0.1:8800", "--experiments-dir", "{empty}"], "timeline.0.experiment"),
    (["--host", "http://127.0.0.1:8800", "--start-at", "tomorrow"], "--start-at 'tomorrow'"),
    (["--host", "http://127.0.0.1:8800", "--start-at", "2026-11-10T15:30:00"], "no time zone"),
    (["--host", "http://127.0.0.1:8800", "--target-namespace", "Shop_1"], "--target-namespace 'Shop_1'"),
    (["--host", "http://127.0.0.1:8800", "--profile", str(LOADTESTS / "profiles/demo.yaml")], "--profile does not go with --drill"),
])
def test_bad_input_is_refused_before_any_manifest_is_written(tmp_path, capsys, args, words):
    (tmp_path / "empty").mkdir()
    args = [arg.replace("{empty}", str(tmp_path / "empty")) for arg in args]
    code = main(["plan", "--drill", str(ROOT / "drills/demo.yaml"), "--loadtests-dir", str(LOADTESTS),
                 "--output-dir", str(tmp_path / "k8s"), *args])
    assert code == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "k8s").exists()

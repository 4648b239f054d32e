"""calibrate, plan and the Kubernetes manifests: the road to 1M users."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
import yaml

from peakdrill.cli import main
from peakdrill.errors import SizingError, UnsafeTargetError
from peakdrill.sizing.calibrate import CalibrationRun, _memory_fit, _saturation
from peakdrill.sizing.calibration import CONSERVATIVE, Calibration, Sample, save_calibration
from peakdrill.sizing.fastserver import FastServer
from peakdrill.sizing.plan import EPHEMERAL_PORTS, PlanRequest, plan
from peakdrill.spec.profile import load_profile

LOADTESTS = Path(__file__).resolve().parent.parent / "loadtests"
MIB = 1024 * 1024


def calibration(rps_per_cpu: float = 1000.0, per_user: float = 32 * 1024) -> Calibration:
    return Calibration(source="test", requests_per_cpu_second=rps_per_cpu, memory_per_user_bytes=per_user,
                       base_rss_bytes=100 * MIB)


def test_users_per_worker_follow_cpu_budget_and_think_time():
    sizing = plan(PlanRequest(users=1_000_000, think_time_s=10, cpu_target_percent=70), calibration())
    assert sizing.users_per_worker == 7_000  # 1000 req/CPU-s x 70% x 10 s
    assert sizing.workers == 143 and sizing.cores == 143
    assert sizing.fds_per_worker == 8_000
    assert sizing.memory_per_worker_bytes == 448 * MIB  # (100 MiB + 7000 x 32 KiB) x 1.3, up to 64 MiB
    assert sizing.total_rps == 100_000
    assert sizing.source_addresses == -(-1_000_000 // EPHEMERAL_PORTS)
    assert sizing.masters == 1


def test_users_per_worker_stop_at_the_keep_alive_target():
    sizing = plan(PlanRequest(users=1_000_000, think_time_s=100), calibration())
    assert sizing.users_per_worker == 20_000
    assert sizing.limited_by == "keep-alive users per process"


def test_big_runs_shard_across_masters_and_keep_every_user_and_worker():
    sizing = plan(PlanRequest(users=1_000_000, think_time_s=1, workers_per_master=200), calibration())
    assert sizing.workers == 1_429 and sizing.masters == 8
    assert sum(shard.workers for shard in sizing.shards) == sizing.workers
    assert sum(shard.users for shard in sizing.shards) == 1_000_000
    assert all(shard.users <= shard.workers * sizing.users_per_worker for shard in sizing.shards)
    assert max(shard.workers for shard in sizing.shards) <= 200


def test_a_cpu_target_past_locusts_warning_is_refused():
    with pytest.raises(SizingError, match="95"):
        PlanRequest(users=10, think_time_s=1, cpu_target_percent=95)


def test_saturation_needs_three_seconds_at_ninety_percent():
    health = [{"users": users, "rps": users, "cpu_percent": cpu}
              for users, cpu in [(100, 80), (200, 95), (300, 70), (400, 91), (500, 92), (600, 99)]]
    found = _saturation(health)
    assert found is not None and found.users == 400 and found.rps == 500


def test_memory_per_user_is_the_slope_not_the_average():
    samples = [Sample(t=i, users=u, rps=1, cpu_percent=1, rss_bytes=50 * MIB + u * 20_000) for i, u in
               enumerate([0, 100, 200, 400, 800])]
    per_user, base = _memory_fit(samples)
    assert per_user == pytest.approx(20_000) and base == pytest.approx(50 * MIB, rel=1e-6)


def test_fast_server_counts_requests_split_across_reads():
    with FastServer() as server, socket.create_connection(("127.0.0.1", server.port)) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r")
        client.sendall(b"\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"ok") < 2:
            received += client.recv(4096)
        assert server.counters.requests == 2 and server.counters.connections == 1


@pytest.fixture
def manifests(tmp_path) -> dict[str, list[dict]]:
    code = main(["plan", "--users", "1000000", "--think-time", "1", "--output-dir", str(tmp_path / "k8s"),
                 "--host", "http://shop.staging.svc:8080", "--allow-host", "shop.staging.svc",
                 "--loadtests-dir", str(LOADTESTS), "--run-id", "peak"])
    assert code == 0
    return {path.name: list(yaml.safe_load_all(path.read_text())) for path in sorted((tmp_path / "k8s").glob("*.yaml"))}


def _kinds(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def test_plan_without_calibration_says_it_used_the_defaults(capsys):
    assert main(["plan", "--users", "1000"]) == 0
    assert "used the built-in conservative defaults" in capsys.readouterr().out


def test_plan_writes_one_master_job_service_and_worker_deployment_per_shard(manifests):
    expected = plan(PlanRequest(users=1_000_000, think_time_s=1), CONSERVATIVE)
    everything = [obj for objects in manifests.values() for obj in objects]
    assert [obj["kind"] for obj in manifests["00-common.yaml"]] == ["Namespace", "ConfigMap", "PersistentVolumeClaim"]
    workers = _kinds(everything, "Deployment")
    assert len(workers) == len(_kinds(everything, "Job")) == len(_kinds(everything, "Service")) == expected.masters > 1
    assert sum(worker["spec"]["replicas"] for worker in workers) == expected.workers
    for worker in workers:
        container = worker["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["requests"] == container["resources"]["limits"] == {
            "cpu": "1", "memory": f"{expected.memory_per_worker_bytes // MIB}Mi"}
        assert "--worker" in container["args"]


def test_each_master_expects_exactly_its_shards_workers(manifests):
    for name, objects in manifests.items():
        if not name.startswith("10-shard"):
            continue
        (worker,), (job,), (service,) = (_kinds(objects, kind) for kind in ("Deployment", "Job", "Service"))
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        assert int(args[args.index("--expect-workers") + 1]) == worker["spec"]["replicas"]
        assert args[args.index("--peakdrill-run-dir") + 1] == "/reports/peak"
        assert service["spec"]["selector"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
        worker_args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
        assert worker_args[worker_args.index("--master-host") + 1] == service["metadata"]["name"]


def test_configmap_holds_the_load_tests_at_their_paths(manifests):
    configmap = _kinds(manifests["00-common.yaml"], "ConfigMap")[0]
    job = _kinds(manifests["10-shard-00.yaml"], "Job")[0]
    volume = next(v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "loadtests")
    files = {item["path"]: configmap["data"][item["key"]] for item in volume["configMap"]["items"]}
    assert files["locustfile.py"] == (LOADTESTS / "locustfile.py").read_text()
    assert files["journeys/orders.py"] == (LOADTESTS / "journeys" / "orders.py").read_text()
    assert set(files) == {p.relative_to(LOADTESTS).as_posix() for p in LOADTESTS.rglob("*")
                          if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts}


def test_manifests_for_a_host_not_allowed_are_refused(tmp_path, capsys):
    code = main(["plan", "--output-dir", str(tmp_path), "--host", "http://shop.example.com"])
    assert code == 2
    assert "--allow-host shop.example.com" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_bad_calibration_file_names_the_field(tmp_path, capsys):
    bad = tmp_path / "calibration.json"
    bad.write_text(json.dumps({"source": "measured", "requests_per_cpu_second": -5,
                               "memory_per_user_bytes": 1000, "base_rss_bytes": 0}))
    assert main(["plan", "--calibration", str(bad)]) == 2
    assert "requests_per_cpu_second" in capsys.readouterr().err


@pytest.mark.slow
def test_calibrate_measures_one_process_and_plan_reads_it(tmp_path, capsys):
    output = tmp_path / "calibration.json"
    assert main(["calibrate", "--users", "200", "--spawn-rate", "50", "--duration", "12",
                 "--think-time", "0.2,0.5", "--output", str(output)]) == 0
    measured = Calibration.model_validate_json(output.read_text())
    assert measured.source == "measured" and measured.users_reached == 200
    assert measured.requests_per_cpu_second > 0 and measured.memory_per_user_bytes > 0
    assert len(measured.samples) >= 5
    capsys.readouterr()
    assert main(["plan", "--users", "1000000", "--calibration", str(output)]) == 0
    assert f"{measured.requests_per_cpu_second:,.0f} req per CPU-s" in capsys.readouterr().out


def test_calibrate_refuses_a_foreign_host_before_starting_anything():
    with pytest.raises(UnsafeTargetError):
        CalibrationRun(max_users=10, spawn_rate=1, duration_s=10, think_time_s=(1, 1), host="http://example.com")


def test_saved_calibration_round_trips(tmp_path):
    path = tmp_path / "c.json"
    save_calibration(calibration(), path)
    assert Calibration.model_validate_json(path.read_text()) == calibration()


def test_a_bad_run_time_is_refused_before_any_manifest_is_written(tmp_path, capsys):
    code = main(["plan", "--output-dir", str(tmp_path / "k8s"), "--host", "http://127.0.0.1:8800", "--run-time", "soon"])
    assert code == 2
    assert "--run-time 'soon'" in capsys.readouterr().err
    assert not (tmp_path / "k8s").exists()


def test_with_a_profile_the_masters_run_its_stages_scaled_to_the_users(tmp_path):
    profile = LOADTESTS / "profiles" / "double11-peak.yaml"
    code = main(["plan", "--users", "1000000", "--think-time", "1", "--output-dir", str(tmp_path / "k8s"),
                 "--host", "http://shop.staging.svc:8080", "--allow-host", "shop.staging.svc",
                 "--loadtests-dir", str(LOADTESTS), "--profile", str(profile)])
    assert code == 0
    objects = [obj for path in sorted((tmp_path / "k8s").glob("*.yaml")) for obj in yaml.safe_load_all(path.read_text())]
    jobs, workers = _kinds(objects, "Job"), _kinds(objects, "Deployment")
    assert len(jobs) > 1
    peak_users = load_profile(profile).peak_users
    total = 0.0
    for pod in [job["spec"]["template"]["spec"] for job in jobs] + [w["spec"]["template"]["spec"] for w in workers]:
        container = pod["containers"][0]
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env["PEAKDRILL_PROFILE"] == "/loadtests/profiles/double11-peak.yaml"
        assert container["args"][:2] == ["-f", "/loadtests/locustfile.py,/loadtests/profile_shape.py"]
        assert "-u" not in container["args"] and "-t" not in container["args"]  # the shape sets both
        if "--master" in container["args"]:
            total += float(env["PEAKDRILL_SCALE"]) * peak_users
    assert total == pytest.approx(1_000_000, rel=1e-4), "the shards together peak at --users"


def test_with_a_profile_the_sizing_takes_its_think_time(capsys):
    assert main(["plan", "--users", "100000", "--profile", str(LOADTESTS / "profiles" / "double11-peak.yaml")]) == 0
    assert "think time 9s" in capsys.readouterr().out  # double11-peak: 3-15 s
    assert main(["plan", "--users", "100000"]) == 0
    assert "think time 10s" in capsys.readouterr().out


def test_a_profile_outside_the_load_tests_or_a_bad_one_is_refused_before_any_manifest(tmp_path, capsys):
    outside = tmp_path / "peak.yaml"
    outside.write_text((LOADTESTS / "profiles" / "demo.yaml").read_text())
    bad = tmp_path / "loadtests"
    shutil.copytree(LOADTESTS, bad, ignore=shutil.ignore_patterns("__pycache__"))
    (bad / "profiles" / "broken.yaml").write_text("name: broken\nstages:\n  - {name: a, duration: soon, users: 3}\n")
    for profile, loadtests, words in [(outside, LOADTESTS, "is not under --loadtests-dir"),
                                      (bad / "profiles" / "broken.yaml", bad, "stages.0.duration")]:
        code = main(["plan", "--output-dir", str(tmp_path / "k8s"), "--host", "http://127.0.0.1:8800",
                     "--loadtests-dir", str(loadtests), "--profile", str(profile)])
        assert code == 2 and words in capsys.readouterr().err
        assert not (tmp_path / "k8s").exists()

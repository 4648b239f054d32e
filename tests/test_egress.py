"""No request leaves the allowlist, whatever the locustfile or the target does (issue 8).

Real Locust runs (``peakdrill load``) against a real target on 127.0.0.1 whose ``--host`` is allowed;
the locustfile also requests an absolute URL on 127.0.0.2, and the target redirects to 127.0.0.3.
Both are real listeners that count every connection they accept: they must accept none.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from loadkit import finish, peakdrill, start_peakdrill, write_profile
from peakdrill.chaos import client, load_burst, slo
from peakdrill.chaos.target import allowed_hosts
from peakdrill.run.experiments import prepare
from peakdrill.run.scraper import SERVER_METRICS_FILE, MetricsScraper
from peakdrill.errors import ChaosError, EgressRefusedError
from peakdrill.exitcodes import ExitCode
from peakdrill.histograms import Recorder
from peakdrill.rundir.histfiles import load_buckets, records_of
from peakdrill.report import score_run_dir
from peakdrill.safety import LOOPBACK_HOSTS, REFUSED_PREFIX, Allowlist, refused_name
from runfactory import make_run
from servers import free_port
from targets import counting_server

HERE = Path(__file__).resolve().parent
EGRESS_LOCUSTFILE = str(HERE / "egress_locustfile.py")


@pytest.mark.parametrize("user_class", ["fast", "requests"], ids=["FastHttpUser", "HttpUser"])
def test_absolute_urls_and_redirects_to_unlisted_hosts_are_refused_and_counted(user_class, tmp_path):
    with counting_server("127.0.0.2") as away, counting_server("127.0.0.3") as redirected_away, \
            counting_server("127.0.0.1") as target:
        target.redirect_to = f"{redirected_away.url}/stolen"
        result = peakdrill("load", write_profile(tmp_path, users=2, seconds=4), "--host", target.url,
                           "--locustfile", EGRESS_LOCUSTFILE, "--workers", "1", "--reports-dir", str(tmp_path / "reports"),
                           "--no-progress",
                           env={"PEAKDRILL_TEST_CLIENT": user_class, "PEAKDRILL_TEST_AWAY_URL": away.url}, timeout=120)
        assert away.connections == 0 and redirected_away.connections == 0
        assert target.connections > 0  # the allowed host was loaded all along
    assert result.returncode == ExitCode.INCONCLUSIVE, result.stdout + result.stderr
    [run_dir] = (tmp_path / "reports").iterdir()
    refused = {}
    for (_, name), bucket in load_buckets(run_dir).items():
        if REFUSED_PREFIX in name:
            assert bucket.failures == bucket.count  # a refused request is a failed one
            host = name.split(REFUSED_PREFIX)[1]
            refused[host] = refused.get(host, 0) + bucket.count
    away_host, redirect_host = away.url.removeprefix("http://"), redirected_away.url.removeprefix("http://")
    assert set(refused) == {away_host, redirect_host}
    score = json.loads((run_dir / "score.json").read_text())
    assert score["verdict"] == "INCONCLUSIVE"
    [reason] = [r for r in score["reasons"] if r.startswith("requests refused by the allowlist")]
    assert f"requests refused by the allowlist: {sum(refused.values()):,} " in reason
    assert f"{away_host} ({refused[away_host]:,})" in reason and f"{redirect_host} ({refused[redirect_host]:,})" in reason
    assert "requests refused by the allowlist" in (run_dir / "report.md").read_text()


def test_a_remote_worker_takes_the_masters_allowlist_over_its_own(tmp_path):
    port, reports = str(free_port()), tmp_path / "reports"
    profile = write_profile(tmp_path, users=2, seconds=4)
    with counting_server("127.0.0.2") as away, counting_server("127.0.0.3") as redirected_away, \
            counting_server("127.0.0.1") as target:
        target.redirect_to = f"{redirected_away.url}/stolen"
        env = {"PEAKDRILL_TEST_CLIENT": "fast", "PEAKDRILL_TEST_AWAY_URL": away.url}
        master = start_peakdrill("load", profile, "--host", target.url, "--master", "--workers", "1",
                                 "--master-bind-host", "127.0.0.1", "--master-port", port, "--wait-for-workers", "60",
                                 "--locustfile", EGRESS_LOCUSTFILE, "--reports-dir", str(reports), "--no-progress", env=env)
        # The worker's own environment would let both unlisted hosts through: the master's list must win.
        worker = start_peakdrill("load", profile, "--worker", "--master-host", "127.0.0.1", "--master-port", port,
                                 "--locustfile", EGRESS_LOCUSTFILE, "--reports-dir", str(tmp_path / "worker-logs"),
                                 env={**env, "PEAKDRILL_ALLOWED_HOSTS": "127.0.0.2,127.0.0.3"})
        try:
            master_result = finish(master, timeout=120)
            finish(worker, timeout=60)
        finally:
            for process in (master, worker):
                if process.poll() is None:  # after a failure above: stop whichever still runs, with its Locust
                    finish(process, timeout=0.1)
        assert away.connections == 0 and redirected_away.connections == 0 and target.connections > 0
    assert master_result.returncode == ExitCode.INCONCLUSIVE, master_result.stdout[-3000:] + master_result.stderr[-3000:]
    [run_dir] = reports.iterdir()
    refused = {name.split(REFUSED_PREFIX)[1] for (_, name) in load_buckets(run_dir) if REFUSED_PREFIX in name}
    assert refused == {away.url.removeprefix("http://"), redirected_away.url.removeprefix("http://")}


def test_a_chaos_call_to_an_unlisted_host_is_refused_before_connecting():
    with counting_server("127.0.0.2") as away:
        with pytest.raises(EgressRefusedError) as refused:
            client.call(Allowlist(LOOPBACK_HOSTS), "GET", f"{away.url}/api/products/1")
        assert away.connections == 0
    assert refused.value.endpoint == away.url.removeprefix("http://")
    assert "--allow-host" in str(refused.value)


def test_a_chaos_probe_is_not_led_off_the_allowlist_by_a_redirect_and_takes_the_list_as_a_value():
    with counting_server("127.0.0.2") as away, counting_server("127.0.0.1", redirect_everything=True) as target:
        target.redirect_to = f"{away.url}/metrics"
        with pytest.raises(EgressRefusedError):
            slo.slo_over_window(window_s=1, url=target.url, configuration={"peakdrill_allowed_hosts": []})
        assert target.connections == 1 and away.connections == 0
        # The configuration's list is what decides: allowing the host lets the redirect through.
        with pytest.raises(ChaosError):  # the listener has no /metrics to read
            slo.slo_over_window(window_s=1, url=target.url, configuration={"peakdrill_allowed_hosts": ["127.0.0.2"]})
        assert away.connections == 1


def test_a_load_burst_led_off_the_allowlist_by_a_redirect_stops_and_fails():
    with counting_server("127.0.0.2") as away, counting_server("127.0.0.1", redirect_everything=True) as target:
        target.redirect_to = f"{away.url}/api/products/1"
        with pytest.raises(EgressRefusedError):
            load_burst.spike_load(users=3, duration=5, max_requests=300, url=target.url,
                                  configuration={"peakdrill_allowed_hosts": []})
        assert 1 <= target.connections <= 3 and away.connections == 0  # each client's first request, then all stop


def test_the_drills_metrics_scraper_does_not_follow_a_redirect_off_the_allowlist(tmp_path):
    with counting_server("127.0.0.2") as away, counting_server("127.0.0.1", redirect_everything=True) as target:
        target.redirect_to = f"{away.url}/metrics"
        MetricsScraper(client.Target(target.url, Allowlist(LOOPBACK_HOSTS)), tmp_path).scrape_once()
        assert target.connections == 1 and away.connections == 0
    [record] = [json.loads(line) for line in (tmp_path / SERVER_METRICS_FILE).read_text().splitlines()]
    assert record["ok"] is False and away.url.removeprefix("http://") in record["error"]


def test_a_drill_hands_its_allowed_hosts_to_every_experiment():
    step = prepare(0, 10.0, Path("experiments/cache-outage.yaml"), {}, 60.0, allowed_hosts=("127.0.0.1", "shop.test"))
    assert step.experiment["configuration"]["peakdrill_allowed_hosts"] == ["127.0.0.1", "shop.test"]


def _resolver(table: dict[str, list[str]]):
    def resolve(host, port, family=0, type=0):
        if host not in table:
            raise OSError(f"no such name {host}")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in table[host]]
    return resolve


def test_names_are_judged_by_the_address_they_resolve_to():
    resolve = _resolver({"evil.test": ["127.0.0.2"], "shop.test": ["10.1.2.3"], "alias.test": ["10.1.2.3"]})
    allowlist = Allowlist(("127.0.0.1", "shop.test"), resolve=resolve)
    with pytest.raises(EgressRefusedError) as refused:
        allowlist.check(("evil.test", 80))  # a name that resolves to an unlisted address
    assert refused.value.endpoint == "127.0.0.2:80"
    # connect to the very address that was checked, not to a second lookup of the name
    assert allowlist.check(("alias.test", 443)) == ("10.1.2.3", 443)
    assert allowlist.allows("10.1.2.3") and allowlist.allows("::ffff:127.0.0.1")
    assert not allowlist.allows("127.0.0.2") and not allowlist.allows("::ffff:127.0.0.2") and not allowlist.allows("::1")
    with pytest.raises(EgressRefusedError):
        allowlist.check(("127.0.0.2", 8800))


def test_refused_requests_make_an_otherwise_passing_run_inconclusive(tmp_path):
    run = make_run(tmp_path)
    assert score_run_dir(run.path).verdict == "PASS"
    recorder = Recorder("worker-3-41003")
    second = int(run.spec.start_ts) + 30
    for index in range(7):
        recorder.record(second, f"GET {refused_name('127.0.0.2:8800')}", 0.2, True)
    recorder.record(second + 1, f"GET {refused_name('10.9.9.9:443')}", 0.3, True)
    (run.path / "histograms" / "worker-3-41003.jsonl").write_text(
        "".join(json.dumps(record) + "\n" for record in records_of(recorder.drain(), source="worker-3-41003")),
        encoding="utf-8")
    score = score_run_dir(run.path)
    assert score.verdict == "INCONCLUSIVE" and score.exit_code == ExitCode.INCONCLUSIVE
    [reason] = [r for r in score.reasons if r.startswith("requests refused by the allowlist")]
    assert reason.startswith("requests refused by the allowlist: 8 (to 10.9.9.9:443 (1), 127.0.0.2:8800 (7))")


def test_the_configurations_list_beats_the_environment_and_loopback_is_always_allowed(monkeypatch):
    monkeypatch.setenv("PEAKDRILL_ALLOWED_HOSTS", "from-env.test")
    assert allowed_hosts() == (*LOOPBACK_HOSTS, "from-env.test")  # plain `chaos run`
    assert allowed_hosts({"peakdrill_allowed_hosts": ["shop.test"]}) == (*LOOPBACK_HOSTS, "shop.test")  # a drill
    assert allowed_hosts({"peakdrill_allowed_hosts": []}) == LOOPBACK_HOSTS

"""No request leaves the allowlist, whatever the locustfile or the target does (issue 8).

Real Locust runs (``peakdrill load``) against a real target on 127.0.0.1 whose ``--host`` is allowed;
the locustfile also requests an absolute URL on 127.0.0.2, and the target redirects to 127.0.0.3.
Both are real listeners that count every connection they accept: they must accept none.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from loadkit import peakdrill, write_profile
from peakdrill.chaos import client, slo
from peakdrill.drill.experiments import prepare
from peakdrill.errors import ChaosError, EgressRefusedError
from peakdrill.exitcodes import ExitCode
from peakdrill.histograms import Recorder, load_buckets
from peakdrill.report import score_run_dir
from peakdrill.safety import LOOPBACK_HOSTS, REFUSED_PREFIX, Allowlist, refused_name
from runfactory import make_run

HERE = Path(__file__).resolve().parent
EGRESS_LOCUSTFILE = str(HERE / "egress_locustfile.py")


class CountingServer(ThreadingHTTPServer):
    """An HTTP server that counts the connections it accepts; ``redirect_to`` answers /redirect with a 302."""

    daemon_threads = True

    def __init__(self, address: str, redirect_to: str = "", redirect_everything: bool = False) -> None:
        self.connections = 0
        self.redirect_to, self.redirect_everything = redirect_to, redirect_everything
        super().__init__((address, 0), _Handler)

    def verify_request(self, request, client_address) -> bool:
        self.connections += 1
        return True

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.server.redirect_to and (self.path == "/redirect" or self.server.redirect_everything):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_) -> None:
        pass


@contextmanager
def serving(address: str, redirect_to: str = "", redirect_everything: bool = False) -> Iterator[CountingServer]:
    server = CountingServer(address, redirect_to, redirect_everything)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("client", ["fast", "requests"], ids=["FastHttpUser", "HttpUser"])
def test_absolute_urls_and_redirects_to_unlisted_hosts_are_refused_and_counted(client, tmp_path):
    with serving("127.0.0.2") as away, serving("127.0.0.3") as redirected_away, \
            serving("127.0.0.1") as target:
        target.redirect_to = f"{redirected_away.url}/stolen"
        result = peakdrill("load", write_profile(tmp_path, users=2, seconds=4), "--host", target.url,
                           "--locustfile", EGRESS_LOCUSTFILE, "--workers", "1", "--reports-dir", str(tmp_path / "reports"),
                           "--no-progress",
                           env={"PEAKDRILL_TEST_CLIENT": client, "PEAKDRILL_TEST_AWAY_URL": away.url}, timeout=120)
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


def test_a_chaos_call_to_an_unlisted_host_is_refused_before_connecting():
    with serving("127.0.0.2") as away:
        with pytest.raises(EgressRefusedError) as refused:
            client.call(Allowlist(LOOPBACK_HOSTS), "GET", f"{away.url}/api/products/1")
        assert away.connections == 0
    assert refused.value.endpoint == away.url.removeprefix("http://")
    assert "--allow-host" in str(refused.value)


def test_a_chaos_probe_is_not_led_off_the_allowlist_by_a_redirect_and_takes_the_list_as_a_value():
    with serving("127.0.0.2") as away, serving("127.0.0.1", redirect_everything=True) as target:
        target.redirect_to = f"{away.url}/metrics"
        with pytest.raises(EgressRefusedError):
            slo.slo_over_window(window_s=1, url=target.url, configuration={"peakdrill_allowed_hosts": []})
        assert target.connections == 1 and away.connections == 0
        # The configuration's list is what decides: allowing the host lets the redirect through.
        with pytest.raises(ChaosError):  # the listener has no /metrics to read
            slo.slo_over_window(window_s=1, url=target.url, configuration={"peakdrill_allowed_hosts": ["127.0.0.2"]})
        assert away.connections == 1


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
        "".join(json.dumps(record) + "\n" for record in recorder.drain()), encoding="utf-8")
    score = score_run_dir(run.path)
    assert score.verdict == "INCONCLUSIVE" and score.exit_code == ExitCode.INCONCLUSIVE
    [reason] = [r for r in score.reasons if r.startswith("requests refused by the allowlist")]
    assert reason.startswith("requests refused by the allowlist: 8 (to 10.9.9.9:443 (1), 127.0.0.2:8800 (7))")

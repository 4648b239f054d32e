"""Data integrity: acknowledgements recorded by real Locust runs, reconciled against real systems of
record (the reference shop's database and payment stand-in, PostgreSQL, a user's own service)."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from browser import chromium
from generic_targets import postgres_cluster
from knob_server import knob_server, set_knob
from loadkit import peakdrill, write_profile
from peakdrill.errors import SpecError
from peakdrill.rundir.acks import append_acks, iter_acks
from peakdrill.integrity.config import Integrity, load_integrity
from peakdrill.integrity.reconcile import reconcile
from peakdrill.integrity.reconcilers import Context, fetch
from peakdrill.safety import Allowlist
from peakdrill.shop import set_standin_fault

HERE = Path(__file__).resolve().parent
LOOPBACK = Allowlist(["127.0.0.1", "localhost", "::1"])


def _context(tmp_path: Path, timeout: float = 10.0) -> Context:
    return Context(LOOPBACK, None, 0.0, timeout, tmp_path)


def _acks(run_dir: Path, kind: str, acked: dict[str, str | None], failed: list[str] = (), second: int = 1_800_000_000):
    append_acks(run_dir, "master-1", [{"second": second, "kind": kind, "ids": list(acked),
                                       "refs": list(acked.values()), "failed": list(failed)}])


# -- the verdict, against an independent count ------------------------------------------------------
def test_lost_duplicated_and_phantom_from_a_sqlite_system_of_record(tmp_path):
    db = tmp_path / "ledger.db"
    with sqlite3.connect(db) as conn:  # a schema that is nobody's shop: tickets keyed by the client's ref
        conn.execute("CREATE TABLE tickets (ticket_no TEXT, client_ref TEXT)")
        conn.executemany("INSERT INTO tickets VALUES (?, ?)", [
            ("t1", "lt-a"), ("t2", "lt-b"), ("t2", "lt-b"),  # t2 stored twice
            ("t9", "lt-z"),  # the client was told lt-z failed: a phantom
            ("real-1", "customer-7")])  # real data, not the test's
    run_dir = tmp_path / "run"
    _acks(run_dir, "ticket", {"t1": "lt-a", "t2": "lt-b", "t3": "lt-c"}, failed=["lt-z", "lt-y"])
    spec = Integrity.model_validate({"kinds": {"ticket": {
        "type": "sql", "url": f"sqlite:///{db}", "id_prefix": "lt-",
        "query": "SELECT ticket_no, client_ref FROM tickets"}}})
    (kind,) = reconcile(run_dir, spec, _context(tmp_path))["kinds"]
    assert (kind["acknowledged"], kind["stored"], kind["lost"], kind["duplicated"], kind["phantom"]) == (3, 4, 1, 1, 1)
    assert (kind["lost_ids"], kind["duplicated_ids"], kind["phantom_ids"]) == (["t3"], ["t2"], ["lt-z"])
    assert json.loads((run_dir / "reconciliation.json").read_text())["kinds"][0] == kind


def test_sqlite_is_opened_read_only_and_only_a_single_select_is_accepted(tmp_path):
    db = tmp_path / "x.db"
    sqlite3.connect(db).execute("CREATE TABLE t (id TEXT)").connection.commit()
    for query in ("DELETE FROM t", "SELECT 1; DROP TABLE t", "PRAGMA writable_schema = 1"):
        with pytest.raises(ValueError, match="single SELECT|one statement"):
            Integrity.model_validate({"kinds": {"k": {"type": "sql", "url": f"sqlite:///{db}", "query": query}}})
    sneaky = Integrity.model_validate({"kinds": {"k": {
        "type": "sql", "url": f"sqlite:///{db}", "query": "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"}}})
    (tmp_path / "run").mkdir()
    (kind,) = reconcile(tmp_path / "run", sneaky, _context(tmp_path))["kinds"]
    assert kind["status"] == "inconclusive" and "readonly" in kind["reason"].replace(" ", "").lower()
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_a_reconciler_that_fails_or_hangs_is_inconclusive_never_pass(tmp_path):
    hang = tmp_path / "hang.py"
    hang.write_text("import time\ntime.sleep(60)\n")
    spec = Integrity.model_validate({"timeout": "1s", "kinds": {
        "slow": {"type": "command", "command": [sys.executable, str(hang)]},
        "gone": {"type": "http", "url": "http://127.0.0.1:9/ids"},
        "elsewhere": {"type": "http", "url": "http://192.0.2.1/ids"}}})
    run_dir = tmp_path / "run"
    _acks(run_dir, "slow", {"s1": None})
    kinds = {k["kind"]: k for k in reconcile(run_dir, spec, _context(tmp_path, timeout=1.0))["kinds"]}
    assert {k["status"] for k in kinds.values()} == {"inconclusive"}
    assert "within 1 s" in kinds["slow"]["reason"] and kinds["slow"]["acknowledged"] == 1
    assert "refused to connect to 192.0.2.1" in kinds["elsewhere"]["reason"]  # the egress guard, not a timeout


def test_mysql_without_its_optional_driver_is_inconclusive_saying_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymysql", None)  # as on a machine without the optional driver
    spec = Integrity.model_validate({"kinds": {"order": {"type": "sql", "url": "mysql://ro@127.0.0.1:3306/shop",
                                                         "query": "SELECT id FROM orders"}}})
    (tmp_path / "run").mkdir()
    (kind,) = reconcile(tmp_path / "run", spec, _context(tmp_path))["kinds"]
    assert kind["status"] == "inconclusive" and "pip install pymysql" in kind["reason"]


def test_integrity_rules_are_rules_of_the_slo_language(tmp_path):
    from peakdrill.slo.parse import parse_section, parse_threshold

    rule = parse_threshold("order: lost == 0 in during:app-node-killed")
    assert (rule.metric.kind, rule.bound.op, rule.window) == ("lost", "==", "during:app-node-killed")
    with pytest.raises(SpecError, match="whole run or during"):
        parse_threshold("*: duplicated == 0 in steady")
    with pytest.raises(SpecError, match="count of records"):
        parse_threshold("*: lost < 1%")
    with pytest.raises(SpecError, match="cannot abort"):
        parse_section([{"requests": "*", "metric": "phantom", "bound": "== 0", "abort": True}], "x.yaml")


def test_an_integrity_file_is_checked_before_anything_runs(tmp_path):
    bad = tmp_path / "integrity.yaml"
    bad.write_text("kinds:\n  order: {type: sql, url: 'oracle://x', query: 'SELECT 1'}\n")
    with pytest.raises(SpecError, match=r"integrity.yaml: kinds.order.sql.url"):
        load_integrity(bad)
    bad.write_text("integrity:\n  kinds:\n    order: {type: http, url: 'http://127.0.0.1/x', itmes: orders}\n")
    with pytest.raises(SpecError, match="unknown field 'itmes'"):
        load_integrity(bad)


# -- a real PostgreSQL, a schema that is not the reference shop's ----------------------------------------
def test_sql_reconciler_against_postgresql_runs_read_only(tmp_path):
    import psycopg

    with postgres_cluster() as server:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE reservations (confirmation text, source text, created timestamptz DEFAULT now())")
            conn.execute("INSERT INTO reservations (confirmation, source) VALUES "
                         "('R-1','loadtest'), ('R-2','loadtest'), ('R-2','loadtest'), ('R-3','web')")
        query = "SELECT confirmation FROM reservations WHERE source = 'loadtest'"
        spec = Integrity.model_validate({"kinds": {"reservation": {"type": "sql", "url": server.url, "query": query}}})
        run_dir = tmp_path / "run"
        _acks(run_dir, "reservation", {"R-1": None, "R-2": None, "R-4": None})
        (kind,) = reconcile(run_dir, spec, _context(tmp_path))["kinds"]
        assert (kind["stored"], kind["lost"], kind["lost_ids"], kind["duplicated"], kind["duplicated_ids"]) == \
            (3, 1, ["R-4"], 1, ["R-2"])
        # Read-only for real: a data-modifying CTE passes the SELECT check and is refused by the server.
        writer = Integrity.model_validate({"kinds": {"reservation": {"type": "sql", "url": server.url, "query":
                                          "WITH gone AS (DELETE FROM reservations RETURNING confirmation) SELECT * FROM gone"}}})
        with pytest.raises(Exception, match="read-only transaction"):
            fetch("reservation", writer.kinds["reservation"], _context(tmp_path))
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT count(*) FROM reservations").fetchone()[0] == 4


# -- a user's own locustfile, reconciled over HTTP and by a command ------------------------------------
INTEGRITY_HTTP = """\
timeout: 10s
settle: 1s
kinds:
  booking: {{type: http, url: "{url}/bookings", items: bookings, id_field: id, ref_field: ref, id_prefix: "lt-"}}
"""
LIST_IDS = """\
import json, sys, urllib.request
for booking in json.load(urllib.request.urlopen(sys.argv[1] + "/bookings", timeout=5))["bookings"]:
    print(booking["id"] + "\\t" + booking["ref"])
"""


def test_a_plain_locustfile_acks_are_reconciled_over_http_and_by_a_command(tmp_path):
    profile = write_profile(tmp_path, users=10, seconds=8)
    with knob_server(tmp_path, 5) as url:
        set_knob(url, drop=4)  # the 4th booking is acknowledged and never stored
        (tmp_path / "integrity.yaml").write_text(INTEGRITY_HTTP.format(url=url))
        result = peakdrill("load", profile, "--host", url, "--locustfile", str(HERE / "ack_locustfile.py"),
                           "--integrity", str(tmp_path / "integrity.yaml"), "--reports-dir", str(tmp_path / "reports"),
                           "--no-progress", timeout=150)
        (run_dir,) = (tmp_path / "reports").iterdir()
        acked = {i for r in iter_acks(run_dir) for i in r.ids}
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
        recon = json.loads((run_dir / "reconciliation.json").read_text())
        (kind,) = recon["kinds"]
        assert kind["acknowledged"] == len(acked) > 20
        assert (kind["lost"], kind["lost_ids"], kind["duplicated"], kind["phantom"]) == (1, [kind["lost_ids"][0]], 0, 0)
        assert kind["stored"] == kind["acknowledged"] - 1
        lost = kind["lost_ids"][0]
        assert lost in acked and lost.startswith("bk-")
        score = json.loads((run_dir / "score.json").read_text())
        verdicts = {v["id"]: v for v in score["verdicts"]}
        assert score["verdict"] == "FAIL" and verdicts["integrity_lost"]["verdict"] == "FAIL"
        assert lost in verdicts["integrity_lost"]["detail"] and verdicts["integrity_duplicated"]["verdict"] == "PASS"
        assert lost in (run_dir / "report.md").read_text()
        dom = chromium(tmp_path, run_dir / "report.html", "--dump-dom").stdout  # as a person's browser shows it
        table = re.search(r'<table id="integrity">(.*?)</table>', dom, flags=re.S).group(1)
        assert re.search(rf"<td>booking</td><td>http</td>.*?lost: {lost}", table, flags=re.S), table[:2000]
        cases = {c.get("name"): c for c in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")}
        assert cases["integrity_lost"].find("failure") is not None and cases["integrity_duplicated"].find("failure") is None

        # The same run, through a command that prints "id<TAB>ref" lines.
        (tmp_path / "list_ids.py").write_text(LIST_IDS)
        (tmp_path / "by-command.yaml").write_text(
            f"kinds:\n  booking: {{type: command, command: [{sys.executable}, list_ids.py, '{url}']}}\n")
        again = peakdrill("reconcile", str(run_dir), "--integrity", str(tmp_path / "by-command.yaml"), timeout=60)
        assert again.returncode == 1 and f"lost 1 ({lost})" in again.stdout, again.stdout + again.stderr


# -- the reference shop: its database, its payment gateway, a deleted order ---------------------------
SHOP_INTEGRITY = """\
timeout: 20s
settle: 2s
kinds:
  order: {{type: reference-shop}}
  payment: {{type: http, url: "{admin}/admin/charges", items: charges, ref_field: idempotency_key, id_prefix: "lt-"}}
"""


def _shop_orders(shop, since: float) -> set[str]:
    """The shop's own answer, by its own SQL: the load test's orders since the run started."""
    with sqlite3.connect(shop.database.path, timeout=10) as conn:
        rows = conn.execute("SELECT id FROM orders WHERE customer_id LIKE 'lt-%' AND created_at >= ?", (since,))
        return {str(r[0]) for r in rows}


def test_shop_orders_reconcile_a_double_charge_fails_and_a_deleted_order_is_named(shop, tmp_path):
    integrity = tmp_path / "integrity.yaml"
    integrity.write_text(SHOP_INTEGRITY.format(admin=shop.standins["payment"].admin_url.rstrip("/")))
    set_standin_fault(shop, "payment", mode="double_charge")  # a gateway that takes every new charge twice
    try:
        result = peakdrill("load", write_profile(tmp_path, users=16, seconds=12), "--host", shop.url,
                           "--integrity", str(integrity), "--reports-dir", str(tmp_path / "reports"), "--no-progress",
                           timeout=180)
    finally:
        set_standin_fault(shop, "payment")
    (run_dir,) = (tmp_path / "reports").iterdir()
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    since = json.loads((run_dir / "run.json").read_text())["start_ts"]
    kinds = {k["kind"]: k for k in json.loads((run_dir / "reconciliation.json").read_text())["kinds"]}
    acked = {kind: {i for r in iter_acks(run_dir) if r.kind == kind for i in r.ids} for kind in ("order", "payment")}

    order = kinds["order"]
    assert (order["lost"], order["duplicated"], order["phantom"]) == (0, 0, 0)
    assert order["acknowledged"] == len(acked["order"]) > 3
    stored = _shop_orders(shop, since - 1)
    assert acked["order"] <= stored and order["stored"] == len(stored), "every acknowledged order is in the database"

    payment = kinds["payment"]  # every captured payment was charged twice by the gateway
    assert payment["acknowledged"] == len(acked["payment"]) > 2
    assert payment["duplicated"] == payment["acknowledged"] and payment["lost"] == 0
    assert set(payment["duplicated_ids"]) <= acked["payment"]
    verdicts = {v["id"]: v for v in json.loads((run_dir / "score.json").read_text())["verdicts"]}
    assert verdicts["integrity_duplicated"]["verdict"] == "FAIL" and verdicts["integrity_lost"]["verdict"] == "PASS"

    # Behind the shop's back, one acknowledged order disappears from its database.
    victim = sorted(acked["order"], key=int)[len(acked["order"]) // 2]
    with sqlite3.connect(shop.database.path, timeout=10) as conn:
        for table, column in (("order_items", "order_id"), ("payments", "order_id"), ("orders", "id")):
            conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (int(victim),))
    again = peakdrill("reconcile", str(run_dir), timeout=120)
    assert again.returncode == 1 and f"order: {order['acknowledged']} acknowledged" in again.stdout, again.stdout + again.stderr
    assert f"lost 1 ({victim})" in again.stdout
    report = peakdrill("report", str(run_dir), timeout=120)
    assert report.returncode == 1, report.stdout + report.stderr
    lost = next(v for v in json.loads((run_dir / "score.json").read_text())["verdicts"] if v["id"] == "integrity_lost")
    assert lost["verdict"] == "FAIL" and lost["measured"] == 1 and f"order {victim}" in lost["detail"]


CRASH_DRILL = """\
name: crash-integrity
target: {{shop_dir: {shop_dir}}}
load: {{profile: profile.yaml, locustfile: {root}/loadtests/locustfile.py}}
timeline:
  - {{at: 10s, experiment: {root}/experiments/app-node-crash.yaml, recovery_target: 8s}}
integrity:
  settle: 2s
  kinds:
    order: {{type: reference-shop}}
    payment: {{type: reference-shop}}
"""
CRASH_PROFILE = """\
name: crash
think_time: {min: 0.3s, max: 1s}
stages:
  - {name: warm-up, duration: 3s, users: 4, spawn_rate: 4, measured: false}
  - {name: steady, duration: 27s, users: 12, spawn_rate: 12}
"""


def test_app_node_crash_drill_every_acknowledged_order_is_stored(shop, tmp_path):
    (tmp_path / "profile.yaml").write_text(CRASH_PROFILE)
    (tmp_path / "drill.yaml").write_text(CRASH_DRILL.format(shop_dir=shop.shop_dir, root=HERE.parent))
    result = peakdrill("drill", str(tmp_path / "drill.yaml"), "--reports-dir", str(tmp_path / "reports"), "--no-progress",
                       timeout=240)
    (run_dir,) = (tmp_path / "reports").iterdir()
    # Judged, not crashed (the shop SLOs may well be INCONCLUSIVE for so short a run; the integrity is not).
    assert result.returncode in (0, 1, 3), result.stdout[-3000:] + result.stderr[-3000:]
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert any(e["type"] == "fault_injected" and e["fault"] == "app-worker-killed" for e in events), events
    since = json.loads((run_dir / "run.json").read_text())["start_ts"]
    recon = json.loads((run_dir / "reconciliation.json").read_text())
    order = next(k for k in recon["kinds"] if k["kind"] == "order")
    acked = {i for r in iter_acks(run_dir) if r.kind == "order" for i in r.ids}
    stored = _shop_orders(shop, since - 1)
    assert (order["lost"], order["duplicated"]) == (0, 0) and acked <= stored
    assert order["acknowledged"] == len(acked) > 20 and order["stored"] == len(stored)
    (crash,) = order["windows"]  # the crash's window: injection to removal plus its recovery target
    assert crash["fault"] == "app-worker-killed" and crash["acknowledged"] > 0 and crash["lost"] == 0
    # Reconciled once during the drill too, after the experiment's recovery window, while the load went on.
    (during,) = recon["rounds"]
    round_order = next(k for k in during["kinds"] if k["kind"] == "order")
    assert during["after"] == "app-node-crash" and during["acks_until_ts"] < json.loads((run_dir / "run.json").read_text())["end_ts"]
    assert 0 < round_order["acknowledged"] < order["acknowledged"] and round_order["lost"] == 0
    assert "Reconciled during the drill" in (run_dir / "report.md").read_text()
    verdicts = {v["id"]: v["verdict"] for v in json.loads((run_dir / "score.json").read_text())["verdicts"]}
    assert verdicts["integrity_lost"] == verdicts["integrity_duplicated"] == "PASS"


def test_an_integrity_rule_naming_no_reconciled_kind_stops_the_run_before_it_starts(tmp_path):
    profile = write_profile(tmp_path, users=1, seconds=1)
    (tmp_path / "integrity.yaml").write_text("kinds:\n  booking: {type: command, command: [cat, ids.txt]}\n")
    typo = peakdrill("load", profile, "--host", "http://127.0.0.1:9", "--locustfile", str(HERE / "ack_locustfile.py"),
                     "--integrity", str(tmp_path / "integrity.yaml"), "--threshold", "bookings: lost == 0",
                     "--reports-dir", str(tmp_path / "reports"), timeout=60)
    assert typo.returncode == 2 and "no such kind is reconciled (reconciled: booking)" in typo.stderr, typo.stderr
    none = peakdrill("load", profile, "--host", "http://127.0.0.1:9", "--locustfile", str(HERE / "ack_locustfile.py"),
                     "--threshold", "*: lost == 0", "--reports-dir", str(tmp_path / "reports"), timeout=60)
    assert none.returncode == 2 and "reconciled: none" in none.stderr, none.stderr
    assert not (tmp_path / "reports").exists()


def test_integrity_rules_judge_kinds_over_the_whole_run_or_one_fault_window():
    from peakdrill.report.integrity import integrity_verdict
    from peakdrill.slo.parse import parse_threshold

    window = {"fault": "app-worker-killed", "fault_id": "app-worker-killed@7", "experiment": "x/app-node-crash.yaml",
              "acknowledged": 40, "lost": 1, "duplicated": 0, "phantom": 2, "lost_ids": ["17"], "phantom_ids": ["k1", "k2"]}
    document = {"kinds": [
        {"kind": "order", "status": "reconciled", "acknowledged": 100, "lost": 1, "lost_ids": ["17"], "duplicated": 0,
         "phantom": 2, "phantom_ids": ["k1", "k2"], "windows": [window]},
        {"kind": "payment", "status": "inconclusive", "reason": "http reconciler: no answer within 60 s"}]}

    def judged(text: str):
        return integrity_verdict(parse_threshold(text), document)

    assert (judged("order: lost == 0").verdict, judged("order: lost == 0").measured) == ("FAIL", 1.0)
    assert "order 17" in judged("order: lost == 0").detail
    assert judged("order: phantom <= 2 in during:app-node-crash").verdict == "PASS"  # the experiment's stem
    assert judged("order: phantom == 0 in during:app-worker-killed").verdict == "FAIL"
    assert judged("order: lost == 0 in during:cache-outage").verdict == "INCONCLUSIVE"  # no such fault
    assert judged("*: duplicated == 0").verdict == "INCONCLUSIVE"  # the payment reconciler failed: never PASS
    assert "no answer within 60 s" in judged("payment: duplicated == 0").detail
    assert integrity_verdict(parse_threshold("*: lost == 0"), None).verdict == "INCONCLUSIVE"

"""Network partition with real kernel rules: iptables DROP rules inside a network namespace that
the experiment names, cutting a port, a host, or a host's port off.

Only a named namespace other than the one peakdrill runs in is ever touched, so the host's own
rules stay as they were. Where the capability is missing (no iptables, not root, no such
namespace, no netfilter in it) the fault is refused before anything is recorded. ``tc netem``
is not used: kernels without the sch_netem module (this project's CI among them) cannot run it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from peakdrill.chaos import args, lifecycle
from peakdrill.chaos.generic_target import DEFAULT_LEDGER_DIR, ensure_host, ip_address, ledger_dir as ledger_arg
from peakdrill.chaos.generic_target import port as port_arg
from peakdrill.errors import ChaosError, quote

__all__ = ["partition_network", "validate_partition_network", "heal_network", "validate_heal_network"]

PARTITIONED = "network-partitioned"
NETNS_DIR = Path("/run/netns")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COMMAND_TIMEOUT_S = 15.0


def _netns(value: object) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise ChaosError(f"argument netns={quote(value)} is not a network namespace name "
                         f"(fix: the name `ip netns list` shows for the system's namespace, e.g. netns: staging)")
    return value


def _run(netns: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S)


def _refuse(netns: str, why: str, fix: str) -> ChaosError:
    return ChaosError(f"cannot partition the network of namespace {netns!r}: {why} (fix: {fix})")


def ensure_capable(netns: str) -> None:
    """Refuse clearly unless iptables rules can be set inside ``netns``, and only there."""
    if os.geteuid() != 0:
        raise _refuse(netns, "changing kernel rules needs root (CAP_NET_ADMIN)", "run the experiment as root")
    for tool, package in (("ip", "iproute2"), ("iptables", "iptables")):
        if shutil.which(tool) is None:
            raise _refuse(netns, f"`{tool}` is not installed", f"apt-get install {package}")
    path = NETNS_DIR / netns
    if not path.exists():
        raise _refuse(netns, f"there is no {path}", "create it (`ip netns add`) or name one `ip netns list` shows")
    if os.stat(path).st_ino == os.stat("/proc/self/ns/net").st_ino:
        raise _refuse(netns, "it is the namespace peakdrill runs in; its rules are never touched",
                      "name the namespace the system under test runs in")
    probe = _run(netns, "iptables", "-w", "5", "-S", "INPUT")
    if probe.returncode != 0:
        raise _refuse(netns, f"iptables does not work there: {probe.stderr.strip()[:200]}",
                      "a kernel with netfilter (nf_tables or ip_tables)")


def _addresses(netns: str) -> list[str]:
    listed = subprocess.run(["ip", "-n", netns, "-j", "addr", "show"], capture_output=True, text=True,
                            timeout=COMMAND_TIMEOUT_S)
    if listed.returncode != 0:
        raise _refuse(netns, f"`ip -n {netns} addr` failed: {listed.stderr.strip()[:200]}", "check the namespace")
    return [info["local"] for link in json.loads(listed.stdout or "[]") for info in link.get("addr_info", [])
            if info.get("family") == "inet" and info.get("scope") == "global"]  # the rules are IPv4 (iptables)


def _rules(host: str, port: int, tag: str) -> list[list[str]]:
    """Two DROP rules: what comes in to the namespace and what goes out of it."""
    incoming, outgoing = ["INPUT"], ["OUTPUT"]
    if host:
        incoming += ["-s", host]
        outgoing += ["-d", host]
    if port:
        incoming += ["-p", "tcp", "--dport", str(port)]
        outgoing += ["-p", "tcp", "--sport", str(port)]
    tail = ["-m", "comment", "--comment", tag, "-j", "DROP"]
    return [incoming + tail, outgoing + tail]


def validate_partition_network(ledger_dir: str = DEFAULT_LEDGER_DIR, netns: str = "", host: str = "", port: int = 0,
                               duration: float = 30) -> None:
    ledger_arg(ledger_dir)
    _netns(netns)
    if not host and port in (0, "0", "", None):
        raise ChaosError("give a port, a host or both to cut off (fix: e.g. port: 6379)")
    ip_address("host", host, required=False)
    port_arg("port", port, required=False)
    args.duration(duration)


def _fault_id(netns: str, host: str, port: int) -> str:
    return f"{PARTITIONED}:{netns}:{host or '*'}:{port or '*'}"


def partition_network(ledger_dir: str = DEFAULT_LEDGER_DIR, netns: str = "", host: str = "", port: int = 0,
                      duration: float = 30, configuration: dict | None = None) -> dict:
    """Inside namespace ``netns``, drop TCP traffic of its ``port`` (its servers' port), or all
    traffic to and from ``host``, or both (``host`` on that port), for at most ``duration`` s."""
    validate_partition_network(ledger_dir, netns, host, port, duration)
    host, port = ip_address("host", host, required=False), port_arg("port", port, required=False)
    ensure_capable(netns)
    addresses = _addresses(netns)
    for address in addresses + ([host] if host else []):
        ensure_host(address, f"namespace {netns!r} (its address)" if address != host else "the host", configuration)
    fault_id = _fault_id(netns, host, port)
    rules = _rules(host, port, f"peakdrill {fault_id}"[:255])

    def cut() -> None:
        for rule in rules:
            _iptables(netns, "-I", rule)

    lifecycle.inject(ledger_dir, fault=PARTITIONED, fault_id=fault_id,
                     target=f"netns {netns} {host or 'any host'} port {port or 'any'}", duration_s=float(duration),
                     undo=remove_rules, do=cut, params={"netns": netns, "rules": rules})
    return {"netns": netns, "addresses": addresses, "rules": [" ".join(rule) for rule in rules]}


def validate_heal_network(ledger_dir: str = DEFAULT_LEDGER_DIR, netns: str = "", host: str = "", port: int = 0,
                          by: str = "method") -> None:
    ledger_arg(ledger_dir)
    _netns(netns)
    ip_address("host", host, required=False)
    port_arg("port", port, required=False)
    args.remover_by(by)


def heal_network(ledger_dir: str = DEFAULT_LEDGER_DIR, netns: str = "", host: str = "", port: int = 0,
                 by: str = "method") -> dict:
    """Delete the partition's rules; idempotent."""
    validate_heal_network(ledger_dir, netns, host, port, by)
    host, port = ip_address("host", host, required=False), port_arg("port", port, required=False)
    removed = lifecycle.remove(ledger_dir, _fault_id(netns, host, port), by)
    return {"healed": removed is not None}


def _iptables(netns: str, action: str, rule: list[str]) -> subprocess.CompletedProcess:
    done = _run(netns, "iptables", "-w", "5", action, *rule)
    if action != "-C" and done.returncode != 0:
        raise ChaosError(f"iptables {action} {' '.join(rule)} in namespace {netns!r} failed: {done.stderr.strip()[:200]}")
    return done


def remove_rules(ledger_dir: str, params: dict) -> None:
    """The undo: delete every copy of the partition's rules; a namespace that is gone took them along."""
    netns = params["netns"]
    if not (NETNS_DIR / netns).exists():
        return
    for rule in params["rules"]:
        while _iptables(netns, "-C", rule).returncode == 0:
            _iptables(netns, "-D", rule)

"""Where a chaos activity may act: the shop named by its state file, after the safety check.

The allowed hosts reach an activity as a value: a drill puts its list into every experiment's
configuration under ``peakdrill_allowed_hosts`` and chaoslib hands the configuration to every
activity (they all take a ``configuration`` argument). Under plain ``chaos run`` without that key,
``PEAKDRILL_ALLOWED_HOSTS`` (comma-separated) adds hosts; loopback is always allowed.
"""

from __future__ import annotations

import os

from peakdrill.chaos.client import Target
from peakdrill.safety import LOOPBACK_HOSTS, Allowlist, ensure_allowed
from peakdrill.shop.state import ShopState, load_state, state_path

CONFIG_KEY = "peakdrill_allowed_hosts"
ENV_VAR = "PEAKDRILL_ALLOWED_HOSTS"
WHERE_TO_ALLOW = f"the experiment's configuration.{CONFIG_KEY} or {ENV_VAR} (comma-separated)"


def allowed_hosts(configuration: dict | None = None) -> tuple[str, ...]:
    listed = (configuration or {}).get(CONFIG_KEY)
    if listed is None:
        listed = os.environ.get(ENV_VAR, "")
    if isinstance(listed, str):
        listed = listed.split(",")
    return LOOPBACK_HOSTS + tuple(str(host).strip() for host in listed if str(host).strip())


def shop_state(shop_dir: str, configuration: dict | None = None) -> ShopState:
    state = load_state(shop_dir)
    ensure_allowed(state.url, allowed_hosts(configuration), WHERE_TO_ALLOW)
    return state


def shop_state_if_up(shop_dir: str) -> ShopState | None:
    """For removing a fault: a shop that is gone (no state file) took its faults with it.

    Not checked against the allowlist: a fault is only in the ledger because its injection passed
    the check, and its removal (by a rollback, the dead-man timer in its own process, or
    `peakdrill chaos recover`) must never be refused for want of the list the injection had."""
    return load_state(shop_dir) if state_path(shop_dir).exists() else None


def target(shop_dir: str, url: str = "", configuration: dict | None = None) -> Target:
    """``url`` when given (a shop that is not the embedded one, e.g. in a cluster), after the same
    safety check; else the embedded shop's URL from its state file. Every request made through the
    returned target, its redirects included, is checked again as it connects."""
    hosts = allowed_hosts(configuration)
    if url:
        ensure_allowed(url, hosts, WHERE_TO_ALLOW)
    else:
        url = shop_state(shop_dir, configuration).url
    return Target(url.rstrip("/"), Allowlist(hosts))

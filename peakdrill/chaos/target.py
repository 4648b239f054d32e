"""Where a chaos activity may act: the shop named by its state file, after the safety check."""

from __future__ import annotations

import os

from peakdrill.safety import LOOPBACK_HOSTS, ensure_allowed
from peakdrill.shop.state import ShopState, load_state, state_path


def allowed_hosts() -> tuple[str, ...]:
    extra = os.environ.get("PEAKDRILL_ALLOWED_HOSTS", "")
    return LOOPBACK_HOSTS + tuple(host.strip() for host in extra.split(",") if host.strip())


def shop_state(shop_dir: str) -> ShopState:
    state = load_state(shop_dir)
    ensure_allowed(state.url, allowed_hosts(), "PEAKDRILL_ALLOWED_HOSTS (comma-separated)")
    return state


def shop_state_if_up(shop_dir: str) -> ShopState | None:
    """For removing a fault: a shop that is gone (no state file) took its faults with it."""
    return shop_state(shop_dir) if state_path(shop_dir).exists() else None


def shop_url(shop_dir: str) -> str:
    return shop_state(shop_dir).url.rstrip("/")


def target_url(shop_dir: str, url: str = "") -> str:
    """``url`` when given (a shop that is not the embedded one, e.g. in a cluster), after the same
    safety check; else the embedded shop's URL from its state file."""
    if url:
        ensure_allowed(url, allowed_hosts(), "PEAKDRILL_ALLOWED_HOSTS (comma-separated)")
        return url.rstrip("/")
    return shop_url(shop_dir)

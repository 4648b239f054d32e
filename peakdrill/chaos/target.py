"""Where a chaos activity may act: the shop named by its state file, after the safety check."""

from __future__ import annotations

import os

from peakdrill.safety import LOOPBACK_HOSTS, ensure_allowed
from peakdrill.shop.state import ShopState, load_state


def allowed_hosts() -> tuple[str, ...]:
    extra = os.environ.get("PEAKDRILL_ALLOWED_HOSTS", "")
    return LOOPBACK_HOSTS + tuple(host.strip() for host in extra.split(",") if host.strip())


def shop_state(shop_dir: str) -> ShopState:
    state = load_state(shop_dir)
    ensure_allowed(state.url, allowed_hosts(), "PEAKDRILL_ALLOWED_HOSTS (comma-separated)")
    return state


def shop_url(shop_dir: str) -> str:
    return shop_state(shop_dir).url.rstrip("/")

"""Shared fixtures. ``shop``: one reference shop for the test session, always stopped."""

from __future__ import annotations

import pytest

from peakdrill.shop import ShopState, start_shop, stop_shop

# A small bot (2 slots, shop-wide) and fast humans, so the escalation path is reachable with a
# dozen chats and the human reply arrives within a second.
SHOP_TEST_BOT_SLOTS = 2
SHOP_TEST_ENV = {"PEAKDRILL_SHOP_APP_HUMAN_REPLY_S": "0.3"}


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> ShopState:
    shop_dir = tmp_path_factory.mktemp("shop")
    try:
        yield start_shop(shop_dir, host="127.0.0.1", port=0, workers=2, extra_env=SHOP_TEST_ENV,
                         bot_slots=SHOP_TEST_BOT_SLOTS)
    finally:
        stop_shop(shop_dir)  # also after a failed start: stop_shop only acts on what state.json names

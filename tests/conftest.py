"""Shared fixtures and rules.

``shop``: one reference shop for the test session, always stopped; after every test that used
it, any fault the test left (it may have failed mid-fault) is removed, so the next test starts
from a healthy shop. Under ``CI`` (set and not ``0``/``false``) a skipped test fails: CI must
never pass by not running a test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from peakdrill.chaos import lifecycle
from peakdrill.shop import ShopState, start_shop, stop_shop

# A small bot (2 slots, shop-wide) and fast humans, so the escalation path is reachable with a
# dozen chats and the human reply arrives within a second.
SHOP_TEST_BOT_SLOTS = 2
SHOP_TEST_ENV = {"PEAKDRILL_SHOP_APP_HUMAN_REPLY_S": "0.3"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped under CI, which must run every test: {reason}"


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> ShopState:
    shop_dir = tmp_path_factory.mktemp("shop")
    try:
        yield start_shop(shop_dir, host="127.0.0.1", port=0, workers=2, extra_env=SHOP_TEST_ENV,
                         bot_slots=SHOP_TEST_BOT_SLOTS)
    finally:
        stop_shop(shop_dir)  # also after a failed start: stop_shop only acts on what state.json names


@pytest.fixture(autouse=True)
def _no_fault_outlives_its_test(request: pytest.FixtureRequest):
    """Teardown runs whether the test passed or failed: remove what the ledger still lists, exactly
    as `peakdrill chaos recover` would (Redis restarted, sync thawed, stand-ins healed, ...)."""
    yield
    shop = request.node.funcargs.get("shop")  # absent when the test did not use it or it failed to start
    if shop is not None:
        lifecycle.remove_all(shop.shop_dir, by="recover")


@pytest.fixture(scope="session")
def postgres_shop() -> ShopState:
    """The same shop on PostgreSQL: a server of its own from the distribution's package. Not under
    pytest's tmp (mode 0700): the server runs as the ``postgres`` user, which must reach it."""
    shop_dir = Path(tempfile.mkdtemp(prefix="pd-pgshop-"))
    shop_dir.chmod(0o755)
    try:
        yield start_shop(shop_dir, host="127.0.0.1", port=0, workers=2, extra_env=SHOP_TEST_ENV,
                         bot_slots=SHOP_TEST_BOT_SLOTS, database="postgres")
    finally:
        try:
            stop_shop(shop_dir)
        finally:
            shutil.rmtree(shop_dir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def shop_on_each_backend(request: pytest.FixtureRequest) -> ShopState:
    """For the fault and reconciliation tests: each runs against the shop on both databases."""
    return request.getfixturevalue("shop" if request.param == "sqlite" else "postgres_shop")

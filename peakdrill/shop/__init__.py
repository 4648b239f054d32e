"""The embedded reference shop: the system peakdrill drills out of the box.

A real Redis server, SQLite (WAL) as the system of record and gunicorn workers serving an order
and customer-service API. The functions below are the "real faults" API used by the chaos
provider and the drill runner.
"""

from peakdrill.shop.control import Control, clear_control, write_control
from peakdrill.shop.state import AppState, DatabaseState, RedisState, ShopState, load_state
from peakdrill.shop.supervisor import (health, redis_running, running, start_redis, start_shop,
                                       stop_redis, stop_shop)

__all__ = ["AppState", "Control", "clear_control", "write_control", "DatabaseState", "RedisState", "ShopState", "health", "load_state", "redis_running",
           "running", "start_redis", "start_shop", "stop_redis", "stop_shop"]

"""The embedded reference shop: the system peakdrill drills out of the box.

A real Redis server, SQLite (WAL) as the system of record, gunicorn workers serving an order and
customer-service API, three provider stand-ins (payment gateway, courier tracking, AI chat bot)
and an inventory sync worker, each its own process. The functions below are the "real faults"
API used by the chaos provider and the drill runner.
"""

from peakdrill.shop.process_faults import (app_worker_pids, freeze_sync, hold_database_lock, sync_frozen,
                                           thaw_sync)
from peakdrill.shop.standins import (get_bot_capacity, get_standin_fault, set_bot_capacity, set_standin_fault,
                                     standin_url)
from peakdrill.shop.state import (AppState, DatabaseState, RedisState, ShopState, StandinState, SyncState,
                                  load_state)
from peakdrill.shop.supervisor import (health, redis_running, running, start_redis, start_shop,
                                       stop_redis, stop_shop)

__all__ = ["AppState", "DatabaseState", "RedisState", "ShopState", "StandinState", "SyncState", "app_worker_pids",
           "freeze_sync", "get_bot_capacity", "get_standin_fault", "hold_database_lock", "health", "load_state",
           "redis_running", "running", "set_bot_capacity", "set_standin_fault", "standin_url", "start_redis",
           "start_shop", "stop_redis", "stop_shop", "sync_frozen", "thaw_sync"]

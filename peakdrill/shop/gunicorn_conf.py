"""gunicorn settings for the shop (``-c python:peakdrill.shop.gunicorn_conf``).

gthread workers: each worker is a process with a thread pool, so a slow call (the bot's
inference, the payment gateway, a DB fallback) blocks one thread, not the worker. The subclass
counts the requests a worker holds, for load shedding (see peakdrill.shop.shedding).
"""

from prometheus_client import multiprocess

worker_class = "peakdrill.shop.shedding.SheddingThreadWorker"
threads = 8
timeout = 30
graceful_timeout = 5  # `shop down` should not wait long for in-flight requests
keepalive = 5
accesslog = None


def child_exit(server, worker) -> None:
    # Without this, a dead worker's live-gauge files would stay in the aggregate forever.
    multiprocess.mark_process_dead(worker.pid)

"""Real web servers for the journey and replay tests: gunicorn serving small WSGI apps.

``answer_everything`` answers any request with a small JSON body (the replay test only needs its
access log); ``alt_shop`` is "another shop": the reference shop's API under other paths, forwarded
to the reference shop, and a 429 with ``Retry-After`` for every Nth request when
``ALTSHOP_SHED_EVERY`` is set. gunicorn's default access-log format is the combined log format.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
COMBINED_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

# Other shop's path -> the reference shop's path.
ALT_ROUTES = [
    (re.compile(r"^/shop/v2/catalogue\?p=(\d+)$"), r"/api/products?page=\1"),
    (re.compile(r"^/shop/v2/catalogue/item-(\d+)$"), r"/api/products/\1"),
    (re.compile(r"^/shop/v2/checkout$"), r"/api/orders"),
    (re.compile(r"^/shop/v2/checkout/(\d+)$"), r"/api/orders/\1"),
    (re.compile(r"^/shop/v2/checkout/(\d+)/payment$"), r"/api/orders/\1/pay"),
    (re.compile(r"^/help/conversations$"), r"/api/cs/chats"),
    (re.compile(r"^/help/conversations/(\d+)$"), r"/api/cs/chats/\1"),
    (re.compile(r"^/help/conversations/(\d+)/say$"), r"/api/cs/chats/\1/messages"),
    (re.compile(r"^/help/conversations/(\d+)/end$"), r"/api/cs/chats/\1/close"),
]
ALT_MAP = """\
name: alt-shop
endpoints:
  list_products: GET /shop/v2/catalogue?p={n}
  product: GET /shop/v2/catalogue/item-{id}
  place_order: POST /shop/v2/checkout
  get_order: GET /shop/v2/checkout/{id}
  pay_order: POST /shop/v2/checkout/{id}/payment
  open_chat: POST /help/conversations
  get_chat: GET /help/conversations/{id}
  chat_message: POST /help/conversations/{id}/say
  close_chat: POST /help/conversations/{id}/end
"""
_requests = itertools.count(1)


def answer_everything(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"ok": true}']


def alt_shop(environ, start_response):
    target = environ["PATH_INFO"] + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
    upstream_path = next((pattern.sub(replacement, target) for pattern, replacement in ALT_ROUTES if pattern.match(target)), None)
    if upstream_path is None:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "no such path in this shop"}']
    shed_every = int(os.environ.get("ALTSHOP_SHED_EVERY", "0"))
    if shed_every and next(_requests) % shed_every == 0:
        start_response("429 Too Many Requests", [("Retry-After", "0"), ("Content-Type", "application/json")])
        return [b'{"error": "busy"}']
    upstream = urlsplit(os.environ["ALTSHOP_UPSTREAM"])
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else None
    headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
    try:
        connection.request(environ["REQUEST_METHOD"], upstream_path, body=body, headers=headers)
        answer = connection.getresponse()
        payload = answer.read()
    finally:
        connection.close()
    start_response(f"{answer.status} {answer.reason}", [("Content-Type", answer.getheader("Content-Type", "application/json"))])
    return [payload]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(app: str, access_log: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``tests/servers.py``'s ``app`` with gunicorn on a free loopback port; always stopped."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
               "--worker-class", "gthread", "--threads", "8", "--chdir", str(HERE), f"servers:{app}"]
    if access_log is not None:
        command += ["--access-logfile", str(access_log), "--access-logformat", COMBINED_LOG_FORMAT]
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=dict(os.environ, **(env or {})), stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    errors.seek(0)
                    raise RuntimeError(f"gunicorn did not start: {errors.read().decode(errors='replace')[-2000:]}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        errors.close()

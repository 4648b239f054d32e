"""Test targets with known behaviour: a real HTTP server that admits K requests at a time.

Each request holds one of K slots for a fixed service time S; requests beyond K wait for a slot
(queue), so the server's capacity is exactly K / S requests per second and latency grows without
bound past it. Keep-alive (HTTP/1.1) like a real shop, one thread per connection.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class SlotServer:
    url: str
    slots: int
    service_s: float
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def capacity_rps(self) -> float:
        return self.slots / self.service_s

    def count(self) -> None:
        with self._lock:
            self.requests += 1


def _handler(server: SlotServer, semaphore: threading.Semaphore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with semaphore:
                time.sleep(server.service_s)
            server.count()
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # thousands of lines of access log help no test
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 drops a spawning crowd's connects into SYN retries

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hanging up when the load stops
            super().handle_error(request, client_address)


@contextmanager
def slot_server(slots: int, service_s: float) -> Iterator[SlotServer]:
    """A server on a free loopback port, always shut down on exit."""
    target = SlotServer(url="", slots=slots, service_s=service_s)
    httpd = _Server(("127.0.0.1", 0), _handler(target, threading.Semaphore(slots)))
    target.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="slot-server", daemon=True)
    thread.start()
    try:
        yield target
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

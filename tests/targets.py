"""Test targets with known behaviour: real HTTP servers on loopback.

``slot_server`` admits K requests at a time: each request holds one of K slots for a fixed service
time S; requests beyond K wait for a slot (queue), so the server's capacity is exactly K / S
requests per second and latency grows without bound past it. Keep-alive (HTTP/1.1) like a real
shop, one thread per connection.

``counting_server`` counts every connection it accepts (the egress tests need 0 on an unlisted
address) and can answer with a redirect.
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
def _serving(httpd: ThreadingHTTPServer) -> Iterator[None]:
    """Serve in a thread; always shut down on exit, also when the test failed."""
    thread = threading.Thread(target=httpd.serve_forever, name=type(httpd).__name__, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def slot_server(slots: int, service_s: float) -> Iterator[SlotServer]:
    """A server on a free loopback port, always shut down on exit."""
    target = SlotServer(url="", slots=slots, service_s=service_s)
    httpd = _Server(("127.0.0.1", 0), _handler(target, threading.Semaphore(slots)))
    target.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    with _serving(httpd):
        yield target


class CountingServer(ThreadingHTTPServer):
    """Counts the connections it accepts; answers 200, or 302 to ``redirect_to`` for ``/redirect``
    (for every path with ``redirect_everything``)."""

    daemon_threads = True

    def __init__(self, address: str, redirect_everything: bool = False) -> None:
        self.connections = 0
        self.redirect_to, self.redirect_everything = "", redirect_everything
        super().__init__((address, 0), _CountingHandler)

    def verify_request(self, request, client_address) -> bool:
        self.connections += 1
        return True

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"


class _CountingHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.server.redirect_to and (self.path == "/redirect" or self.server.redirect_everything):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_) -> None:
        pass


@contextmanager
def counting_server(address: str, redirect_everything: bool = False) -> Iterator[CountingServer]:
    """A counting server on ``address`` (any loopback address) and a free port, always shut down on exit."""
    httpd = CountingServer(address, redirect_everything)
    with _serving(httpd):
        yield httpd

"""A small HTTP service that is not the reference shop, with a latency knob.

``GET /item`` and ``GET /cart`` answer after the knob's latency (``/cart`` takes twice as long);
``PUT /knob?ms=N`` turns the knob while it runs.
``POST /bookings {"ref"}`` stores a booking and answers its id; ``GET /bookings`` lists what is stored
(``{"bookings": [{"id", "ref"}]}``), the system of record a data-integrity check asks;
``PUT /knob?drop=N`` makes it acknowledge the N-th next booking without storing it (a lost write). It listens on port 0 and writes its URL to
``--url-file``, so tests never fight over a port. Run it as its own process (``python
tests/knob_server.py --latency-ms 10 --url-file F``); :func:`knob_server` does that and stops it in
``finally``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real service would
    # Headers and body go out as two writes: with Nagle's algorithm the second waits for a delayed ACK.
    disable_nagle_algorithm = True
    latency_ms = 10.0
    bookings: list[dict] = []
    drop_at = 0  # the booking number acknowledged but never stored; 0: none
    created = 0
    lock = threading.Lock()

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        if path == "/bookings":
            with Handler.lock:
                self._answer(200, {"bookings": list(Handler.bookings)})
            return
        factor = {"/item": 1.0, "/cart": 2.0}.get(path)
        if factor is None:
            self._answer(404, {"error": "no such path"})
            return
        time.sleep(Handler.latency_ms * factor / 1000)
        self._answer(200, {"path": path, "latency_ms": Handler.latency_ms * factor})

    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path != "/bookings":
            self._answer(404, {"error": "no such path"})
            return
        ref = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}").get("ref")
        with Handler.lock:
            Handler.created += 1
            booking = {"id": f"bk-{Handler.created}", "ref": ref}
            if Handler.created != Handler.drop_at:
                Handler.bookings.append(booking)
        self._answer(201, booking)

    def do_PUT(self) -> None:  # noqa: N802
        query = parse_qs(urlsplit(self.path).query)
        if "ms" in query:
            Handler.latency_ms = float(query["ms"][0])
        if "drop" in query:
            with Handler.lock:
                Handler.drop_at = Handler.created + int(query["drop"][0])
        self._answer(200, {"latency_ms": Handler.latency_ms, "drop_at": Handler.drop_at})

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--url-file", required=True)
    args = parser.parse_args()
    Handler.latency_ms = args.latency_ms
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Path(args.url_file).write_text(f"http://127.0.0.1:{server.server_address[1]}")
    server.serve_forever()


def set_knob(url: str, latency_ms: float | None = None, drop: int | None = None) -> None:
    query = "&".join(([f"ms={latency_ms:g}"] if latency_ms is not None else []) + ([f"drop={drop}"] if drop else []))
    request = urllib.request.Request(f"{url}/knob?{query}", method="PUT")
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 200


@contextmanager
def knob_server(tmp_path: Path, latency_ms: float) -> Iterator[str]:
    url_file = tmp_path / f"knob-url-{time.monotonic_ns()}"
    process = subprocess.Popen([sys.executable, __file__, "--latency-ms", str(latency_ms), "--url-file", str(url_file)])
    try:
        deadline = time.monotonic() + 10
        while not (url_file.exists() and url_file.read_text()):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the knob server did not start")
            time.sleep(0.05)
        yield url_file.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()

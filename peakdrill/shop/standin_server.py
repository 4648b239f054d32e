"""A provider stand-in process: ``python -m peakdrill.shop.standin_server payment|courier|bot ...``.

Two listening ports in one process: the business API (what the shop calls) and the admin API
(what a provider's sandbox offers for fault injection). The admin port stays up whatever the
fault, so an ``unreachable`` business port can still be restored.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from peakdrill.errors import ShopError
from peakdrill.shop.providers import ChatBot, CourierTracking, PaymentGateway
from peakdrill.shop.standin_model import Fault

# Far past every client timeout of the shop (at most a few seconds): a "timeout" is a timeout.
HOLD_S = 300.0
MAX_BODY = 1 << 16


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: "Standin", admin: bool) -> None:
        self.standin, self.admin = standin, admin
        super().__init__(address, _Handler)

    def unreachable(self) -> bool:
        return not self.admin and self.standin.fault.mode == "unreachable"

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if not self.unreachable():
            return True
        _reset_on_close(request)
        return False


def _reset_on_close(sock: socket.socket) -> None:
    # SO_LINGER 0: closing sends a RST, so the client sees "connection reset" at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Standin:
    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.fault = Fault()
        # Signalled whenever the fault changes, so requests held by "timeout" are let go when it heals.
        self._fault_changed = threading.Condition()

    def business(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        fault = self.fault
        time.sleep(fault.latency_ms / 1000)
        if fault.mode == "timeout":
            # The client gave up long ago; the request is never processed. Held until the fault
            # changes (at most HOLD_S), so a healed stand-in does not keep a thread per request.
            with self._fault_changed:
                self._fault_changed.wait_for(lambda: self.fault.mode != "timeout", HOLD_S)
            return 504, {"error": "injected fault", "detail": "the provider timed out (admin fault mode timeout)"}
        if fault.mode == "error" and (not 0 < fault.error_ratio < 1 or random.random() < fault.error_ratio):
            return 503, {"error": "injected fault", "detail": "the provider answers 5xx (admin fault mode error)"}
        if fault.mode == "double_charge" and hasattr(self.provider, "handle_twice"):
            return self.provider.handle_twice(method, path, query, body)
        return self.provider.handle(method, path, query, body)

    def admin(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        try:
            if path == "/admin/fault":
                if method == "PUT":
                    with self._fault_changed:
                        self.fault = self.fault.patched(body)
                        self._fault_changed.notify_all()
                elif method != "GET":
                    return 405, {"error": "method not allowed", "detail": "use GET or PUT"}
                return 200, self.fault.to_dict()
            return self.provider.admin(method, path, body)
        except ShopError as exc:
            return 400, {"error": "invalid setting", "detail": str(exc)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the shop's connection pools reuse connections
    server: _Server

    def _serve(self) -> None:
        if self.server.unreachable():  # a kept-alive connection from before the fault
            _reset_on_close(self.connection)
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body: Any = None
        if 0 < length <= MAX_BODY:
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                return self._answer(400, {"error": "malformed JSON", "detail": "the body must be JSON"})
        elif length > MAX_BODY:
            self.close_connection = True
            return self._answer(413, {"error": "too large", "detail": f"at most {MAX_BODY} bytes"})
        if self.server.admin:
            status, answer = self.server.standin.admin(self.command, parts.path, body)
        else:
            status, answer = self.server.standin.business(self.command, parts.path, dict(parse_qsl(parts.query)), body)
        self._answer(status, answer)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would flood the log under load; errors still reach stderr


PROVIDERS = {"payment": lambda args: PaymentGateway(), "courier": lambda args: CourierTracking(),
             "bot": lambda args: ChatBot(slots=args.slots, max_queue=args.max_queue)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=sorted(PROVIDERS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--slots", type=int, default=4, help="bot only: concurrent conversations")
    parser.add_argument("--max-queue", type=int, default=8, help="bot only: conversations waiting for a slot")
    args = parser.parse_args(argv)
    standin = Standin(PROVIDERS[args.kind](args))
    business = _Server((args.host, args.port), standin, admin=False)
    admin = _Server((args.host, args.admin_port), standin, admin=True)
    threading.Thread(target=business.serve_forever, name="business", daemon=True).start()
    admin.serve_forever()


if __name__ == "__main__":
    main()

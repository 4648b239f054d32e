"""A tiny loopback HTTP/1.1 keep-alive server that counts TCP connections and requests.

It is the built-in target of ``peakdrill calibrate`` and of the harness benchmark, and the witness
of the keep-alive test: it answers every request with a fixed ``200 ok`` in well under a
millisecond, so what is measured is the load generator, and it counts what the generator really
did on the wire (a new connection per request shows up here, whatever the client reports).

It runs an asyncio event loop (epoll) in a background thread, so it holds tens of thousands of
connections and descriptors past 1024 without becoming the bottleneck. It reads requests without
bodies only (GET/HEAD), which is all the generators that use it send.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
END_OF_HEADERS = b"\r\n\r\n"


@dataclass(slots=True)
class Counters:
    connections: int = 0
    open_connections: int = 0
    requests: int = 0


class _Connection(asyncio.Protocol):
    def __init__(self, counters: Counters, transports: set[asyncio.Transport]) -> None:
        self.counters = counters
        self.transports = transports
        self.transport: asyncio.Transport | None = None
        self.tail = b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.transports.add(transport)
        self.counters.connections += 1
        self.counters.open_connections += 1

    def connection_lost(self, exc) -> None:
        self.transports.discard(self.transport)
        self.counters.open_connections -= 1

    def data_received(self, data: bytes) -> None:
        # A request's header block may arrive split; keep just enough of what follows the last
        # complete one to see a terminator that straddles two reads.
        buffer = self.tail + data
        complete = buffer.count(END_OF_HEADERS)
        self.tail = buffer.rsplit(END_OF_HEADERS, 1)[-1][-3:]
        if complete:
            self.counters.requests += complete
            self.transport.write(RESPONSE * complete)


class FastServer:
    """``with FastServer() as server: ... server.url ... server.counters.connections``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.counters = Counters()
        self._transports: set[asyncio.Transport] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="fastserver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FastServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _listen(self) -> asyncio.Server:
        return await self._loop.create_server(lambda: _Connection(self.counters, self._transports), self.host, self.port, backlog=4096)

    def _close_all(self) -> None:
        # Server.close() leaves accepted connections open; a stopped server must hold no sockets.
        if self._server is not None:
            self._server.close()
        for transport in list(self._transports):
            transport.abort()
        self._loop.call_soon(self._loop.stop)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._close_all)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FastServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

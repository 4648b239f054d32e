"""The live report page (``peakdrill drill ... --web``): report.html from the data recorded so far.

``GET /`` renders the run directory exactly as ``peakdrill report`` would (same template, same
scoring), at most once per :data:`RENDER_EVERY_S` however many browsers watch, with a bar on top
that refreshes the page every few seconds and holds a "stop the drill" form. ``POST /stop`` with
the token printed on the terminal (compared in constant time) asks for the same orderly stop as
Ctrl-C: the running experiment's rollbacks play, Locust stops, the run is marked interrupted.
The server binds to loopback unless told otherwise: anyone who reaches it can read the run.
"""

from __future__ import annotations

import hmac
import html
import logging
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from peakdrill.errors import PeakdrillError

log = logging.getLogger(__name__)

RENDER_EVERY_S = 2.0
REFRESH_S = 3
MAX_FORM_BYTES = 4096

LIVE_BAR = """\
<div id="peakdrill-live" style="position:sticky;top:0;z-index:10;background:#111827;color:#f9fafb;padding:8px 16px;
font:14px system-ui,sans-serif;display:flex;gap:16px;align-items:center;flex-wrap:wrap">
  <b>LIVE</b><span id="live-status">{status}</span>
  <form id="stop-form" method="post" action="/stop" style="margin-left:auto;display:flex;gap:8px">
    <input id="stop-token" name="token" type="password" autocomplete="off" placeholder="stop token (on the terminal)">
    <button id="stop-button" type="submit" style="background:#b91c1c;color:#fff;border:0;padding:4px 12px">stop the drill</button>
  </form>
</div>
"""

# Reload every few seconds, but never while someone is typing the token.
REFRESH_SCRIPT = """\
<script>
setInterval(function () {
  var t = document.getElementById("stop-token");
  if (!t || (!t.value && document.activeElement !== t)) { location.reload(); }
}, %d);
</script>
""" % (REFRESH_S * 1000)

WAITING_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>peakdrill · live</title></head>
<body>{bar}<main><p id="live-waiting">Waiting for the first measurements: {why}</p></main>{script}</body></html>"""


class LivePage:
    """Renders the page; the rendering is cached so many viewers cost one render per interval."""

    def __init__(self, run_dir: Callable[[], Path | None], status: Callable[[], str]) -> None:
        self.run_dir, self.status = run_dir, status
        self._lock = threading.Lock()
        self._cached: tuple[float, bytes] = (0.0, b"")

    def render(self) -> bytes:
        with self._lock:
            made, page = self._cached
            if time.monotonic() - made >= RENDER_EVERY_S or not page:
                page = self._render().encode("utf-8")
                self._cached = (time.monotonic(), page)
            return page

    def _render(self) -> str:
        from peakdrill.report.html import render_html
        from peakdrill.report.rules import load_for_rules
        from peakdrill.report.score import score_run

        bar = LIVE_BAR.format(status=html.escape(self.status()))
        run_dir = self.run_dir()
        if run_dir is None:
            return WAITING_PAGE.format(bar=bar, why="the run is starting", script=REFRESH_SCRIPT)
        try:
            data, ruleset = load_for_rules(run_dir)
            page = render_html(data, score_run(data, ruleset))
        except PeakdrillError as exc:  # nothing measured yet: the report has nothing to score
            return WAITING_PAGE.format(bar=bar, why=html.escape(str(exc)[:300]), script=REFRESH_SCRIPT)
        head, body = page.split("<body>", 1)
        return head + "<body>" + bar + body.replace("</body>", REFRESH_SCRIPT + "</body>")


class LiveWebServer:
    def __init__(self, page: LivePage, request_stop: Callable[[], bool], host: str, port: int) -> None:
        self.token = secrets.token_urlsafe(12)
        self.page = page
        self._request_stop = request_stop
        self.stop_requested = threading.Event()
        self._stop_lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"live": self})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise PeakdrillError(f"--web-host/--web-port {host}:{port}: cannot listen ({exc.strerror}); "
                                 f"pick a free port, or 0 for any") from exc
        self._server.daemon_threads = True
        self.host, self.port = host, self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-web", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def stop_with(self, token: str) -> bool | None:
        """None: wrong token; False: nothing runs to be stopped; True: the stop is under way."""
        if not hmac.compare_digest(token.encode("utf-8"), self.token.encode("utf-8")):
            return None
        with self._stop_lock:
            if not self.stop_requested.is_set() and self._request_stop():
                self.stop_requested.set()
        return self.stop_requested.is_set()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    live: LiveWebServer

    def log_message(self, format, *args) -> None:  # the drill's terminal is for the drill
        log.debug("live page: " + format, *args)

    def _reply(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/stop":
            return self._reply(405, b"the stop takes a POST with the token\n", "text/plain")
        if path not in ("/", "/index.html"):
            return self._reply(404, b"not found\n", "text/plain")
        self._reply(200, self.live.page.render())

    def do_POST(self) -> None:
        if self.path != "/stop":
            return self._reply(404, b"not found\n", "text/plain")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM_BYTES:
            return self._reply(413, b"form too large\n", "text/plain")
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        stopping = self.live.stop_with((form.get("token") or [""])[0])
        if stopping is None:
            return self._reply(403, _message("Wrong stop token: it is printed on the terminal that started the drill."))
        if not stopping:
            return self._reply(409, _message("The run is not running (not started yet, or over): nothing to stop."))
        self._reply(202, _message("Stopping the drill in order: the running experiment's rollbacks play, "
                                  "then the load stops. The run will be marked interrupted."))


def _message(text: str) -> bytes:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_S};url=/">'
            f'<title>peakdrill · live</title></head><body><p id="live-message">{html.escape(text)}</p>'
            f'<p><a href="/">back to the live page</a></p></body></html>').encode("utf-8")

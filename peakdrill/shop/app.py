"""The shop's WSGI app (Flask), run by gunicorn: ``peakdrill.shop.app:create_app()``.

This module wires the cross-cutting behaviour every route shares: per-route metrics, load
shedding (429 + Retry-After), the database circuit breaker (503 + Retry-After) and the error
answers; the routes themselves live in ``routes_orders`` and ``routes_cs``.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from peakdrill.shop import cs, db, metrics, routes_cs, routes_orders, shedding
from peakdrill.shop.web import ApiProblem, problem
from peakdrill.shop.wiring import Deps, env

log = logging.getLogger(__name__)
_PARAM = re.compile(r"<(?:[^:<>]+:)?[^<>]+>")
# Observability must answer while the shop sheds load or the database is locked.
UNGUARDED = frozenset({"/healthz", "/metrics"})


def _route() -> str:
    # Label by route template (/api/products/<id>), never the raw path: bounded cardinality.
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    return _PARAM.sub("<id>", rule)


def _retry_later(http_status: int, error: str, detail: str, seconds: int) -> Response:
    response = problem(http_status, error, detail)
    response.headers["Retry-After"] = str(seconds)
    return response


def create_app() -> Flask:
    # Timestamped and per worker, so a fault's effects can be lined up with a drill's clock.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    app = Flask("peakdrill.shop")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20  # no legitimate request is near 1 MB; 413 beyond
    deps = Deps.from_env()
    # Agents get their own connections with the default (longer) busy timeout: a reply they claimed
    # should wait out a slow database rather than be dropped after the app's short write timeout.
    cs.start_human_agents(lambda: db.connect(deps.connections.location), cs.CsConfig(
        human_agents=int(env("HUMAN_AGENTS", "2")), human_reply_s=float(env("HUMAN_REPLY_S", "2.0"))))

    @app.before_request
    def _admit() -> Response | None:
        g.start = time.perf_counter()
        g.route = route = _route()
        if route in UNGUARDED:
            return None
        if shedding.saturated(deps.max_in_flight):
            metrics.SHED.labels(route).inc()
            return _retry_later(429, "overloaded", f"this worker already holds {deps.max_in_flight} requests; "
                                "retry after the Retry-After seconds", 1)
        if request.method == "POST":
            # Read before the breaker hands out a probe, so nothing can fail between the two.
            # The verdict comes from the database itself: a write lock granted or rows written on
            # this thread prove it takes writes; a POST refused before reaching it proves nothing.
            progress = db.write_progress(deps.connections.get())
            if not deps.database_breaker.allow():
                return _retry_later(503, "database unavailable", "the database breaker is open after repeated "
                                    "lock timeouts; retry after the Retry-After seconds", 2)
            g.db_progress_before = progress
        return None

    @app.after_request
    def _observe(response: Response) -> Response:
        if "db_progress_before" in g and not g.get("db_failed"):
            if db.write_progress(deps.connections.get()) > g.db_progress_before:
                deps.database_breaker.success()
            else:
                deps.database_breaker.release()
        route = g.get("route") or _route()
        if route != "/metrics":
            metrics.HTTP_DURATION.labels(route, request.method, str(response.status_code)).observe(
                time.perf_counter() - g.get("start", time.perf_counter()))
        return response

    @app.errorhandler(ApiProblem)
    def _api_problem(exc: ApiProblem) -> Response:
        return problem(exc.status, exc.error, exc.detail, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return problem(exc.code or 500, (exc.name or "error").lower(), exc.description or "")

    @app.errorhandler(db.OperationalFailure)
    def _db_busy(exc: db.OperationalFailure) -> Response:
        # A locked or unreachable database is the server's problem, and a retryable one. Only
        # those count against the breaker: another operational failure is a bug of ours, not the
        # database failing, and must not lock every writer out.
        log.warning("database error on %s %s: %s (%s)", request.method, request.path, exc, exc.code or "no code")
        if "db_progress_before" in g and isinstance(exc, db.DatabaseUnavailable):
            g.db_failed = True
            deps.database_breaker.failure()
        return _retry_later(503, "database unavailable", str(exc), 1)

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal error", type(exc).__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        cache_state = "up" if deps.cache.up() else "down"
        try:
            deps.connections.get().execute("SELECT 1 FROM products LIMIT 1").fetchone()
        except db.DatabaseError as exc:
            return problem(503, "database unusable", str(exc), status="down", cache=cache_state, db="error")
        return jsonify({"status": "ok", "cache": cache_state, "db": "ok"})

    @app.get("/metrics")
    def prometheus() -> Response:
        body, content_type = metrics.render(deps.queue_depths)
        return Response(body, content_type=content_type)

    routes_orders.register(app, deps)
    routes_cs.register(app, deps)
    return app

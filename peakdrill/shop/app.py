"""The shop's WSGI app (Flask), run by gunicorn: ``peakdrill.shop.app:create_app()``.

Configuration comes from the environment the supervisor sets (``PEAKDRILL_SHOP_APP_*``), so the
same app runs under ``peakdrill shop up`` or under any gunicorn command line. Every answer is JSON;
errors are ``{"error": ..., "detail": ...}`` and bad input is always a 4xx, never a 500.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from peakdrill.shop import catalog, cs, db, metrics, orders, reconcile
from peakdrill.shop.cache import Cache
from peakdrill.shop.control import ControlReader
from peakdrill.shop.orders import OrderProblem

log = logging.getLogger(__name__)
_PARAM = re.compile(r"<(?:[^:<>]+:)?[^<>]+>")
MAX_KEY_LEN = 200


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(f"PEAKDRILL_SHOP_APP_{name}", default)
    if value is None:
        raise RuntimeError(f"PEAKDRILL_SHOP_APP_{name} is not set; start the app with `peakdrill shop up`")
    return value


def _problem(http_status: int, error: str, detail: str, /, **extra: Any) -> Response:
    response = jsonify({"error": error, "detail": detail, **extra})
    response.status_code = http_status
    return response


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_KEY_LEN:
        raise OrderProblem(400, "missing Idempotency-Key",
                           f"send a unique Idempotency-Key header (1..{MAX_KEY_LEN} characters) and reuse it "
                           "on retries of the same request")
    return key


def _json_body() -> Any:
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise OrderProblem(400, "malformed JSON", "the request body must be a JSON document "
                           "(Content-Type: application/json)")
    return body


def create_app() -> Flask:
    app = Flask("peakdrill.shop")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20  # no legitimate request is near 1 MB; 413 beyond
    connections = db.ThreadConnections(_env("DB"))
    cache = Cache(_env("REDIS_HOST", "127.0.0.1"), int(_env("REDIS_PORT")), ttl_s=int(_env("CACHE_TTL", "300")))
    cs_config = cs.CsConfig(bot_slots=int(_env("BOT_SLOTS", "4")), human_agents=int(_env("HUMAN_AGENTS", "2")),
                            human_reply_s=float(_env("HUMAN_REPLY_S", "2.0")))
    control = ControlReader(_env("DIR"))
    service = cs.CustomerService(cs_config, capacity=lambda: control.get().bot_slots)
    cs.start_human_agents(lambda: db.connect(connections.path), cs_config)

    @app.before_request
    def _start_timer() -> None:
        g.start = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        # Label by route template (/api/products/<id>), never the raw path: bounded cardinality.
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        route = _PARAM.sub("<id>", rule)
        if route != "/metrics":
            metrics.HTTP_DURATION.labels(route, request.method, str(response.status_code)).observe(
                time.perf_counter() - g.get("start", time.perf_counter()))
        return response

    @app.errorhandler(OrderProblem)
    def _order_problem(exc: OrderProblem) -> Response:
        return _problem(exc.status, exc.error, exc.detail, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return _problem(exc.code or 500, (exc.name or "error").lower(), exc.description or "")

    @app.errorhandler(sqlite3.OperationalError)
    def _db_busy(exc: sqlite3.OperationalError) -> Response:
        # A locked or unavailable database is the server's problem, and a retryable one.
        log.warning("database error: %s", exc)
        response = _problem(503, "database unavailable", str(exc))
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _problem(500, "internal error", type(exc).__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        cache_state = "up" if cache.up() else "down"
        try:
            connections.get().execute("SELECT 1 FROM products LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            return _problem(503, "database unusable", str(exc), status="down", cache=cache_state, db="error")
        return jsonify({"status": "ok", "cache": cache_state, "db": "ok"})

    @app.get("/metrics")
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)

    @app.get("/api/products")
    def products() -> Response:
        page = request.args.get("page", "1")
        if not page.isdigit() or int(page) < 1 or int(page) > 10_000:
            raise OrderProblem(400, "invalid page", f"page must be an integer 1..10000, got {page!r}")
        return jsonify(catalog.list_products(connections.get(), int(page)))

    @app.get("/api/products/<int:product_id>")
    def product(product_id: int) -> Response:
        read = cache.read_through(f"product:{product_id}",
                                  lambda: catalog.product_page(connections.get(), product_id))
        if read.value is None:
            response = _problem(404, "product not found", f"no product with id {product_id}")
        else:
            response = jsonify(read.value)
        response.headers["X-Cache"] = read.source
        return response

    @app.post("/api/orders")
    def place_order() -> Response:
        key = _idempotency_key()
        outcome = orders.place_order(connections.get(), key, _json_body())
        response = _json(outcome.body, outcome.status)
        response.headers["Idempotent-Replayed"] = "true" if outcome.status == 200 else "false"
        return response

    @app.get("/api/orders/<int:order_id>")
    def get_order(order_id: int) -> Response:
        return jsonify(orders.order_view(connections.get(), order_id))

    @app.post("/api/orders/<int:order_id>/pay")
    def pay(order_id: int) -> Response:
        key = _idempotency_key()
        outcome = orders.pay_order(connections.get(), order_id, key, control.get())
        return _json(outcome.body, outcome.status)

    @app.get("/api/admin/reconciliation")
    def reconciliation() -> Response:
        since = request.args.get("since", "0")
        try:
            since_ts = float(since)
        except ValueError:
            raise OrderProblem(400, "invalid since", f"since must be epoch seconds, got {since!r}") from None
        return jsonify(reconcile.reconciliation(connections.get(), since_ts))

    @app.post("/api/cs/chats")
    def open_chat() -> Response:
        return _json(service.open_chat(connections.get(), _json_body()), 201)

    @app.get("/api/cs/chats/<int:chat_id>")
    def get_chat(chat_id: int) -> Response:
        return jsonify(cs.chat_view(connections.get(), chat_id))

    @app.post("/api/cs/chats/<int:chat_id>/messages")
    def message(chat_id: int) -> Response:
        return jsonify(service.send_message(connections.get(), chat_id, _json_body()))

    @app.post("/api/cs/chats/<int:chat_id>/close")
    def close_chat(chat_id: int) -> Response:
        return jsonify(service.close_chat(connections.get(), chat_id, _json_body()))

    return app


def _json(body: dict[str, Any], http_status: int) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    return response

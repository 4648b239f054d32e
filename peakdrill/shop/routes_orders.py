"""The order journey's routes: catalogue, inventory, carts, orders, payment, tracking, and the
reconciliation the drill compares with what it was acknowledged."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from peakdrill.shop import carts, catalog, inventory, orders, reconcile, tracking
from peakdrill.shop.web import ApiProblem, answer, idempotency_key, json_object, problem
from peakdrill.shop.wiring import Deps


def register(app: Flask, deps: Deps) -> None:
    conn = deps.connections.get

    @app.get("/api/products")
    def products() -> Response:
        page = request.args.get("page", "1")
        if not page.isdigit() or int(page) < 1 or int(page) > 10_000:
            raise ApiProblem(400, "invalid page", f"page must be an integer 1..10000, got {page!r}")
        return jsonify(catalog.list_products(conn(), int(page)))

    @app.get("/api/products/<int:product_id>")
    def product(product_id: int) -> Response:
        read = deps.cache.read_through(f"product:{product_id}", lambda: catalog.product_page(conn(), product_id))
        if read.value is None:
            response = problem(404, "product not found", f"no product with id {product_id}")
        else:
            response = jsonify(read.value)
        response.headers["X-Cache"] = read.source
        return response

    @app.get("/api/inventory/<int:product_id>")
    def inventory_of(product_id: int) -> Response:
        return jsonify(inventory.inventory_view(conn(), product_id))

    @app.post("/api/carts")
    def create_cart() -> Response:
        return answer(carts.create_cart(conn(), json_object()), 201)

    @app.post("/api/carts/<int:cart_id>/items")
    def add_to_cart(cart_id: int) -> Response:
        return jsonify(carts.add_item(conn(), cart_id, json_object()))

    @app.get("/api/carts/<int:cart_id>")
    def get_cart(cart_id: int) -> Response:
        return jsonify(carts.cart_view(conn(), cart_id))

    @app.post("/api/orders")
    def place_order() -> Response:
        key = idempotency_key()
        outcome = orders.place_order(conn(), key, json_object())
        response = answer(outcome.body, outcome.status)
        response.headers["Idempotent-Replayed"] = "true" if outcome.status == 200 else "false"
        return response

    @app.get("/api/orders/<int:order_id>")
    def get_order(order_id: int) -> Response:
        return jsonify(orders.order_view(conn(), order_id))

    @app.post("/api/orders/<int:order_id>/pay")
    def pay(order_id: int) -> Response:
        outcome = orders.pay_order(conn(), deps.gateway, order_id, idempotency_key())
        response = answer(outcome.body, outcome.status)
        if outcome.status == 202:
            response.headers["Retry-After"] = "2"
        return response

    @app.get("/api/orders/<int:order_id>/tracking")
    def track(order_id: int) -> Response:
        return jsonify(tracking.track(conn(), deps.courier, order_id))

    @app.get("/api/admin/reconciliation")
    def reconciliation() -> Response:
        since = request.args.get("since", "0")
        try:
            since_ts = float(since)
        except ValueError:
            raise ApiProblem(400, "invalid since", f"since must be epoch seconds, got {since!r}") from None
        return jsonify(reconcile.reconciliation(conn(), since_ts))

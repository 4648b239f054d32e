"""The customer-service journey's routes: chats (bot, escalation, human queue) and returns."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from peakdrill.shop import cs, metrics, returns
from peakdrill.shop.web import answer, idempotency_key, json_object
from peakdrill.shop.wiring import Deps


def register(app: Flask, deps: Deps) -> None:
    conn = deps.connections.get

    @app.post("/api/cs/chats")
    def open_chat() -> Response:
        return answer(deps.service.open_chat(conn(), json_object()), 201)

    @app.get("/api/cs/chats/<int:chat_id>")
    def get_chat(chat_id: int) -> Response:
        return jsonify(cs.chat_view(conn(), chat_id))

    @app.post("/api/cs/chats/<int:chat_id>/messages")
    def message(chat_id: int) -> Response:
        return jsonify(deps.service.send_message(conn(), chat_id, json_object()))

    @app.post("/api/cs/chats/<int:chat_id>/escalate")
    def escalate(chat_id: int) -> Response:
        escalated = cs.escalate(conn(), chat_id)
        metrics.CS_ESCALATIONS.labels("customer").inc()
        return jsonify(escalated)

    @app.post("/api/cs/chats/<int:chat_id>/close")
    def close_chat(chat_id: int) -> Response:
        return jsonify(deps.service.close_chat(conn(), chat_id, json_object()))

    @app.post("/api/returns")
    def request_return() -> Response:
        key = idempotency_key()
        status, body = returns.request_return(conn(), key, json_object())
        return answer(body, status)

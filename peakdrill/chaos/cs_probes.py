"""Probes on customer service: open real chats and measure their first response, bot or human."""

from __future__ import annotations

import time

from peakdrill.chaos import args
from peakdrill.chaos.target import target

__all__ = ["open_chats", "validate_open_chats"]

POLL_S = 0.2


def validate_open_chats(shop_dir: str = ".peakdrill/shop", chats: int = 3, wait_s: float = 35) -> None:
    args.whole("chats", chats, 1, 50, 3)
    args.duration(wait_s, "wait_s")


def open_chats(shop_dir: str = ".peakdrill/shop", chats: int = 3, wait_s: float = 35,
               configuration: dict | None = None) -> dict:
    """Open ``chats`` chats; wait up to ``wait_s`` for the queued ones' human reply. Reports who
    answered first and the slowest first response (ms; ``wait_s`` if a chat got none)."""
    validate_open_chats(shop_dir, chats, wait_s)
    shop, first_by, slowest_ms, queued = target(shop_dir, configuration=configuration), {}, 0.0, []
    for _ in range(int(chats)):
        started = time.time()
        reply = shop.call("POST", "/api/cs/chats", {"channel": "chat", "intent": "order_issue", "customer_id": "chaos-probe"})
        body = reply.body if isinstance(reply.body, dict) else {}
        if reply.status != 201:
            first_by[f"http {reply.status}"] = first_by.get(f"http {reply.status}", 0) + 1
        elif body.get("first_reply"):
            first_by["bot"] = first_by.get("bot", 0) + 1
            slowest_ms = max(slowest_ms, float(body.get("first_response_ms") or 0.0))
        else:
            queued.append((body["chat_id"], started))
    deadline = time.time() + float(wait_s)
    for chat_id, started in queued:
        answered = None
        while answered is None and time.time() < deadline:
            chat = shop.call("GET", f"/api/cs/chats/{chat_id}").body or {}
            answered = chat.get("first_response_ms") if isinstance(chat, dict) else None
            if answered is None:
                time.sleep(POLL_S)
        who = "human" if answered is not None else "nobody"
        first_by[who] = first_by.get(who, 0) + 1
        slowest_ms = max(slowest_ms, float(answered) if answered is not None else float(wait_s) * 1000)
    return {"first_reply_by": first_by, "escalated": len(queued), "slowest_first_response_ms": round(slowest_ms, 1)}

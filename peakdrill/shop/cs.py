"""Customer service: chats answered by an AI-bot stand-in with limited capacity, escalated to a
human queue when the bot is full, and a pool of "human agent" threads answering that queue.

The bot's capacity is a per-worker count of slots taken without waiting: a full bot does not make the
customer wait, it hands the chat to the human queue (``status: queued``), which is exactly what
the cs-overload plan checks. Humans are slower (seconds), so first-response time grows with the
queue. The queue lives in the database, so any worker's agents can answer any worker's chats.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peakdrill.shop import db, metrics
from peakdrill.shop.orders import OrderProblem

CHANNELS = ("chat", "phone", "social", "app", "store")
INTENTS = ("order_issue", "logistics", "after_sales", "payment_dispute", "pre_sales")
_BOT_TEXT = {
    "order_issue": "I can help with your order. Could you tell me the order number?",
    "logistics": "Let me look up the tracking status of your parcel.",
    "after_sales": "Sorry to hear that. I can start a return or a repair for you.",
    "payment_dispute": "I see. I will check the payment and the refund status.",
    "pre_sales": "Happy to help you choose. What will you use it for?",
}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CsConfig:
    bot_slots: int = 4  # concurrent bot conversations per worker
    bot_latency_s: tuple[float, float] = (0.05, 0.3)
    human_agents: int = 2  # per worker
    human_reply_s: float = 2.0  # how long a human takes to read and answer


class CustomerService:
    def __init__(self, config: CsConfig, capacity: Callable[[], int | None] = lambda: None) -> None:
        """``capacity`` returns a live override of ``bot_slots`` (the cs-overload fault), or None."""
        self.config = config
        self._capacity = capacity
        self._lock = threading.Lock()
        self._busy = 0

    def _bot_reply(self, intent: str) -> str | None:
        """The bot's answer, or None if all its slots are busy (never waits for a slot)."""
        override = self._capacity()
        slots = self.config.bot_slots if override is None else override
        with self._lock:
            if self._busy >= slots:
                return None
            self._busy += 1
        try:
            time.sleep(random.uniform(*self.config.bot_latency_s))  # stands in for model inference
            return _BOT_TEXT.get(intent, "How can I help?")
        finally:
            with self._lock:
                self._busy -= 1

    def open_chat(self, conn: sqlite3.Connection, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise OrderProblem(400, "invalid body", "expected a JSON object")
        channel, intent, customer = body.get("channel"), body.get("intent"), body.get("customer_id")
        if channel not in CHANNELS:
            raise OrderProblem(422, "invalid channel", f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
        if intent not in INTENTS:
            raise OrderProblem(422, "invalid intent", f"intent {intent!r} is not one of {', '.join(INTENTS)}")
        if not isinstance(customer, str) or not customer.strip():
            raise OrderProblem(422, "invalid customer_id", f"customer_id must be a non-empty string, got {customer!r}")
        created = time.time()
        chat_id = conn.execute("INSERT INTO chats (customer_id, channel, intent, status, created_at) "
                               "VALUES (?, ?, ?, 'bot', ?)", (customer, channel, intent, created)).lastrowid
        text = self._bot_reply(intent)
        if text is None:
            conn.execute("UPDATE chats SET status = 'queued', queued_at = ? WHERE id = ?", (time.time(), chat_id))
            metrics.CHATS.labels("queued").inc()
            return {"chat_id": chat_id, "status": "queued", "first_reply": None}
        replied = time.time()
        _first_reply(conn, chat_id, "bot", text, created, replied)
        metrics.CHATS.labels("bot").inc()
        return {"chat_id": chat_id, "status": "bot", "first_reply": {"from": "bot", "text": text},
                "first_response_ms": round((replied - created) * 1000, 1)}

    def send_message(self, conn: sqlite3.Connection, chat_id: int, body: Any) -> dict[str, Any]:
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > 2000:
            raise OrderProblem(422, "invalid text", "text must be a non-empty string of at most 2000 characters")
        chat = _chat(conn, chat_id)
        if chat["status"] == "closed":
            raise OrderProblem(409, "chat closed", f"chat {chat_id} is closed; open a new chat")
        conn.execute("INSERT INTO chat_messages (chat_id, sender, text, created_at) VALUES (?, 'customer', ?, ?)",
                     (chat_id, text, time.time()))
        if chat["status"] == "bot":
            reply = self._bot_reply(chat["intent"])
            if reply is not None:
                conn.execute("INSERT INTO chat_messages (chat_id, sender, text, created_at) VALUES (?, 'bot', ?, ?)",
                             (chat_id, reply, time.time()))
                return {"chat_id": chat_id, "status": "bot", "reply": {"from": "bot", "text": reply}}
        # The bot is busy, or a human already has the chat: it waits in the human queue.
        conn.execute("UPDATE chats SET status = 'queued', queued_at = ? WHERE id = ?", (time.time(), chat_id))
        return {"chat_id": chat_id, "status": "queued", "reply": None}

    def close_chat(self, conn: sqlite3.Connection, chat_id: int, body: Any) -> dict[str, Any]:
        score = body.get("satisfaction") if isinstance(body, dict) else None
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise OrderProblem(422, "invalid satisfaction", f"satisfaction must be an integer 1..5, got {score!r}")
        _chat(conn, chat_id)
        conn.execute("UPDATE chats SET status = 'closed', satisfaction = ?, closed_at = ? WHERE id = ?",
                     (score, time.time(), chat_id))
        return chat_view(conn, chat_id)


def _chat(conn: sqlite3.Connection, chat_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
    if row is None:
        raise OrderProblem(404, "chat not found", f"no chat with id {chat_id}")
    return row


def _first_reply(conn: sqlite3.Connection, chat_id: int, sender: str, text: str,
                 created: float, replied: float) -> None:
    with db.transaction(conn):
        conn.execute("INSERT INTO chat_messages (chat_id, sender, text, created_at) VALUES (?, ?, ?, ?)",
                     (chat_id, sender, text, replied))
        # Only the first reply sets first_response_*; later ones leave them alone.
        conn.execute("UPDATE chats SET first_response_at = COALESCE(first_response_at, ?), "
                     "first_response_ms = COALESCE(first_response_ms, ?) WHERE id = ?",
                     (replied, round((replied - created) * 1000, 1), chat_id))
    metrics.CS_FIRST_RESPONSE.labels(sender).observe(replied - created)


def chat_view(conn: sqlite3.Connection, chat_id: int) -> dict[str, Any]:
    chat = _chat(conn, chat_id)
    messages = conn.execute("SELECT sender, text, created_at FROM chat_messages WHERE chat_id = ? ORDER BY id",
                            (chat_id,)).fetchall()
    return {"chat_id": chat["id"], "status": chat["status"], "channel": chat["channel"], "intent": chat["intent"],
            "customer_id": chat["customer_id"], "created_at": chat["created_at"],
            "first_response_ms": chat["first_response_ms"], "satisfaction": chat["satisfaction"],
            "messages": [{"from": m["sender"], "text": m["text"], "at": m["created_at"]} for m in messages]}


def claim_next(conn: sqlite3.Connection) -> sqlite3.Row | None:
    """Take the oldest queued chat for one agent. The conditional UPDATE is the lock: of two
    agents (in any worker) racing for one chat, exactly one changes the row."""
    while True:
        row = conn.execute("SELECT id, created_at FROM chats WHERE status = 'queued' "
                           "ORDER BY queued_at LIMIT 1").fetchone()
        if row is None:
            return None
        if conn.execute("UPDATE chats SET status = 'human' WHERE id = ? AND status = 'queued'",
                        (row["id"],)).rowcount == 1:
            return row


def human_agent(conn_factory, config: CsConfig, stop: threading.Event) -> None:
    """One human agent: take a queued chat, take ``human_reply_s`` to answer it, repeat."""
    conn = conn_factory()
    while not stop.is_set():
        try:
            row = claim_next(conn)
            if row is None:
                stop.wait(0.25)
                continue
            stop.wait(config.human_reply_s * random.uniform(0.7, 1.3))
            _first_reply(conn, row["id"], "human", "Hi, this is a human agent. I'm on it.",
                         row["created_at"], time.time())
        except sqlite3.Error:
            log.exception("human agent: database error; retrying")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            stop.wait(1.0)


def start_human_agents(conn_factory, config: CsConfig) -> threading.Event:
    stop = threading.Event()
    for n in range(config.human_agents):
        threading.Thread(target=human_agent, args=(conn_factory, config, stop), name=f"human-agent-{n}",
                         daemon=True).start()
    return stop

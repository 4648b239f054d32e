"""Customer service: chats answered by the AI chat-bot provider (a separate process with bounded
capacity), escalated to a human queue when the bot is saturated or unavailable, and a pool of
"human agent" threads answering that queue.

A saturated bot (429), an erroring or hanging one (timeout) or an open breaker does not make the
customer wait: the chat goes to the human queue at once (``status: queued``), which is what the
cs-overload plan checks. Humans are slower (seconds), so first-response time grows with the
queue. The queue lives in the database, so any worker's agents can answer any worker's chats.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from peakdrill.errors import DependencyError
from peakdrill.shop import db, metrics
from peakdrill.shop.outbound import Dependency, Policy
from peakdrill.shop.web import ApiProblem, text

CHANNELS = ("chat", "phone", "social", "app", "store")
INTENTS = ("order_issue", "logistics", "after_sales", "payment_dispute", "pre_sales")
# No retries: a bot that did not answer hands the chat to a human instead of making it wait.
# 1.5 s covers the bot's own queue wait (0.5 s) and inference (up to 0.3 s).
BOT_POLICY = Policy(timeout_s=1.5, retries=0, breaker_failures=5, breaker_reset_s=3.0)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CsConfig:
    human_agents: int = 2  # per worker
    human_reply_s: float = 2.0  # how long a human takes to read and answer


class CustomerService:
    def __init__(self, bot: Dependency) -> None:
        self.bot = bot

    def _bot_reply(self, intent: str) -> str | None:
        """The bot's answer, or None (and why, counted) when the chat must go to a human."""
        try:
            status, body = self.bot.call("POST", "/replies", {"intent": intent})
        except DependencyError:
            metrics.CS_ESCALATIONS.labels("bot_unavailable").inc()
            return None
        if status == 200 and isinstance(body.get("text"), str):
            return body["text"]
        metrics.CS_ESCALATIONS.labels("bot_saturated" if status == 429 else "bot_unavailable").inc()
        return None

    def open_chat(self, conn: db.Connection, body: dict[str, Any]) -> dict[str, Any]:
        channel, intent = body.get("channel"), body.get("intent")
        if channel not in CHANNELS:
            raise ApiProblem(422, "invalid channel", f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
        if intent not in INTENTS:
            raise ApiProblem(422, "invalid intent", f"intent {intent!r} is not one of {', '.join(INTENTS)}")
        customer = text(body, "customer_id", max_len=100)
        created = time.time()
        chat_id = conn.insert("INSERT INTO chats (customer_id, channel, intent, status, created_at) "
                               "VALUES (?, ?, ?, 'bot', ?)", (customer, channel, intent, created))
        reply = self._bot_reply(intent)
        if reply is None:
            _queue(conn, chat_id)  # just created: no need to look it up again
            metrics.CHATS.labels("queued").inc()
            return {"chat_id": chat_id, "status": "queued", "first_reply": None}
        replied = time.time()
        _first_reply(conn, chat_id, "bot", reply, created, replied)
        metrics.CHATS.labels("bot").inc()
        return {"chat_id": chat_id, "status": "bot", "first_reply": {"from": "bot", "text": reply},
                "first_response_ms": round((replied - created) * 1000, 1)}

    def send_message(self, conn: db.Connection, chat_id: int, body: dict[str, Any]) -> dict[str, Any]:
        message = text(body, "text")
        chat = _open_chat(conn, chat_id)
        conn.execute("INSERT INTO chat_messages (chat_id, sender, text, created_at) VALUES (?, 'customer', ?, ?)",
                     (chat_id, message, time.time()))
        if chat["status"] == "bot":
            reply = self._bot_reply(chat["intent"])
            if reply is not None:
                conn.execute("INSERT INTO chat_messages (chat_id, sender, text, created_at) VALUES (?, 'bot', ?, ?)",
                             (chat_id, reply, time.time()))
                return {"chat_id": chat_id, "status": "bot", "reply": {"from": "bot", "text": reply}}
        # The bot is busy, or a human already has the chat: it waits in the human queue.
        return {**_queue(conn, chat_id), "reply": None}

    def close_chat(self, conn: db.Connection, chat_id: int, body: dict[str, Any]) -> dict[str, Any]:
        score = body.get("satisfaction")
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise ApiProblem(422, "invalid satisfaction", f"satisfaction must be an integer 1..5, got {score!r}")
        _chat(conn, chat_id)
        conn.execute("UPDATE chats SET status = 'closed', satisfaction = ?, closed_at = ? WHERE id = ?",
                     (score, time.time(), chat_id))
        return chat_view(conn, chat_id)


def _chat(conn: db.Connection, chat_id: int) -> db.Row:
    row = conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
    if row is None:
        raise ApiProblem(404, "chat not found", f"no chat with id {chat_id}")
    return row


def _open_chat(conn: db.Connection, chat_id: int) -> db.Row:
    chat = _chat(conn, chat_id)
    if chat["status"] == "closed":
        raise ApiProblem(409, "chat closed", f"chat {chat_id} is closed; open a new chat")
    return chat


def escalate(conn: db.Connection, chat_id: int) -> dict[str, Any]:
    """Put an open chat in the human queue (idempotent)."""
    _open_chat(conn, chat_id)
    return _queue(conn, chat_id)


def _queue(conn: db.Connection, chat_id: int) -> dict[str, Any]:
    """Queue a chat already known to be open. A chat that was queued before keeps its first
    queueing time, so a follow-up to a human conversation is answered before new chats."""
    conn.execute("UPDATE chats SET status = 'queued', queued_at = COALESCE(queued_at, ?) "
                 "WHERE id = ? AND status IN ('bot', 'human')", (time.time(), chat_id))
    return {"chat_id": chat_id, "status": "queued"}


def human_queue_depth(conn: db.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM chats WHERE status = 'queued'").fetchone()[0]


def _first_reply(conn: db.Connection, chat_id: int, sender: str, text: str,
                 created: float, replied: float) -> None:
    with db.transaction(conn):
        conn.execute("INSERT INTO chat_messages (chat_id, sender, text, created_at) VALUES (?, ?, ?, ?)",
                     (chat_id, sender, text, replied))
        # Only the first reply sets first_response_*; later ones leave them alone.
        conn.execute("UPDATE chats SET first_response_at = COALESCE(first_response_at, ?), "
                     "first_response_ms = COALESCE(first_response_ms, ?) WHERE id = ?",
                     (replied, round((replied - created) * 1000, 1), chat_id))
    metrics.CS_FIRST_RESPONSE.labels(sender).observe(replied - created)


def chat_view(conn: db.Connection, chat_id: int) -> dict[str, Any]:
    chat = _chat(conn, chat_id)
    messages = conn.execute("SELECT sender, text, created_at FROM chat_messages WHERE chat_id = ? ORDER BY id",
                            (chat_id,)).fetchall()
    return {"chat_id": chat["id"], "status": chat["status"], "channel": chat["channel"], "intent": chat["intent"],
            "customer_id": chat["customer_id"], "created_at": chat["created_at"],
            "first_response_ms": chat["first_response_ms"], "satisfaction": chat["satisfaction"],
            "messages": [{"from": m["sender"], "text": m["text"], "at": m["created_at"]} for m in messages]}


def claim_next(conn: db.Connection) -> db.Row | None:
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
        except db.DatabaseError:
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

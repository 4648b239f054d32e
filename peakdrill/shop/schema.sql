-- The reference shop's system of record. Money is integer cents; times are epoch seconds (REAL).
PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS products (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    description TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS products_category ON products(category);

CREATE TABLE IF NOT EXISTS reviews (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id),
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_product ON reviews(product_id);

CREATE TABLE IF NOT EXISTS inventory (
    product_id INTEGER PRIMARY KEY REFERENCES products(id),
    stock      INTEGER NOT NULL CHECK (stock >= 0),
    updated_at REAL NOT NULL
);

-- Past sales (last year's orders, kept apart from live orders so reconciliation of a run only
-- sees the orders that run placed). Feeds "bestsellers" and "customers also bought".
CREATE TABLE IF NOT EXISTS sales_history (
    order_ref  INTEGER NOT NULL,
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity   INTEGER NOT NULL,
    sold_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sales_history_product ON sales_history(product_id, order_ref);
CREATE INDEX IF NOT EXISTS sales_history_order ON sales_history(order_ref);

CREATE TABLE IF NOT EXISTS orders (
    id              INTEGER PRIMARY KEY,
    customer_id     TEXT NOT NULL,
    status          TEXT NOT NULL,          -- created | payment_pending | paid
    total_cents     INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_hash    TEXT NOT NULL,          -- same key + different body is refused
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS order_items (
    order_id         INTEGER NOT NULL REFERENCES orders(id),
    product_id       INTEGER NOT NULL REFERENCES products(id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE IF NOT EXISTS payments (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id),
    idempotency_key TEXT NOT NULL UNIQUE,
    amount_cents    INTEGER NOT NULL,
    status          TEXT NOT NULL,          -- pending | succeeded | failed
    gateway_ref     TEXT,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_order ON payments(order_id);
-- The last line of defence against a double charge: one succeeded payment per order.
CREATE UNIQUE INDEX IF NOT EXISTS payments_one_success ON payments(order_id) WHERE status = 'succeeded';

CREATE TABLE IF NOT EXISTS chats (
    id                INTEGER PRIMARY KEY,
    customer_id       TEXT NOT NULL,
    channel           TEXT NOT NULL,
    intent            TEXT NOT NULL,
    status            TEXT NOT NULL,        -- bot | queued | human | closed
    created_at        REAL NOT NULL,
    queued_at         REAL,
    first_response_at REAL,
    first_response_ms REAL,
    satisfaction      INTEGER,
    closed_at         REAL
);
CREATE INDEX IF NOT EXISTS chats_status ON chats(status, queued_at);

CREATE TABLE IF NOT EXISTS chat_messages (
    id         INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL REFERENCES chats(id),
    sender     TEXT NOT NULL,               -- customer | bot | human
    text       TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_messages_chat ON chat_messages(chat_id, id);

-- Stock changes reported by the stores (in-store sales < 0, restocks > 0). The inventory sync
-- worker applies each to the central inventory (the `inventory` table, which online orders
-- decrement) once it is lag_s old, and then sets applied_at.
CREATE TABLE IF NOT EXISTS store_movements (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id),
    delta      INTEGER NOT NULL,
    at         REAL NOT NULL,
    applied_at REAL
);
CREATE INDEX IF NOT EXISTS store_movements_pending ON store_movements(applied_at, at);

-- One row: the central inventory reflects every store movement up to synced_at.
CREATE TABLE IF NOT EXISTS sync_status (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    synced_at REAL NOT NULL,
    lag_s     REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS carts (
    id          INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL,
    status      TEXT NOT NULL,              -- open | ordered
    order_id    INTEGER REFERENCES orders(id),
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS cart_items (
    cart_id    INTEGER NOT NULL REFERENCES carts(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (cart_id, product_id)
);

-- The last status the courier reported per order: what tracking answers while the courier is down.
CREATE TABLE IF NOT EXISTS tracking (
    order_id   INTEGER PRIMARY KEY REFERENCES orders(id),
    status     TEXT NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS returns (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id),
    customer_id     TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,          -- requested
    idempotency_key TEXT NOT NULL UNIQUE,
    request_hash    TEXT NOT NULL,
    created_at      REAL NOT NULL
);

CREATE TABLE {{tables.orders}} (
    id SERIAL PRIMARY KEY,
    -- users live in another service's schema: no foreign key across services
    user_id INTEGER NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'PAID', 'SHIPPED', 'CANCELLED')),
    total NUMERIC(12, 2) NOT NULL CHECK (total >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX orders_user_id ON {{tables.orders}} (user_id, id);

CREATE TABLE {{tables.line_items}} (
    id SERIAL PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES {{tables.orders}} (id) ON DELETE CASCADE,
    sku VARCHAR(64) NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price NUMERIC(12, 2) NOT NULL CHECK (unit_price >= 0)
);

CREATE INDEX line_items_order_id ON {{tables.line_items}} (order_id, id);

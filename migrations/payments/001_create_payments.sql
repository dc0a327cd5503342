CREATE TABLE {{tables.payments}} (
    id SERIAL PRIMARY KEY,
    -- orders live in another service's schema: no foreign key across services
    order_id INTEGER NOT NULL,
    amount NUMERIC(12, 2) NOT NULL CHECK (amount > 0),
    currency CHAR(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status VARCHAR(16) NOT NULL DEFAULT 'SUCCEEDED'
        CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'REFUNDED')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX payments_order_id ON {{tables.payments}} (order_id, id);

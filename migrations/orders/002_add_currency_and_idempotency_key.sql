-- Orders existing before payments compared currencies were all taken in euros.
ALTER TABLE {{tables.orders}}
    ADD COLUMN currency CHAR(3) NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$');

-- The key a placeOrder was sent with (or one made up for it), and a digest of its
-- arguments: a retry with the key gets this order back; the key with other arguments is
-- refused. Older orders have neither.
ALTER TABLE {{tables.orders}} ADD COLUMN idempotency_key TEXT, ADD COLUMN request_digest TEXT;

ALTER TABLE {{tables.orders}}
    ADD CONSTRAINT orders_idempotency_key UNIQUE (idempotency_key);

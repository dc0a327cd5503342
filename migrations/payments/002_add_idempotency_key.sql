-- The key a recordPayment was sent with (or one made up for it), and a digest of its
-- arguments: a retry with the key gets this payment back instead of paying again; the key
-- with other arguments is refused. Older payments have neither.
ALTER TABLE {{tables.payments}} ADD COLUMN idempotency_key TEXT, ADD COLUMN request_digest TEXT;

ALTER TABLE {{tables.payments}}
    ADD CONSTRAINT payments_idempotency_key UNIQUE (idempotency_key);

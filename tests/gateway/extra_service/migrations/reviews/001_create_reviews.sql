CREATE TABLE {{tables.reviews}} (
    id SERIAL PRIMARY KEY,
    -- users live in another service's schema: no foreign key across services
    user_id INTEGER NOT NULL,
    sku VARCHAR(64) NOT NULL,
    rating SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body TEXT NOT NULL,
    CONSTRAINT reviews_one_per_user_and_sku UNIQUE (user_id, sku)
);

CREATE INDEX reviews_user_id ON {{tables.reviews}} (user_id, id);

-- The documents automatic persisted queries registered, shared by every gateway process over
-- this database (gateway.http.persisted_store). A cache: rows may be dropped at any time.
CREATE TABLE {{tables.persisted_documents}} (
    sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    document text NOT NULL,
    bytes integer NOT NULL CHECK (bytes > 0),
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_used timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX persisted_documents_last_used ON {{tables.persisted_documents}} (last_used DESC);

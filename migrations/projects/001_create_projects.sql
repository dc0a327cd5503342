-- Tenant-scoped: these tables are created in every tenant's schema (tenant_<id>).
CREATE TABLE {{tables.projects}} (
    id SERIAL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_digest TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE {{tables.tasks}} (
    id SERIAL PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES {{tables.projects}} (id) ON DELETE CASCADE,
    title VARCHAR(200) NOT NULL,
    -- users live in the users service's schema: no foreign key across services
    assignee_id INTEGER,
    done BOOLEAN NOT NULL DEFAULT false,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_digest TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX tasks_project_id ON {{tables.tasks}} (project_id, id);

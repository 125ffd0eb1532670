-- The reference API's data: per-user tasks, the Idempotency-Key ledger that
-- makes a retried POST create one task, and Gatehouse's own first-party
-- sessions (POST /api/auth/exchange).

-- `owner` is the principal's subject (API keys: `api_key:<id>`). Rows are
-- only ever read through `owner`, so another user's task cannot be named.
-- `version` is the ETag: each update adds one.
CREATE TABLE gatehouse_tasks (
    id         uuid        PRIMARY KEY,
    owner      text        NOT NULL,
    title      text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    done       boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    version    bigint      NOT NULL DEFAULT 1
);
-- The listing's order and cursor: (created_at, id) within an owner.
CREATE INDEX gatehouse_tasks_owner_order ON gatehouse_tasks (owner, created_at, id);

-- One row per (owner, Idempotency-Key): the task the first request created
-- and a hash of its body, so a retry replays it and a different body under
-- the same key is refused.
CREATE TABLE gatehouse_idempotency_keys (
    owner        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    task_id      uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
CREATE INDEX gatehouse_idempotency_keys_created_at ON gatehouse_idempotency_keys (created_at);

-- Sessions this API owns. Only the SHA-256 of the random token is kept; the
-- principal it was exchanged for is stored whole, so the session answers
-- with the same principal as the credential it replaced.
CREATE TABLE gatehouse_sessions (
    id           uuid        PRIMARY KEY,
    token_hash   bytea       NOT NULL UNIQUE,
    subject      text        NOT NULL,
    principal    jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX gatehouse_sessions_subject ON gatehouse_sessions (subject);
CREATE INDEX gatehouse_sessions_expires_at ON gatehouse_sessions (expires_at);

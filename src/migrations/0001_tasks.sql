-- The reference app's tables: per-user tasks and the Idempotency-Key ledger
-- that makes a retried POST create one task (src/tasks/store.rs).
--
-- Until the runtime and the app were apart (issue 14), the runtime's
-- migrations 3 and 4 created these; a database that applied them has every
-- object below already, and each statement leaves it as it is. The task
-- functions take the caller's revocation check along, through the
-- runtime's gatehouse_revocation_state and gatehouse_is_revoked.

-- `owner` is the principal's identity (`<namespace>:<subject>`). Rows are
-- only ever read through `owner`, so another user's task cannot be named.
-- `version` is the ETag: each update adds one; `last_write` is the id of the
-- request that wrote it, so only that request takes a re-run as its own.
CREATE TABLE IF NOT EXISTS gatehouse_tasks (
    id         uuid        PRIMARY KEY,
    owner      text        NOT NULL,
    title      text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    done       boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    version    bigint      NOT NULL DEFAULT 1,
    last_write uuid
);
-- The listing's order and cursor: (created_at, id) within an owner.
CREATE INDEX IF NOT EXISTS gatehouse_tasks_owner_order ON gatehouse_tasks (owner, created_at, id);

-- One row per (owner, Idempotency-Key): the task the first request created
-- and a hash of its body, so a retry replays it and a different body under
-- the same key is refused. Kept 24 hours (as Stripe does): each insert
-- deletes up to 16 older rows, oldest first.
CREATE TABLE IF NOT EXISTS gatehouse_idempotency_keys (
    owner        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    task_id      uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
CREATE INDEX IF NOT EXISTS gatehouse_idempotency_keys_created_at ON gatehouse_idempotency_keys (created_at);

CREATE OR REPLACE FUNCTION gatehouse_purge_idempotency_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM gatehouse_idempotency_keys
     WHERE (owner, key) IN (
        SELECT owner, key FROM gatehouse_idempotency_keys
         WHERE created_at < now() - interval '24 hours'
         ORDER BY created_at LIMIT 16);
    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER gatehouse_idempotency_keys_purge
    AFTER INSERT ON gatehouse_idempotency_keys
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_purge_idempotency_keys();

-- The statements every request runs, as PL/pgSQL functions: a function
-- keeps each statement's plan for the connection's life, where an unnamed
-- statement (what transaction-mode poolers require) is planned again on
-- every call.

CREATE OR REPLACE FUNCTION gatehouse_tasks_page(p_owner text, p_after timestamptz, p_after_id uuid, p_limit bigint,
                                     p_revocation_id text, p_issued_at float8)
RETURNS TABLE (revoked_at float8, not_before float8, id uuid, title text, done boolean,
               created_at timestamptz, updated_at timestamptz, version bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_revoked_at float8;
    v_not_before float8;
BEGIN
    IF p_revocation_id IS NOT NULL THEN
        SELECT s.revoked_at, s.not_before INTO v_revoked_at, v_not_before
            FROM gatehouse_revocation_state(p_revocation_id, p_owner) s;
        IF gatehouse_is_revoked(v_revoked_at, v_not_before, p_issued_at) THEN
            RETURN QUERY SELECT v_revoked_at, v_not_before, NULL::uuid, NULL::text, NULL::boolean,
                NULL::timestamptz, NULL::timestamptz, NULL::bigint;
            RETURN;
        END IF;
    END IF;
    -- Two statements, so that each keeps a plain index-range plan.
    IF p_after IS NULL THEN
        RETURN QUERY SELECT NULL::float8, NULL::float8, t.id, t.title, t.done, t.created_at, t.updated_at, t.version
            FROM gatehouse_tasks t
            WHERE t.owner = p_owner
            ORDER BY t.created_at, t.id
            LIMIT p_limit;
    ELSE
        RETURN QUERY SELECT NULL::float8, NULL::float8, t.id, t.title, t.done, t.created_at, t.updated_at, t.version
            FROM gatehouse_tasks t
            WHERE t.owner = p_owner AND (t.created_at, t.id) > (p_after, p_after_id)
            ORDER BY t.created_at, t.id
            LIMIT p_limit;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION gatehouse_task_create(p_id uuid, p_owner text, p_title text, p_done boolean, p_key text, p_hash bytea,
                                      p_revocation_id text, p_issued_at float8)
RETURNS TABLE (revoked_at float8, not_before float8, replayed boolean, request_hash bytea, id uuid, title text,
               done boolean, created_at timestamptz, updated_at timestamptz, version bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_revoked_at float8;
    v_not_before float8;
BEGIN
    IF p_revocation_id IS NOT NULL THEN
        SELECT s.revoked_at, s.not_before INTO v_revoked_at, v_not_before
            FROM gatehouse_revocation_state(p_revocation_id, p_owner) s;
        IF gatehouse_is_revoked(v_revoked_at, v_not_before, p_issued_at) THEN
            RETURN QUERY SELECT v_revoked_at, v_not_before, false, NULL::bytea, NULL::uuid, NULL::text,
                NULL::boolean, NULL::timestamptz, NULL::timestamptz, NULL::bigint;
            RETURN;
        END IF;
    END IF;
    IF p_key IS NOT NULL THEN
        INSERT INTO gatehouse_idempotency_keys AS k (owner, key, request_hash, task_id)
        VALUES (p_owner, p_key, p_hash, p_id)
        ON CONFLICT ON CONSTRAINT gatehouse_idempotency_keys_pkey DO NOTHING;
        IF NOT FOUND THEN
            RETURN QUERY SELECT NULL::float8, NULL::float8, true, k.request_hash, t.id, t.title, t.done,
                    t.created_at, t.updated_at, t.version
                FROM gatehouse_idempotency_keys k
                LEFT JOIN gatehouse_tasks t ON t.id = k.task_id AND t.owner = k.owner
                WHERE k.owner = p_owner AND k.key = p_key;
            RETURN;
        END IF;
    END IF;
    RETURN QUERY INSERT INTO gatehouse_tasks AS t (id, owner, title, done, created_at, updated_at)
        VALUES (p_id, p_owner, p_title, p_done, v_now, v_now)
        ON CONFLICT ON CONSTRAINT gatehouse_tasks_pkey DO NOTHING
        RETURNING NULL::float8, NULL::float8, false, NULL::bytea, t.id, t.title, t.done, t.created_at,
            t.updated_at, t.version;
    IF NOT FOUND THEN
        RETURN QUERY SELECT NULL::float8, NULL::float8, false, NULL::bytea, t.id, t.title, t.done,
                t.created_at, t.updated_at, t.version
            FROM gatehouse_tasks t WHERE t.id = p_id AND t.owner = p_owner;
    END IF;
END;
$$;

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

-- The statements every request runs, as PL/pgSQL functions. A function
-- keeps each statement's plan for the connection's life, where an unnamed
-- statement (what transaction-mode poolers require, see db/pool.rs) is
-- planned again on every call: measured with pgbench on the 2-core bench
-- machine, the task insert went from 3,271 to 6,452 calls/s and the page
-- query from 11.9k to about the prepared statement's 21.5k.

-- Revocation state of one credential: when its id was revoked, and the
-- subject's sign-out-everywhere cutoff (Unix seconds; NULL when none).
CREATE FUNCTION gatehouse_revocation_state(p_token_id text, p_subject text)
RETURNS TABLE (revoked_at float8, not_before float8)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT
        (SELECT extract(epoch FROM r.revoked_at)::float8
           FROM gatehouse_revoked_tokens r WHERE r.token_id = p_token_id),
        (SELECT extract(epoch FROM c.not_before)::float8
           FROM gatehouse_subject_cutoffs c WHERE c.subject = p_subject);
END;
$$;

-- Whether the credential p_revocation_id names, of subject p_subject and
-- issued at p_issued_at (Unix seconds; NULL: unknown), is revoked: the rule
-- of RevocationState::verdict in auth/revocation.rs. The task functions
-- below take the check along when the authenticator deferred it to them,
-- so such a request makes one round trip, not two.
CREATE FUNCTION gatehouse_is_revoked(p_revoked_at float8, p_not_before float8, p_issued_at float8)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_revoked_at IS NOT NULL
        OR (p_not_before IS NOT NULL AND (p_issued_at IS NULL OR p_issued_at < p_not_before));
$$;

-- One page of an owner's tasks in (created_at, id) order, after a cursor,
-- unless the caller's credential is revoked (p_revocation_id NULL: no
-- check). revoked_at and not_before are the revocation state read (NULL on
-- the task rows); a revoked caller gets one row with them and no task.
CREATE FUNCTION gatehouse_tasks_page(p_owner text, p_after timestamptz, p_after_id uuid, p_limit bigint,
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

-- Creates a task, safe to run twice (the pool re-runs a statement whose
-- connection died, and the first run may have committed):
-- - without a key (p_key NULL), under the id the request chose: a re-run
--   finds the first run's row and returns it;
-- - with an Idempotency-Key, the key is claimed first; when it is already
--   taken (by this request's first run or by an earlier request), the
--   ledger row and its task are returned with replayed = true, and the
--   caller compares request_hash.
-- A revoked caller (as in gatehouse_tasks_page) creates nothing and gets
-- one row with the revocation state.
-- Each statement of a volatile function takes a fresh snapshot, so a row
-- committed while an ON CONFLICT waited on it is seen by the next one.
CREATE FUNCTION gatehouse_task_create(p_id uuid, p_owner text, p_title text, p_done boolean, p_key text, p_hash bytea,
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

-- The runtime's schema without the reference app's (issue 14). Migrations 3
-- and 4 created the runtime's tables and the reference app's tasks tables
-- together; the tasks tables are now the app's own history
-- (src/migrations/, component `app`), and a team's runtime carries only
-- what the runtime reads.
--
-- A fresh database skips 3 and 4 (they are upgrade-only, db/migrations.rs)
-- and gets the runtime's part of them here; a database that applied them
-- already has every object below, so each statement is written to leave it
-- as it is. tests/integration/migration_history.rs compares the schema of a
-- fresh database with one upgraded from each earlier version.

-- A. The ledger records whose migration each row is: the runtime's
--    (`gatehouse`, every row so far) or an app's, each numbered from 1.
ALTER TABLE gatehouse_schema_migrations
    ADD COLUMN component text NOT NULL DEFAULT 'gatehouse';
ALTER TABLE gatehouse_schema_migrations DROP CONSTRAINT gatehouse_schema_migrations_pkey;
ALTER TABLE gatehouse_schema_migrations ADD PRIMARY KEY (component, version);

-- B. Sessions this API owns (migration 3, with the source of migration 4 C).
CREATE TABLE IF NOT EXISTS gatehouse_sessions (
    id           uuid        PRIMARY KEY,
    token_hash   bytea       NOT NULL UNIQUE,
    subject      text        NOT NULL,
    principal    jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    source       jsonb       NOT NULL DEFAULT '{}',
    source_revocation_id text
);
CREATE INDEX IF NOT EXISTS gatehouse_sessions_subject ON gatehouse_sessions (subject);
CREATE INDEX IF NOT EXISTS gatehouse_sessions_expires_at ON gatehouse_sessions (expires_at);
CREATE INDEX IF NOT EXISTS gatehouse_sessions_source_revocation_id
    ON gatehouse_sessions (source_revocation_id) WHERE source_revocation_id IS NOT NULL;

-- C. The revocation rule as SQL functions (migration 4 A): the state of one
--    credential, and the verdict of RevocationState::verdict
--    (auth/revocation.rs; tests/integration/revocation_rule.rs compares
--    them). An app's statements call them to fold the check into their own
--    round trip.
CREATE OR REPLACE FUNCTION gatehouse_revocation_state(p_token_id text, p_subject text)
RETURNS TABLE (revoked_at float8, not_before float8)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT
        (SELECT extract(epoch FROM r.revoked_at)::float8
           FROM gatehouse_revoked_tokens r
          WHERE r.token_id = p_token_id AND r.expires_at > now()),
        (SELECT extract(epoch FROM c.not_before)::float8
           FROM gatehouse_subject_cutoffs c WHERE c.subject = p_subject);
END;
$$;

CREATE OR REPLACE FUNCTION gatehouse_is_revoked(p_revoked_at float8, p_not_before float8, p_issued_at float8)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_revoked_at IS NOT NULL
        OR (p_not_before IS NOT NULL
            AND (p_issued_at IS NULL OR floor(p_issued_at) < floor(p_not_before)));
$$;

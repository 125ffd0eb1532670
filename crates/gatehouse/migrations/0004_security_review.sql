-- What the security review of 36ef204 (issue 12) changed in the schema.
--
-- A. One revocation rule, the same in SQL as in RevocationState::verdict
-- (auth/revocation.rs; tests/integration/revocation_rule.rs compares them):
--
-- 1. A revoked-token row counts only until its own expires_at (the moment
--    the credential would have expired anyway). Before, a row past it still
--    counted until a purge happened to remove it: whether a credential was
--    revoked depended on when the last revocation was written.
-- 2. Sign-out-everywhere cutoffs are whole seconds, and a credential issued
--    in the cutoff's second or later is not revoked: JWT `iat` is whole
--    seconds, so a user who signs out everywhere and signs straight back in
--    gets a token of the same second, which the microsecond cutoff refused
--    until it expired. Firebase's tokensValidAfterTime is the same rule.
--    Existing cutoffs are truncated to their second (assumption: a credential
--    issued in the same second as an earlier cutoff is accepted from now on,
--    as it would be under this rule).

UPDATE gatehouse_subject_cutoffs SET not_before = date_trunc('second', not_before);

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

-- B. A conditional update (If-Match) that finds the task one version past the
--    one it expected, with the values it asked for, was taken as its own
--    earlier run (the pool re-runs a statement whose connection died). It
--    could as well be another client's change to the same values, and a
--    stale If-Match must then be 412: each update now records the id of the
--    request that wrote it, and only that request may take it as its own.
ALTER TABLE gatehouse_tasks ADD COLUMN last_write uuid;

-- C. A session of this API (POST /api/auth/exchange) outlived what it was
--    exchanged for. It now records its source (the credential's kind,
--    issuer, revocation id, token version, signing secret's fingerprint,
--    Better Auth session id) and is refused when the source would be refused
--    for a lasting reason; revoking the source deletes the sessions made from
--    it (found by source_revocation_id). Existing sessions have no recorded
--    source (assumption: '{}', checked by nothing but their absolute
--    lifetime, SESSION_MAX_LIFETIME_SECS from their creation, which ends
--    those older than it at their next use).
ALTER TABLE gatehouse_sessions
    ADD COLUMN source jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN source_revocation_id text;
CREATE INDEX gatehouse_sessions_source_revocation_id
    ON gatehouse_sessions (source_revocation_id) WHERE source_revocation_id IS NOT NULL;

-- D. Idempotency-Key ledger rows were never deleted. A key is remembered
--    for 24 hours (as Stripe does), long enough for any client's retries:
--    each statement inserting into the ledger deletes up to 16 older rows,
--    oldest first, so the table holds about one day of keys.
CREATE FUNCTION gatehouse_purge_idempotency_keys() RETURNS trigger
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
CREATE TRIGGER gatehouse_idempotency_keys_purge
    AFTER INSERT ON gatehouse_idempotency_keys
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_purge_idempotency_keys();

-- E. One subject namespace for every issuer and credential kind. Task owners,
--    Idempotency-Key owners, revocation cutoffs and tokens, this API's
--    sessions and stored profiles were keyed by `sub` alone, so issuer B's
--    `user-42` was issuer A's `user-42`, and a token minted with
--    `sub: api_key:<id>` reached that API key's tasks. Every stored identity
--    is now `<namespace>:<subject>` (auth/identity.rs): the issuer's stable
--    name (`better-auth`, `jwt`, `shared-secret`, `authjs`, or the `name` of
--    a JWT_TRUSTED_ISSUERS entry) or `api-key`.
--    Existing rows are carried over, none dropped. Assumptions, stated:
--    - `api_key:<id>` values are API keys: they become `api-key:<id>`;
--    - every other value is a user of the namespace `gatehouse migrate`
--      passes in gatehouse.legacy_namespace: the deployment's only user
--      namespace when it has exactly one, else `legacy` (it says which, and
--      how to re-key `legacy:` rows to the right issuer).
DO $$
DECLARE
    ns text := coalesce(nullif(current_setting('gatehouse.legacy_namespace', true), ''), 'legacy');
BEGIN
    UPDATE gatehouse_tasks SET owner = CASE
        WHEN owner LIKE 'api\_key:%' THEN 'api-key:' || substr(owner, 9)
        ELSE ns || ':' || owner END;
    UPDATE gatehouse_idempotency_keys SET owner = CASE
        WHEN owner LIKE 'api\_key:%' THEN 'api-key:' || substr(owner, 9)
        ELSE ns || ':' || owner END;
    UPDATE gatehouse_sessions SET
        subject = ns || ':' || subject,
        principal = jsonb_set(principal, '{namespace}', to_jsonb(ns));
    UPDATE gatehouse_revoked_tokens SET subject = ns || ':' || subject WHERE subject IS NOT NULL;
    UPDATE gatehouse_subject_cutoffs SET subject = ns || ':' || subject;
    UPDATE gatehouse_users SET id = ns || ':' || id;
END;
$$;

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

-- Better Auth session lookups with their plan kept per connection (issue 15).
--
-- A Better Auth session cookie is looked up in Better Auth's own "session"
-- and "user" tables on every request (auth/better_auth/database.rs). Sent
-- inline, as an unnamed statement (the only kind transaction-mode poolers
-- such as PgBouncer let through), it is parsed and planned on every
-- request, which costs more than running it. Behind this function only a
-- trivial call is planned per request; PL/pgSQL keeps the plan of the
-- lookup itself for the life of each server connection, whatever client or
-- pooler is in front. Revocation is no longer read here: each process
-- checks it from its in-memory copy (migration 6).
--
-- Better Auth's tables need not exist when this runs: PL/pgSQL resolves
-- them at the first call. The body is the runtime's inline statement
-- (LOOKUP_INLINE), which a database without this function is sent instead.

CREATE FUNCTION gatehouse_better_auth_session(p_token text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_session jsonb;
BEGIN
    SELECT jsonb_build_object(
               'id', s."id"::text,
               'userId', s."userId"::text,
               'expiresAt', extract(epoch FROM s."expiresAt"),
               'createdAt', extract(epoch FROM s."createdAt"),
               'user', (SELECT to_jsonb(u) FROM "user" u WHERE u."id" = s."userId"))
      INTO v_session
      FROM "session" s
     WHERE s."token" = p_token;
    RETURN v_session;
END;
$$;

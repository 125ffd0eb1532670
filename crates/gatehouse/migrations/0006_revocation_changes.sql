-- Revocations read by change (issue 15). Every instance keeps the
-- revocation state in memory (auth/revocation_mirror.rs) and asks only for
-- the rows written since its last read, instead of one query per request.
--
-- A row's change stamp is the id of the transaction that last wrote it
-- (xid8, set by a trigger on insert and on update: a subject's cutoff is an
-- upsert). A plain sequence would not do: numbers are handed out before
-- commit, so a row numbered 10 can commit after a reader has seen 11 and
-- be skipped for ever. A reader instead remembers the oldest transaction
-- still running when it read (pg_snapshot_xmin of its snapshot) and next
-- asks for every row stamped at or after it: a write in progress then is
-- read once it commits, and rows read twice are merged idempotently.

CREATE FUNCTION gatehouse_stamp_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_xid := pg_current_xact_id();
    RETURN NEW;
END;
$$;

ALTER TABLE gatehouse_revoked_tokens
    ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX gatehouse_revoked_tokens_changed_xid ON gatehouse_revoked_tokens (changed_xid);
CREATE TRIGGER gatehouse_revoked_tokens_changed
    BEFORE INSERT OR UPDATE ON gatehouse_revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION gatehouse_stamp_change();

ALTER TABLE gatehouse_subject_cutoffs
    ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX gatehouse_subject_cutoffs_changed_xid ON gatehouse_subject_cutoffs (changed_xid);
CREATE TRIGGER gatehouse_subject_cutoffs_changed
    BEFORE INSERT OR UPDATE ON gatehouse_subject_cutoffs
    FOR EACH ROW EXECUTE FUNCTION gatehouse_stamp_change();

-- What an instance reads: the revoked tokens still in force and the
-- subjects' cutoffs stamped at or after p_since (0: everything, at a cold
-- start), and the horizon to pass as p_since next time. One statement, so
-- the rows and the horizon come from one snapshot.
CREATE FUNCTION gatehouse_revocation_changes(p_since xid8)
RETURNS TABLE (kind text, key text, at float8, expires_at float8, horizon xid8)
LANGUAGE sql STABLE AS $$
    SELECT 't', r.token_id, extract(epoch FROM r.revoked_at)::float8,
           extract(epoch FROM r.expires_at)::float8, NULL::xid8
      FROM gatehouse_revoked_tokens r
     WHERE r.changed_xid >= p_since AND r.expires_at > now()
    UNION ALL
    SELECT 's', c.subject, extract(epoch FROM c.not_before)::float8, NULL, NULL
      FROM gatehouse_subject_cutoffs c
     WHERE c.changed_xid >= p_since
    UNION ALL
    SELECT 'h', NULL, NULL, NULL, pg_snapshot_xmin(pg_current_snapshot());
$$;

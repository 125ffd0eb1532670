-- Revocations read by change (issue 15). Every instance keeps the
-- revocation state in memory (auth/revocation_mirror.rs) and asks only for
-- the rows written since its last read, instead of one query per request.
--
-- A row's change stamp is the id of the transaction that last wrote it
-- (xid8, set by a trigger on insert and on update: a subject's cutoff is an
-- upsert). A plain sequence would not do: numbers are handed out before
-- commit, so a row numbered 10 can commit after a reader has seen 11 and
-- be skipped for ever. A reader instead remembers the snapshot it read
-- with and next asks for the rows whose writer that snapshot did not see
-- (still running then, or begun since): a write in progress then is read
-- once it commits, and nothing already read is read again. The index on
-- the stamp bounds the scan from the snapshot's oldest running transaction.

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
-- subjects' cutoffs written by transactions p_since did not see (NULL:
-- everything, at a cold start), and the snapshot to pass as p_since next
-- time. One statement, so the rows and that snapshot are the same.
CREATE FUNCTION gatehouse_revocation_changes(p_since pg_snapshot)
RETURNS TABLE (kind text, key text, at float8, expires_at float8, horizon pg_snapshot)
LANGUAGE sql STABLE AS $$
    SELECT 't', r.token_id, extract(epoch FROM r.revoked_at)::float8,
           extract(epoch FROM r.expires_at)::float8, NULL::pg_snapshot
      FROM gatehouse_revoked_tokens r
     WHERE r.changed_xid >= coalesce(pg_snapshot_xmin(p_since), '0'::xid8)
       AND (p_since IS NULL OR NOT pg_visible_in_snapshot(r.changed_xid, p_since))
       AND r.expires_at > now()
    UNION ALL
    SELECT 's', c.subject, extract(epoch FROM c.not_before)::float8, NULL, NULL
      FROM gatehouse_subject_cutoffs c
     WHERE c.changed_xid >= coalesce(pg_snapshot_xmin(p_since), '0'::xid8)
       AND (p_since IS NULL OR NOT pg_visible_in_snapshot(c.changed_xid, p_since))
    UNION ALL
    SELECT 'h', NULL, NULL, NULL, pg_current_snapshot();
$$;

-- The ledger of applied migrations. Every later migration is recorded here
-- with a checksum, so an edited migration is detected instead of skipped.
CREATE TABLE gatehouse_schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

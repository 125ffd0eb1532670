-- Credentials Gatehouse owns: API keys, token revocations, and the profiles
-- of users fetched from a user service. Every table carries the gatehouse_
-- prefix so it never collides with an application's (or Better Auth's) own.

-- API keys for server-to-server callers. A key is `gk_<lookup>_<secret>`:
-- `lookup` finds the row (and is safe to show in lists), and only the
-- SHA-256 of the whole key is kept, compared in constant time.
CREATE TABLE gatehouse_api_keys (
    id           uuid        PRIMARY KEY,
    lookup       text        NOT NULL UNIQUE,
    key_hash     bytea       NOT NULL,
    name         text        NOT NULL,
    scopes       text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);

-- Revoked tokens, by `jti:<jti>` or `sha256:<hex of the token>`. A row is
-- needed only until the token would have expired anyway.
CREATE TABLE gatehouse_revoked_tokens (
    token_id   text        PRIMARY KEY,
    subject    text,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX gatehouse_revoked_tokens_expires_at ON gatehouse_revoked_tokens (expires_at);

-- "Sign me out everywhere": every token of the subject issued before
-- `not_before` is refused.
CREATE TABLE gatehouse_subject_cutoffs (
    subject    text        PRIMARY KEY,
    not_before timestamptz NOT NULL
);

-- Profiles from USER_SERVICE_URL, kept so that an outage of the user
-- service degrades to the last known profile instead of a refusal.
CREATE TABLE gatehouse_users (
    id         text        PRIMARY KEY,
    profile    jsonb       NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now()
);

//! The stable codes every refusal and failure carries (`reason` in the
//! problem body, `X-Auth-Reason`), with their status, title and
//! documentation. At the bottom of the module graph: errors, refusals and
//! problem documents all name a [`Reason`], and it imports none of them.

use http::StatusCode;

/// The stable, documented codes a response carries in `reason` and
/// `X-Auth-Reason`. Renaming one is a breaking change: clients match on them.
/// Each has its documentation in [`Reason::doc`]; `docs/reasons.md` is
/// generated from [`Reason::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // Credentials: 401.
    CredentialsMissing,
    TokenMalformed,
    AlgorithmNotAllowed,
    KeyNotFound,
    SignatureInvalid,
    TokenExpired,
    TokenNotYetValid,
    IssuerMismatch,
    AudienceMismatch,
    ClaimMissing,
    TokenTypeMismatch,
    TokenVersionStale,
    TokenRevoked,
    TokenDecryptionFailed,
    CookieSignatureInvalid,
    SessionNotFound,
    SessionExpired,
    ApiKeyInvalid,
    UserNotFound,
    // Authenticated but not allowed: 403.
    Forbidden,
    InsufficientScope,
    // Our own dependencies: 503, never 401.
    JwksUnavailable,
    SessionStoreUnavailable,
    RevocationUnavailable,
    AuthServerUnavailable,
    UserServiceUnavailable,
    DatabaseUnavailable,
    SchemaOutdated,
    // The request itself.
    RequestMalformed,
    ValidationFailed,
    UnsupportedMediaType,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    HeaderInvalid,
    HeadersTooLarge,
    BodyTooLarge,
    MethodNotAllowed,
    RouteNotFound,
    OriginNotAllowed,
    // This deployment.
    Misconfigured,
    InternalError,
}

impl Reason {
    pub const ALL: &'static [Reason] = &[
        Reason::CredentialsMissing,
        Reason::TokenMalformed,
        Reason::AlgorithmNotAllowed,
        Reason::KeyNotFound,
        Reason::SignatureInvalid,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::IssuerMismatch,
        Reason::AudienceMismatch,
        Reason::ClaimMissing,
        Reason::TokenTypeMismatch,
        Reason::TokenVersionStale,
        Reason::TokenRevoked,
        Reason::TokenDecryptionFailed,
        Reason::CookieSignatureInvalid,
        Reason::SessionNotFound,
        Reason::SessionExpired,
        Reason::ApiKeyInvalid,
        Reason::UserNotFound,
        Reason::Forbidden,
        Reason::InsufficientScope,
        Reason::JwksUnavailable,
        Reason::SessionStoreUnavailable,
        Reason::RevocationUnavailable,
        Reason::AuthServerUnavailable,
        Reason::UserServiceUnavailable,
        Reason::DatabaseUnavailable,
        Reason::SchemaOutdated,
        Reason::RequestMalformed,
        Reason::ValidationFailed,
        Reason::UnsupportedMediaType,
        Reason::NotFound,
        Reason::PreconditionFailed,
        Reason::PreconditionRequired,
        Reason::IdempotencyKeyReused,
        Reason::IdempotencyKeyInUse,
        Reason::HeaderInvalid,
        Reason::HeadersTooLarge,
        Reason::BodyTooLarge,
        Reason::MethodNotAllowed,
        Reason::RouteNotFound,
        Reason::OriginNotAllowed,
        Reason::Misconfigured,
        Reason::InternalError,
    ];

    /// Code, status and title in one table.
    fn info(self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Reason::CredentialsMissing => (
                "credentials_missing",
                S::UNAUTHORIZED,
                "No credentials were sent",
            ),
            Reason::TokenMalformed => (
                "token_malformed",
                S::UNAUTHORIZED,
                "The token cannot be read",
            ),
            Reason::AlgorithmNotAllowed => (
                "algorithm_not_allowed",
                S::UNAUTHORIZED,
                "The token's algorithm is not accepted",
            ),
            Reason::KeyNotFound => ("key_not_found", S::UNAUTHORIZED, "No key matches the token"),
            Reason::SignatureInvalid => (
                "signature_invalid",
                S::UNAUTHORIZED,
                "The token's signature is invalid",
            ),
            Reason::TokenExpired => ("token_expired", S::UNAUTHORIZED, "The token has expired"),
            Reason::TokenNotYetValid => (
                "token_not_yet_valid",
                S::UNAUTHORIZED,
                "The token is not valid yet",
            ),
            Reason::IssuerMismatch => (
                "issuer_mismatch",
                S::UNAUTHORIZED,
                "The token comes from an issuer this deployment does not trust",
            ),
            Reason::AudienceMismatch => (
                "audience_mismatch",
                S::UNAUTHORIZED,
                "The token was issued for another audience",
            ),
            Reason::ClaimMissing => (
                "claim_missing",
                S::UNAUTHORIZED,
                "The token lacks a required claim",
            ),
            Reason::TokenTypeMismatch => (
                "token_type_mismatch",
                S::UNAUTHORIZED,
                "The token is not the kind of token this API accepts",
            ),
            Reason::TokenVersionStale => (
                "token_version_stale",
                S::UNAUTHORIZED,
                "The token's version is older than the server's",
            ),
            Reason::TokenRevoked => ("token_revoked", S::UNAUTHORIZED, "The token was revoked"),
            Reason::TokenDecryptionFailed => (
                "token_decryption_failed",
                S::UNAUTHORIZED,
                "The encrypted token cannot be decrypted",
            ),
            Reason::CookieSignatureInvalid => (
                "cookie_signature_invalid",
                S::UNAUTHORIZED,
                "The session token's signature is invalid",
            ),
            Reason::SessionNotFound => ("session_not_found", S::UNAUTHORIZED, "No such session"),
            Reason::SessionExpired => (
                "session_expired",
                S::UNAUTHORIZED,
                "The session has expired",
            ),
            Reason::ApiKeyInvalid => (
                "api_key_invalid",
                S::UNAUTHORIZED,
                "The API key is not valid",
            ),
            Reason::UserNotFound => (
                "user_not_found",
                S::UNAUTHORIZED,
                "The user no longer exists",
            ),
            Reason::Forbidden => ("forbidden", S::FORBIDDEN, "Authenticated, but not allowed"),
            Reason::InsufficientScope => (
                "insufficient_scope",
                S::FORBIDDEN,
                "The credential lacks a required scope",
            ),
            Reason::JwksUnavailable => (
                "jwks_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The issuer's keys could not be loaded",
            ),
            Reason::SessionStoreUnavailable => (
                "session_store_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The session store is unavailable",
            ),
            Reason::RevocationUnavailable => (
                "revocation_unavailable",
                S::SERVICE_UNAVAILABLE,
                "Whether the credential was revoked cannot be told",
            ),
            Reason::AuthServerUnavailable => (
                "auth_server_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The auth server is unavailable",
            ),
            Reason::UserServiceUnavailable => (
                "user_service_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The user service is unavailable",
            ),
            Reason::DatabaseUnavailable => (
                "database_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The database is unavailable",
            ),
            Reason::SchemaOutdated => (
                "schema_outdated",
                S::SERVICE_UNAVAILABLE,
                "The database schema is older than this build",
            ),
            Reason::RequestMalformed => (
                "request_malformed",
                S::BAD_REQUEST,
                "The request is malformed",
            ),
            Reason::ValidationFailed => (
                "validation_failed",
                S::UNPROCESSABLE_ENTITY,
                "The request has invalid fields",
            ),
            Reason::UnsupportedMediaType => (
                "unsupported_media_type",
                S::UNSUPPORTED_MEDIA_TYPE,
                "The body must be JSON",
            ),
            Reason::NotFound => ("not_found", S::NOT_FOUND, "No such resource"),
            Reason::PreconditionFailed => (
                "precondition_failed",
                S::PRECONDITION_FAILED,
                "The resource changed since it was read",
            ),
            Reason::PreconditionRequired => (
                "precondition_required",
                S::PRECONDITION_REQUIRED,
                "An If-Match header is required",
            ),
            Reason::IdempotencyKeyReused => (
                "idempotency_key_reused",
                S::UNPROCESSABLE_ENTITY,
                "The Idempotency-Key was used for a different request",
            ),
            Reason::IdempotencyKeyInUse => (
                "idempotency_key_in_use",
                S::CONFLICT,
                "A request with this Idempotency-Key is in progress",
            ),
            Reason::HeaderInvalid => (
                "header_invalid",
                S::BAD_REQUEST,
                "A request header is invalid",
            ),
            Reason::HeadersTooLarge => (
                "headers_too_large",
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "The request headers are too large",
            ),
            Reason::BodyTooLarge => (
                "body_too_large",
                S::PAYLOAD_TOO_LARGE,
                "The request body is too large",
            ),
            Reason::MethodNotAllowed => (
                "method_not_allowed",
                S::METHOD_NOT_ALLOWED,
                "Method not allowed",
            ),
            Reason::RouteNotFound => ("route_not_found", S::NOT_FOUND, "No such route"),
            Reason::OriginNotAllowed => (
                "origin_not_allowed",
                S::FORBIDDEN,
                "This origin may not call this API",
            ),
            Reason::Misconfigured => (
                "misconfigured",
                S::INTERNAL_SERVER_ERROR,
                "This function is misconfigured",
            ),
            Reason::InternalError => ("internal_error", S::INTERNAL_SERVER_ERROR, "Internal error"),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.info().0
    }

    pub fn status(self) -> StatusCode {
        self.info().1
    }

    /// The short human title of the problem document.
    pub fn title(self) -> &'static str {
        self.info().2
    }
}

// What each reason means for the people who meet it: its usual cause and
// its fix. `docs/reasons.md`'s table is generated from these texts by
// `crates/gatehouse/tests/docs_reasons.rs`: a reason added without its
// texts does not compile, and a table left stale fails that test.

/// The documentation of one reason: one sentence each, Markdown inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonDoc {
    /// What the response means.
    pub meaning: &'static str,
    /// What usually leads to it.
    pub usual_cause: &'static str,
    /// What the caller or the deployer does about it.
    pub fix: &'static str,
}

impl Reason {
    /// What this reason means, its usual cause and its fix.
    pub fn doc(self) -> ReasonDoc {
        match self {
            Reason::CredentialsMissing => ReasonDoc {
                meaning: "No `Authorization` header and no session cookie.",
                usual_cause: "The browser dropped a cross-site cookie (`SameSite`, `Secure`, two `*.vercel.app` hosts); the frontend forgot the header.",
                fix: "Send `Authorization: Bearer`; for cookies use `credentials: 'include'` and `SameSite=None; Secure` on a shared site. The hint lists the cookies that did arrive.",
            },
            Reason::TokenMalformed => ReasonDoc {
                meaning: "The credential is not a readable JWT, or a claim has the wrong type.",
                usual_cause: "An opaque session token (Better Auth) or an encrypted one (Auth.js) sent where a JWT is expected; `Bearer undefined`.",
                fix: "Send the JWT the provider issues (Better Auth: `GET /api/auth/token`), or configure session validation.",
            },
            Reason::AlgorithmNotAllowed => ReasonDoc {
                meaning: "The token's `alg` is `none`, unknown, not allowed for its issuer, or not the key's.",
                usual_cause: "An HS token where only public keys are configured; a forged header.",
                fix: "Sign with the issuer's key algorithm; set `JWT_SECRET` for HS tokens.",
            },
            Reason::KeyNotFound => ReasonDoc {
                meaning: "No key with the token's `kid` in the issuer's JWKS (after a rate-limited refetch).",
                usual_cause: "A token from another auth server or environment; an old key.",
                fix: "Point `JWT_JWKS_URL`/`BETTER_AUTH_URL` at the server that minted the token.",
            },
            Reason::SignatureInvalid => ReasonDoc {
                meaning: "The signature does not verify.",
                usual_cause: "Secrets that differ between services; a rotation without `JWT_SECRET_PREVIOUS`; a tampered token.",
                fix: "Use the same secret everywhere (the hint gives our secret's fingerprint to compare).",
            },
            Reason::TokenExpired => ReasonDoc {
                meaning: "`exp` plus leeway is past.",
                usual_cause: "A token not refreshed; a clock far behind.",
                fix: "Refresh the session; sync clocks.",
            },
            Reason::TokenNotYetValid => ReasonDoc {
                meaning: "`nbf` or `iat` is in the future beyond the leeway.",
                usual_cause: "The issuer's clock is ahead of ours.",
                fix: "Sync clocks (NTP) or raise `JWT_LEEWAY_SECS` a little.",
            },
            Reason::IssuerMismatch => ReasonDoc {
                meaning: "`iss` is not a trusted issuer.",
                usual_cause: "A preview deployment's auth URL; `localhost` in a token sent to production.",
                fix: "Set `JWT_ISSUER`/`BETTER_AUTH_URL` for this environment, or a preview pattern.",
            },
            Reason::AudienceMismatch => ReasonDoc {
                meaning: "`aud` (or `azp`) is not accepted.",
                usual_cause: "A token minted for another API or environment.",
                fix: "Set `JWT_AUDIENCE` / `JWT_AUTHORIZED_PARTIES`, or mint tokens for this API.",
            },
            Reason::ClaimMissing => ReasonDoc {
                meaning: "`exp`, `sub`, `iss` or a required `aud`/`azp` is absent.",
                usual_cause: "An issuer configured without those claims.",
                fix: "Configure the issuer to include them.",
            },
            Reason::TokenTypeMismatch => ReasonDoc {
                meaning: "A genuine token of a trusted provider, minted for another use than identifying a user: a Supabase `anon` or `service_role` API key, a Cognito ID token where access tokens are configured (or the reverse).",
                usual_cause: "The frontend sends the project's API key, or the other one of the tokens its SDK holds.",
                fix: "Send the signed-in user's token (Supabase: `session.access_token`; Cognito: the one `COGNITO_TOKEN_USE` names); the hint says which.",
            },
            Reason::TokenVersionStale => ReasonDoc {
                meaning: "The token's `token_version` is below `TOKEN_VERSION`.",
                usual_cause: "Tokens retired on purpose by raising `TOKEN_VERSION`.",
                fix: "Sign in again.",
            },
            Reason::TokenRevoked => ReasonDoc {
                meaning: "The credential was revoked (`POST /api/auth/revoke`), by itself or by a sign-out-everywhere cutoff.",
                usual_cause: "Sign-out; a stolen token revoked.",
                fix: "Sign in again.",
            },
            Reason::TokenDecryptionFailed => ReasonDoc {
                meaning: "An Auth.js session cookie does not decrypt.",
                usual_cause: "`AUTH_SECRET` differs between the Auth.js app and this API; the cookie was renamed or altered.",
                fix: "Set the same `AUTH_SECRET` in both.",
            },
            Reason::CookieSignatureInvalid => ReasonDoc {
                meaning: "A Better Auth session token's HMAC does not verify, or it has no signature; or, with `BETTER_AUTH_COOKIE_CACHE`, its cookie cache (`session_data`) is well formed but signed with none of the secrets.",
                usual_cause: "`BETTER_AUTH_SECRET` differs between the auth server and this API (or changed on redeploy); `session.token` sent instead of the signed value.",
                fix: "Set the same `BETTER_AUTH_SECRET` everywhere (`BETTER_AUTH_SECRETS` during a rotation); send the cookie or the `set-auth-token` value.",
            },
            Reason::SessionNotFound => ReasonDoc {
                meaning: "No session has this token (database mode), or the auth server says none (remote mode).",
                usual_cause: "Signed out; `DATABASE_URL`/`AUTH_SERVER_URL` pointing at another environment.",
                fix: "Sign in again; point at the auth server's own database or URL.",
            },
            Reason::SessionExpired => ReasonDoc {
                meaning: "The session row's `expiresAt` has passed.",
                usual_cause: "A session not used for its lifetime.",
                fix: "Sign in again.",
            },
            Reason::ApiKeyInvalid => ReasonDoc {
                meaning: "The API key is malformed, unknown, revoked or expired, or this deployment takes no API keys.",
                usual_cause: "A truncated or revoked key; no `DATABASE_URL`.",
                fix: "Create a key with `gatehouse api-keys create`.",
            },
            Reason::UserNotFound => ReasonDoc {
                meaning: "The user service has no such user (404).",
                usual_cause: "A deleted account; a token of another environment.",
                fix: "Sign in with an existing account.",
            },
            Reason::Forbidden => ReasonDoc {
                meaning: "Authenticated but not allowed here.",
                usual_cause: "An API key calling `/api/auth/revoke`.",
                fix: "Use the route meant for that credential.",
            },
            Reason::InsufficientScope => ReasonDoc {
                meaning: r#"An API key lacks the route's scope (`WWW-Authenticate: ... error="insufficient_scope"`)."#,
                usual_cause: "A key created for another purpose.",
                fix: "Create a key with `--scope <the scope named in the detail>`.",
            },
            Reason::JwksUnavailable => ReasonDoc {
                meaning: "The issuer's keys were never loaded (404, HTML, timeout, refused). Keys already held keep working during an outage.",
                usual_cause: "A wrong JWKS URL; the auth server down at cold start.",
                fix: "Fix the URL; retry (`Retry-After`). Never a 401.",
            },
            Reason::SessionStoreUnavailable => ReasonDoc {
                meaning: "Postgres could not be asked about a session, API key or revocation (down, timed out), or Better Auth's tables are not in it.",
                usual_cause: "Postgres down; `DATABASE_URL` not Better Auth's database.",
                fix: "Retry; follow the hint (`DATABASE_URL`). Never a 401.",
            },
            Reason::RevocationUnavailable => ReasonDoc {
                meaning: "The revocation state this instance holds in memory is older than `REVOCATION_MAX_STALENESS_SECS` and Postgres cannot be read to bring it up to date, so a revoked credential cannot be told apart. Until then the last state read is served.",
                usual_cause: "Postgres down or unreachable for longer than the staleness bound (60 s by default).",
                fix: "Retry (`Retry-After`); bring Postgres back. Never a 401, never a silent accept.",
            },
            Reason::AuthServerUnavailable => ReasonDoc {
                meaning: "The auth server (`AUTH_SERVER_URL`) did not answer get-session usefully: down, slow, 5xx, HTML.",
                usual_cause: "The auth server down or a wrong URL.",
                fix: "Retry; check `AUTH_SERVER_URL`. Never a 401.",
            },
            Reason::UserServiceUnavailable => ReasonDoc {
                meaning: "The user service failed and no cached or stored profile exists.",
                usual_cause: "The user service down; a wrong `USER_SERVICE_URL` or key.",
                fix: "Retry; check the service. Never a 401.",
            },
            Reason::DatabaseUnavailable => ReasonDoc {
                meaning: "The database could not be reached, refused us, or timed out.",
                usual_cause: "Postgres down, a wrong host or password, a pool exhausted, a statement past its timeout.",
                fix: "Follow the `hint`; check `DATABASE_URL` and the provider's status.",
            },
            Reason::SchemaOutdated => ReasonDoc {
                meaning: "The database schema is older than this build: a table, column or function it uses is missing, or a migration was edited. Any database route, credential checks included.",
                usual_cause: "A deploy (or `vercel dev`) without `gatehouse migrate`.",
                fix: "Run `gatehouse migrate` with this deployment's `DATABASE_URL` (the hint says so, in production too).",
            },
            Reason::RequestMalformed => ReasonDoc {
                meaning: "The path, query or body cannot be read.",
                usual_cause: "A `%` not followed by two hex digits; a path that does not decode to UTF-8; a body cut off mid-way.",
                fix: "Percent-encode the URL properly; send the whole body.",
            },
            Reason::ValidationFailed => ReasonDoc {
                meaning: "A body field or query parameter is missing, of the wrong type, out of range or unknown; `errors: [{field, problem}]` names each.",
                usual_cause: r#"A form sending `"done": "yes"`; `limit=500`; a hand-edited cursor."#,
                fix: "Fix the named fields.",
            },
            Reason::UnsupportedMediaType => ReasonDoc {
                meaning: "A write whose body is not declared JSON.",
                usual_cause: "A form post; a missing `Content-Type`.",
                fix: "Send `Content-Type: application/json`.",
            },
            Reason::NotFound => ReasonDoc {
                meaning: "No such task for this caller (another user's task answers the same).",
                usual_cause: "A stale link; a task deleted in another tab; the wrong account.",
                fix: "List the caller's tasks again.",
            },
            Reason::PreconditionFailed => ReasonDoc {
                meaning: "`If-Match` names a version that is no longer current; `ETag` carries the current one.",
                usual_cause: "Another tab or device changed the task first.",
                fix: "GET it again, reapply the change, send the new `ETag`.",
            },
            Reason::PreconditionRequired => ReasonDoc {
                meaning: "A `PATCH` without `If-Match`.",
                usual_cause: "A client that does not keep the `ETag`.",
                fix: "Send `If-Match` with the `ETag` from the last read (or `*` to overwrite on purpose).",
            },
            Reason::IdempotencyKeyReused => ReasonDoc {
                meaning: "This `Idempotency-Key` was first used with a different body.",
                usual_cause: "A client reusing one key for several requests.",
                fix: "One key per distinct request; reuse it only to retry the same one.",
            },
            Reason::IdempotencyKeyInUse => ReasonDoc {
                meaning: "The first request with this key has not finished (`Retry-After: 1`).",
                usual_cause: "Concurrent retries.",
                fix: "Retry shortly: the first result is then replayed.",
            },
            Reason::HeaderInvalid => ReasonDoc {
                meaning: "A header value is not UTF-8 text.",
                usual_cause: "A client writing Latin-1 or binary into a header.",
                fix: "Send header values as UTF-8.",
            },
            Reason::HeadersTooLarge => ReasonDoc {
                meaning: "Headers add up to more than 32 KiB.",
                usual_cause: "Cookie build-up on a shared domain.",
                fix: "Clear stale cookies; send fewer or smaller headers.",
            },
            Reason::BodyTooLarge => ReasonDoc {
                meaning: "The body is over 1 MiB.",
                usual_cause: "Uploading files to a JSON API.",
                fix: "Send smaller documents; upload files elsewhere.",
            },
            Reason::MethodNotAllowed => ReasonDoc {
                meaning: "The route does not take this method; `Allow` lists those it takes.",
                usual_cause: "A typo in the client, or a form posting to a GET route.",
                fix: "Use a method from `Allow`.",
            },
            Reason::RouteNotFound => ReasonDoc {
                meaning: "No function serves this path (dev server), or a dynamic segment is missing.",
                usual_cause: "A wrong URL in the frontend.",
                fix: "Check the path against the routes table.",
            },
            Reason::OriginNotAllowed => ReasonDoc {
                meaning: "A CORS preflight from an origin not in `CORS_ORIGINS`, or a write (`POST`, `PATCH`, `DELETE`) whose `Origin` is neither this host nor in `CORS_ORIGINS` (cross-site request forgery: browsers send cookies with cross-site forms).",
                usual_cause: "A new frontend or preview URL; a forged form.",
                fix: "Add it (or a pattern) to `CORS_ORIGINS`.",
            },
            Reason::Misconfigured => ReasonDoc {
                meaning: "The function found configuration problems at cold start and does not serve.",
                usual_cause: "A missing or invalid variable in this environment.",
                fix: "Read the `configuration invalid` log event (or the `problems` array outside production) and fix each variable.",
            },
            Reason::InternalError => ReasonDoc {
                meaning: "A bug: the log has the details under the request id.",
                usual_cause: "—",
                fix: "Report it with the `request_id`.",
            },
        }
    }
}

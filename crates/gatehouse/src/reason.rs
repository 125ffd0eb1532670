//! The stable codes every refusal and failure carries (`reason` in the
//! problem body, `X-Auth-Reason`), with their status, title and
//! documentation. At the bottom of the module graph: errors, refusals and
//! problem documents all name a [`Reason`], and it imports none of them.

use http::StatusCode;

mod docs;

pub use docs::ReasonDoc;

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

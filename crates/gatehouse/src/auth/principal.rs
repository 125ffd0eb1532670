//! Who a request is from, once authenticated. Every credential kind ends in
//! this one type.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::identity::Identity;

/// How a token was verified, reported in the principal and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    JwtJwks,
    JwtStaticKey,
    JwtSharedSecret,
    /// Better Auth's signed session token, looked up in its Postgres tables.
    BetterAuthSession,
    /// Better Auth's session, validated by its `/api/auth/get-session`.
    BetterAuthRemote,
    /// Auth.js (NextAuth) encrypted session cookie.
    AuthjsSession,
    ApiKey,
    /// A session of this API's own (`POST /api/auth/exchange`).
    GatehouseSession,
}

#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub subject: String,
    /// Whose subject it is: the issuer's stable name or the credential
    /// kind ([`crate::auth::identity`]). Stored identities use both.
    pub namespace: String,
    pub issuer: Option<String>,
    /// How the credential was verified.
    pub method: Method,
    /// `authorization_header`, `x-api-key_header` or `cookie:<name>`.
    pub credential_source: String,
    /// When the credential stops working (Unix seconds); `None` for an API
    /// key without expiry.
    pub expires_at: Option<i64>,
    pub key_id: Option<String>,
    /// The JWS algorithm; absent for sessions and API keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<&'static str>,
    pub signed_with_previous_secret: bool,
    pub token_version: Option<u64>,
    /// The claims named by `PRINCIPAL_CLAIMS`, when present (for sessions:
    /// the user's fields of those names).
    pub claims: Map<String, Value>,
    /// An API key's scopes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The session's id, for session credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The profile from USER_SERVICE_URL (`data`, `source`, `fetched_at`),
    /// when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Value>,
    /// When the credential was issued (Unix seconds, fractional), for
    /// per-subject revocation cutoffs.
    #[serde(skip)]
    pub issued_at: Option<f64>,
    /// The id a revocation of this credential names (`jti:` or `sha256:`);
    /// never the token itself. `None` for API keys, revoked on their own.
    #[serde(skip)]
    pub revocation_id: Option<String>,
    /// Set by [`crate::auth::Authenticator::authenticate_deferring_revocation`]:
    /// the route's statement must still check `revocation_id`.
    #[serde(skip)]
    pub revocation_deferred: bool,
}

impl Principal {
    /// The revocation id a route's statement must check, when the
    /// authenticator left that check to it.
    pub fn deferred_revocation(&self) -> Option<&str> {
        self.revocation_id
            .as_deref()
            .filter(|_| self.revocation_deferred)
    }

    /// A principal for a credential that is not a JWS.
    pub(crate) fn new(namespace: &str, subject: String, method: Method, source: String) -> Self {
        Principal {
            subject,
            namespace: namespace.to_owned(),
            issuer: None,
            method,
            credential_source: source,
            expires_at: None,
            key_id: None,
            algorithm: None,
            signed_with_previous_secret: false,
            token_version: None,
            claims: Map::new(),
            scopes: Vec::new(),
            session_id: None,
            profile: None,
            issued_at: None,
            revocation_id: None,
            revocation_deferred: false,
        }
    }

    /// Who this is, for everything stored about it: never the bare
    /// subject, which another issuer can share.
    pub fn identity(&self) -> Identity {
        Identity::new(&self.namespace, &self.subject)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The JOSE name of an algorithm, without formatting on every request.
pub fn algorithm_name(algorithm: jsonwebtoken::Algorithm) -> &'static str {
    use jsonwebtoken::Algorithm as A;
    match algorithm {
        A::HS256 => "HS256",
        A::HS384 => "HS384",
        A::HS512 => "HS512",
        A::RS256 => "RS256",
        A::RS384 => "RS384",
        A::RS512 => "RS512",
        A::PS256 => "PS256",
        A::PS384 => "PS384",
        A::PS512 => "PS512",
        A::ES256 => "ES256",
        A::ES384 => "ES384",
        A::EdDSA => "EdDSA",
        // A future algorithm jsonwebtoken adds; never configured here.
        _ => "unknown",
    }
}

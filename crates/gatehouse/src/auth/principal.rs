//! Who a request is from, once authenticated. Every credential kind ends in
//! this one type.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::jwt::{Method, Verified};

#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub subject: String,
    pub issuer: Option<String>,
    /// How the credential was verified.
    pub method: Method,
    /// `authorization_header` or `cookie:<name>`.
    pub credential_source: String,
    pub expires_at: i64,
    pub key_id: Option<String>,
    pub algorithm: &'static str,
    pub signed_with_previous_secret: bool,
    pub token_version: Option<u64>,
    /// The claims named by `PRINCIPAL_CLAIMS`, when present.
    pub claims: Map<String, Value>,
}

impl Principal {
    pub(crate) fn from_verified(verified: Verified, source: String) -> Self {
        Principal {
            subject: verified.subject,
            issuer: verified.issuer,
            method: verified.method,
            credential_source: source,
            expires_at: verified.expires_at,
            key_id: verified.key_id,
            algorithm: algorithm_name(verified.algorithm),
            signed_with_previous_secret: verified.signed_with_previous_secret,
            token_version: verified.token_version,
            claims: verified.claims,
        }
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

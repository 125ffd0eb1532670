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
    pub algorithm: String,
    pub signed_with_previous_secret: bool,
    pub token_version: Option<u64>,
    /// The claims named by `PRINCIPAL_CLAIMS`, when present.
    pub claims: Map<String, Value>,
}

impl Principal {
    pub(crate) fn from_verified(verified: Verified, source: String, selected: &[String]) -> Self {
        let claims = selected
            .iter()
            .filter_map(|name| {
                verified
                    .claims
                    .get(name)
                    .map(|value| (name.clone(), value.clone()))
            })
            .collect();
        Principal {
            subject: verified.subject,
            issuer: verified.issuer,
            method: verified.method,
            credential_source: source,
            expires_at: verified.expires_at,
            key_id: verified.key_id,
            algorithm: format!("{:?}", verified.algorithm),
            signed_with_previous_secret: verified.signed_with_previous_secret,
            token_version: verified.token_version,
            claims,
        }
    }
}

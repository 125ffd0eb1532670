//! What a function would make of one credential, check by check: the core
//! of `gatehouse explain`. It runs the very [`Authenticator`] the functions
//! run, so it can never disagree with them, and lists the checks of the
//! verifier the authenticator routes the credential to
//! ([`Authenticator::checks`]); the checks before the one that refused
//! passed, the ones after it were not reached.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::refusal::Refusal;
use crate::auth::token_kind::{TokenKind, classify};
use crate::auth::{Authenticator, Principal};
use crate::error::Reason;
use crate::secret::fingerprint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    NotReached,
    /// Not configured here (revocation without a database, no user service).
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    /// The refusal reason, on the failing check.
    pub reason: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Explanation {
    /// What the credential is, as the functions recognise it.
    pub kind: &'static str,
    /// SHA-256 prefix: the credential itself is never shown.
    pub fingerprint: String,
    /// A JWT's header and claims, decoded without any key: unverified.
    pub unverified_header: Option<Map<String, Value>>,
    pub unverified_claims: Option<Map<String, Value>>,
    pub checks: Vec<Check>,
    pub verdict: Verdict,
}

#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    Accepted {
        principal: Box<Principal>,
    },
    Refused {
        reason: &'static str,
        status: u16,
        detail: String,
        hint: String,
    },
}

/// Explains `credential` as it would be judged at `now`, carried in the
/// cookie `cookie_name` or, without one, in the header a client would use.
pub async fn explain(
    authenticator: &Authenticator,
    credential: &str,
    cookie_name: Option<&str>,
    now: i64,
) -> Explanation {
    let kind = classify(credential);
    let api_key = kind == TokenKind::ApiKey;
    let mut headers = HeaderMap::new();
    let carried = match cookie_name {
        Some(name) => HeaderValue::from_str(&format!("{name}={credential}"))
            .map(|value| headers.insert(http::header::COOKIE, value)),
        None if api_key => {
            HeaderValue::from_str(credential).map(|value| headers.insert("x-api-key", value))
        }
        None => HeaderValue::from_str(&format!("Bearer {credential}"))
            .map(|value| headers.insert(http::header::AUTHORIZATION, value)),
    };
    let outcome = match carried {
        Ok(_) => authenticator.authenticate_at(&headers, now).await,
        Err(_) => Err(Box::new(Refusal::new(
            Reason::HeaderInvalid,
            "the credential contains characters no HTTP header can carry",
            "pass the value exactly as the client sends it (no newlines or control characters)",
        ))),
    };
    let (unverified_header, unverified_claims) = match &kind {
        TokenKind::Jwt(_) => decode_unverified(credential),
        _ => (None, None),
    };
    let names = authenticator.checks(&headers);
    let checks: Vec<Check> = match &outcome {
        Ok(_) => names
            .iter()
            .map(|name| Check {
                name,
                status: Status::Pass,
                reason: None,
            })
            .collect(),
        Err(refusal) => {
            let failing = failing_check(names, refusal.reason);
            names
                .iter()
                .enumerate()
                .map(|(index, name)| Check {
                    name,
                    status: match index.cmp(&failing) {
                        std::cmp::Ordering::Less => Status::Pass,
                        std::cmp::Ordering::Equal => Status::Fail,
                        std::cmp::Ordering::Greater => Status::NotReached,
                    },
                    reason: (index == failing).then(|| refusal.reason.as_str()),
                })
                .collect()
        }
    };
    let settings = authenticator.settings();
    let checks = checks
        .into_iter()
        .map(|mut check| {
            let configured = match check.name {
                "revocation" => settings.checks_revocation(),
                "user profile" => settings.user_service.is_some(),
                _ => true,
            };
            if !configured && check.status != Status::Fail {
                check.status = Status::Skipped;
            }
            check
        })
        .collect();
    let verdict = match outcome {
        Ok(principal) => Verdict::Accepted {
            principal: Box::new(principal),
        },
        Err(refusal) => {
            // A local tool run by the operator: the specific texts, as
            // outside production.
            let (detail, hint) = refusal.texts(true);
            Verdict::Refused {
                reason: refusal.reason.as_str(),
                status: refusal.reason.status().as_u16(),
                detail: detail.to_owned(),
                hint: hint.to_owned(),
            }
        }
    };
    Explanation {
        kind: describe_kind(credential),
        fingerprint: fingerprint(credential.as_bytes()),
        unverified_header,
        unverified_claims,
        checks,
        verdict,
    }
}

/// What a credential is, in words, as `explain` and the debug route say it.
pub fn describe_kind(credential: &str) -> &'static str {
    classify(credential).describe()
}

/// One credential as the debug route shows it: never the value.
#[derive(Debug, Serialize)]
pub struct CredentialView {
    /// `authorization_header`, `x-api-key_header` or `cookie:<name>`.
    pub source: String,
    pub kind: &'static str,
    pub fingerprint: String,
    /// A JWT's header and claims, decoded without any key: unverified.
    pub unverified_header: Option<Map<String, Value>>,
    pub unverified_claims: Option<Map<String, Value>>,
}

impl CredentialView {
    pub fn new(source: String, credential: &str) -> Self {
        let (unverified_header, unverified_claims) = match classify(credential) {
            TokenKind::Jwt(_) => decode_unverified(credential),
            _ => (None, None),
        };
        CredentialView {
            source,
            kind: describe_kind(credential),
            fingerprint: fingerprint(credential.as_bytes()),
            unverified_header,
            unverified_claims,
        }
    }
}

/// Which check a refusal reason belongs to.
fn failing_check(names: &[&str], reason: Reason) -> usize {
    use Reason as R;
    let name = match reason {
        R::TokenMalformed | R::CredentialsMissing | R::HeaderInvalid | R::Misconfigured => {
            "recognised"
        }
        R::AlgorithmNotAllowed => "algorithm",
        R::IssuerMismatch => "issuer",
        R::KeyNotFound | R::JwksUnavailable => "key",
        R::SignatureInvalid | R::CookieSignatureInvalid => "signature",
        R::AudienceMismatch => "audience",
        R::TokenTypeMismatch => "token type",
        R::TokenExpired | R::TokenNotYetValid => "expiry and clock",
        R::SessionExpired => "expiry",
        R::ClaimMissing => "required claims",
        R::TokenVersionStale => "token version",
        R::TokenRevoked | R::RevocationUnavailable => "revocation",
        R::TokenDecryptionFailed => "decryption",
        R::SessionNotFound | R::AuthServerUnavailable => "session lookup",
        R::ApiKeyInvalid => "key lookup",
        R::UserNotFound | R::UserServiceUnavailable => "user profile",
        R::SessionStoreUnavailable => {
            if names.contains(&"session lookup") {
                "session lookup"
            } else if names.contains(&"key lookup") {
                "key lookup"
            } else {
                "revocation"
            }
        }
        _ => "recognised",
    };
    names.iter().position(|n| *n == name).unwrap_or(0)
}

type JsonObject = Map<String, Value>;

/// A JWT's header and payload as JSON objects, without any verification.
fn decode_unverified(token: &str) -> (Option<JsonObject>, Option<JsonObject>) {
    let mut parts = token.split('.');
    let object = |part: Option<&str>| {
        let bytes = URL_SAFE_NO_PAD.decode(part?).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    };
    let header = object(parts.next());
    let claims = object(parts.next());
    (header, claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_reason_maps_to_a_check_of_its_kind() {
        use crate::auth::api_keys::ApiKeyVerifier;
        use crate::auth::better_auth::BetterAuthVerifier;
        use crate::auth::jwt::JwtVerifier;
        use crate::auth::verify::Verify;

        let jwt = JwtVerifier::CHECKS;
        assert_eq!(
            jwt[failing_check(jwt, Reason::SignatureInvalid)],
            "signature"
        );
        assert_eq!(
            jwt[failing_check(jwt, Reason::TokenExpired)],
            "expiry and clock"
        );
        assert_eq!(
            jwt[failing_check(jwt, Reason::SessionStoreUnavailable)],
            "revocation"
        );
        let session = BetterAuthVerifier::CHECKS;
        assert_eq!(
            session[failing_check(session, Reason::SessionStoreUnavailable)],
            "session lookup"
        );
        assert_eq!(
            session[failing_check(session, Reason::SessionExpired)],
            "expiry"
        );
        let key = ApiKeyVerifier::CHECKS;
        assert_eq!(key[failing_check(key, Reason::ApiKeyInvalid)], "key lookup");
    }

    /// Each check a verifier lists is the one some refusal reason belongs
    /// to: no step explain shows can never fail.
    #[test]
    fn every_listed_check_is_reachable_by_a_reason() {
        use crate::auth::api_keys::ApiKeyVerifier;
        use crate::auth::authjs::AuthjsVerifier;
        use crate::auth::better_auth::BetterAuthVerifier;
        use crate::auth::jwt::JwtVerifier;
        use crate::auth::sessions::SessionVerifier;
        use crate::auth::verify::Verify;

        for checks in [
            JwtVerifier::CHECKS,
            AuthjsVerifier::CHECKS,
            BetterAuthVerifier::CHECKS,
            ApiKeyVerifier::CHECKS,
            SessionVerifier::CHECKS,
        ] {
            for (index, name) in checks.iter().enumerate() {
                assert!(
                    Reason::ALL
                        .iter()
                        .any(|reason| failing_check(checks, *reason) == index),
                    "{name} in {checks:?} is the check of no reason"
                );
            }
        }
    }

    #[test]
    fn unverified_decoding_reads_header_and_claims_only() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k"}"#);
        let claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"u1","exp":1}"#);
        let (h, c) = decode_unverified(&format!("{header}.{claims}.sig"));
        assert_eq!(h.unwrap()["kid"], "k");
        assert_eq!(c.unwrap()["sub"], "u1");
        assert_eq!(decode_unverified("a.b.c"), (None, None));
    }
}

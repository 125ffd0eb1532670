//! Authentication: which credentials a request carries, whether they are
//! valid, and, when not, exactly why.
//!
//! [`Authenticator::authenticate`] is the one entry point: it finds the
//! credential ([`credential`]), verifies it ([`jwt`]) and returns a
//! [`Principal`], or a [`Refusal`] carrying the reason, the fix and the facts.

pub mod claims;
pub mod credential;
pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod pattern;
pub mod principal;
pub mod refusal;
pub mod settings;
pub mod token_kind;

use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;

use crate::auth::credential::ExtractError;
use crate::auth::jwt::JwtVerifier;
pub use crate::auth::principal::Principal;
use crate::auth::refusal::{Facts, Refusal};
use crate::auth::settings::AuthSettings;
use crate::error::Reason;
use crate::outbound::Outbound;

/// Process-wide: holds the JWKS caches, so build it once per process.
#[derive(Debug)]
pub struct Authenticator {
    settings: AuthSettings,
    jwt: JwtVerifier,
}

impl Authenticator {
    pub fn new(settings: AuthSettings, outbound: &Outbound) -> Self {
        let jwt = JwtVerifier::new(&settings, outbound);
        Authenticator { settings, jwt }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Box<Refusal>> {
        self.authenticate_at(headers, unix_now()).await
    }

    /// As [`Authenticator::authenticate`], at a given time (tests, `explain`).
    pub async fn authenticate_at(
        &self,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Principal, Box<Refusal>> {
        let credential = credential::extract(headers, &self.settings.cookie_names);
        // Facts cost allocations; the cookie names join them only when the
        // request is refused.
        let mut facts = Facts {
            server_time: Some(now),
            ..Facts::default()
        };
        let credential = match credential {
            Ok(credential) => credential,
            Err(ExtractError::Missing) => {
                facts.cookies_present = credential::cookie_names(headers);
                let refusal = self.missing(&facts.cookies_present);
                return Err(Box::new(refusal.with_facts(facts)));
            }
            Err(ExtractError::Unusable(detail)) => {
                facts.credential_source = Some("authorization_header".to_owned());
                facts.cookies_present = credential::cookie_names(headers);
                return Err(Box::new(
                    Refusal::new(
                        Reason::TokenMalformed,
                        detail,
                        "send `Authorization: Bearer <token>` with the token your auth provider issued",
                    )
                    .with_facts(facts),
                ));
            }
        };
        let source = credential.source.to_string();
        match self
            .jwt
            .verify(credential.token.expose(), now, &mut facts)
            .await
        {
            Ok(verified) => {
                if verified.signed_with_previous_secret {
                    // A rotation in progress: this event says which tokens
                    // still need JWT_SECRET_PREVIOUS, so it is removed only
                    // once none arrive.
                    tracing::info!(
                        target: "gatehouse::auth::rotation",
                        credential_source = source.as_str(),
                        token_fingerprint = credential.token.fingerprint().as_str(),
                        "token accepted with the previous secret (JWT_SECRET_PREVIOUS): its signer must move to JWT_SECRET before the previous secret is removed"
                    );
                }
                Ok(Principal::from_verified(verified, source))
            }
            Err(refusal) => {
                // Hashed only when refusing: on the accepted path the
                // fingerprint would cost more than every claim check.
                facts.credential_source = Some(source);
                facts.token_fingerprint = Some(credential.token.fingerprint());
                facts.cookies_present = credential::cookie_names(headers);
                Err(Box::new(refusal.with_facts(facts)))
            }
        }
    }

    /// No credential: say what did arrive, since "the browser dropped the
    /// cookie" is the usual story.
    fn missing(&self, cookies_present: &[String]) -> Refusal {
        let near_misses: Vec<&String> = cookies_present
            .iter()
            .filter(|name| {
                name.contains("session") || name.contains("auth") || name.contains("token")
            })
            .collect();
        let hint = if !near_misses.is_empty() {
            format!(
                "cookies named {} arrived, but none is one this API reads ({}): set AUTH_COOKIE_NAMES to the name your auth library uses",
                near_misses
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.settings.cookie_names.join(", ")
            )
        } else if cookies_present.is_empty() {
            "send `Authorization: Bearer <token>`; if you rely on a session cookie, none arrived: from another site the browser sends cookies only with fetch(..., { credentials: 'include' }) and a cookie set with SameSite=None; Secure (never between two *.vercel.app hosts, a public suffix)".to_owned()
        } else {
            "send `Authorization: Bearer <token>`, or the session cookie; other cookies arrived but no session cookie".to_owned()
        };
        Refusal::new(
            Reason::CredentialsMissing,
            "the request carries no Authorization header and no session cookie",
            hint,
        )
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

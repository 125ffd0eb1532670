//! The interface every credential kind implements. A request meets the
//! same steps whatever it carries: the credential is found
//! ([`crate::auth::credential`]), classified once
//! ([`crate::auth::token_kind::classify`]), verified by its kind's
//! [`Verify`], then checked for revocation and given its profile by
//! [`crate::auth::Authenticator`], ending in a [`Principal`] or a
//! [`Refusal`]. `explain` lists each kind's [`Verify::CHECKS`], so it
//! names the steps this code runs, in its order.

use std::sync::Arc;

use crate::auth::credential::Credential;
use crate::auth::principal::Principal;
use crate::auth::refusal::{Facts, Refusal, store_unavailable};
use crate::auth::token_kind::TokenKind;
use crate::db::{Database, LazyDatabase};
use crate::error::Reason;

/// One credential as its verifier gets it.
#[derive(Debug)]
pub(crate) struct Attempt<'a> {
    pub(crate) credential: &'a Credential,
    /// What [`crate::auth::token_kind::classify`] made of it.
    pub(crate) kind: &'a TokenKind,
    /// Unix seconds.
    pub(crate) now: i64,
    /// What a refusal reports; filled as the checks go.
    pub(crate) facts: &'a mut Facts,
}

/// What a verifier accepted.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) principal: Principal,
    /// Whether the kind's own statement already checked revocation (a
    /// session lookup does, in its one round trip); otherwise the
    /// authenticator checks `principal.revocation_id`.
    pub(crate) revocation_checked: bool,
}

impl Accepted {
    /// A principal whose revocation, if it has an id, is still to check.
    pub(crate) fn pending(principal: Principal) -> Self {
        Accepted {
            principal,
            revocation_checked: false,
        }
    }
}

/// A credential kind's verifier: recognition is done, this checks what
/// only this kind can (signature, decryption, lookup, expiry, claims).
pub(crate) trait Verify {
    /// The checks a credential of this kind goes through, in order,
    /// revocation and profile included where they apply: `explain` marks
    /// the one a refusal's reason belongs to.
    const CHECKS: &'static [&'static str];

    async fn verify(&self, attempt: Attempt<'_>) -> Result<Accepted, Refusal>;
}

/// The database a credential kind reads: a refusal names what is missing.
pub(crate) fn database(lazy: &Arc<LazyDatabase>) -> Result<Arc<Database>, Refusal> {
    match lazy.get() {
        Ok(Some(db)) => Ok(db),
        Ok(None) => Err(Refusal::new(
            Reason::Misconfigured,
            "this credential kind needs the database, and DATABASE_URL is not set",
            "set DATABASE_URL",
        )),
        Err(err) => Err(store_unavailable(&err)),
    }
}

/// Keeps the `PRINCIPAL_CLAIMS` of a session's user fields.
pub(crate) fn select_claims(principal: &mut Principal, names: &[String]) {
    let all = std::mem::take(&mut principal.claims);
    principal.claims = names
        .iter()
        .filter_map(|name| Some((name.clone(), all.get(name)?.clone())))
        .collect();
}

//! The claim checks of a JWT whose signature verified: dates with their
//! leeway, issuer, audience and authorized party, required claims and
//! token version. Each refusal names the claim and what was expected.

use std::borrow::Cow;

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::claims::{Claims, WrongType, claim_missing, malformed};
use crate::auth::pattern::PatternList;
use crate::auth::principal::{Method, Principal, algorithm_name};
use crate::auth::refusal::{Facts, Refusal};
use crate::auth::settings::{IssuerVariables, TOKEN_VERSION_CLAIM, TokenVersion};
use crate::clock::{numeric_date_secs, rfc3339};
use crate::reason::Reason;

/// What a JWT's claims must satisfy once its signature verified.
#[derive(Debug)]
pub(super) struct ClaimRules {
    /// `JWT_LEEWAY_SECS`; an issuer may have its own (see
    /// [`crate::auth::settings::IssuerSettings::leeway`]).
    pub(super) leeway: i64,
    pub(super) token_version: Option<TokenVersion>,
    /// Claims copied into [`Verified::claims`], for the principal.
    pub(super) principal_claims: Vec<String>,
    /// Whether `jti` is read: only revocation needs it.
    pub(super) reads_jwt_id: bool,
}

impl ClaimRules {
    /// The claims against `now`, allowing `leeway` seconds of clock skew.
    pub(super) fn check(
        &self,
        claims: &Claims<'_>,
        now: i64,
        leeway: i64,
        algorithm: Algorithm,
        used: &KeyUsed,
        facts: &mut Facts,
    ) -> Result<Verified, Refusal> {
        facts.server_time = Some(now);
        facts.leeway_secs = Some(leeway.unsigned_abs());
        let exp = match numeric_date(claims, "exp")? {
            Some(exp) => exp,
            None => {
                return Err(claim_missing(
                    "exp",
                    "the token has no expiry, so it would be valid forever",
                ));
            }
        };
        if exp + leeway <= now {
            return Err(Refusal::revealing(
                Reason::TokenExpired,
                format!(
                    "the token expired at {} ({} s ago; server time {}, leeway {leeway} s)",
                    rfc3339(exp),
                    now - exp,
                    rfc3339(now)
                ),
                "get a fresh token (refresh the session); if tokens expire the moment they arrive, this server's clock or the issuer's is wrong",
            ));
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && nbf - leeway > now
        {
            return Err(Refusal::revealing(
                Reason::TokenNotYetValid,
                format!(
                    "the token is not valid before {} ({} s from now; leeway {leeway} s)",
                    rfc3339(nbf),
                    nbf - now
                ),
                "the issuer's clock is ahead of this server's: sync both with NTP, or raise JWT_LEEWAY_SECS a little",
            ));
        }
        let issued_at = numeric_date(claims, "iat")?;
        if let Some(iat) = issued_at
            && iat - leeway > now
        {
            return Err(Refusal::revealing(
                Reason::TokenNotYetValid,
                format!(
                    "the token was issued {} s in the future ({}; server time {})",
                    iat - now,
                    rfc3339(iat),
                    rfc3339(now)
                ),
                "the issuer's clock and this server's disagree: sync both with NTP, or raise JWT_LEEWAY_SECS a little",
            ));
        }
        let subject = match claims.string("sub") {
            Ok(Some(sub)) if !sub.is_empty() => sub.into_owned(),
            Ok(_) => {
                return Err(claim_missing("sub", "the token names no subject (user)"));
            }
            Err(_) => return Err(malformed("the `sub` claim is not a string")),
        };
        let token_version = claims
            .whole_number(TOKEN_VERSION_CLAIM)
            .map_err(|_| malformed("the `token_version` claim is not a whole number"))?;
        if let Some(TokenVersion { server }) = self.token_version
            && token_version.unwrap_or(0) < server
        {
            return Err(Refusal::revealing(
                Reason::TokenVersionStale,
                format!(
                    "the token's version is {}, older than this server's {server}",
                    token_version.map_or("absent".to_owned(), |v| v.to_string())
                ),
                "sign in again to get a token of the current version (the server's TOKEN_VERSION was raised to retire older tokens)",
            ));
        }
        Ok(Verified {
            issuer: claims.string("iss").ok().flatten().map(Cow::into_owned),
            subject,
            expires_at: exp,
            claims: self
                .principal_claims
                .iter()
                .filter_map(|name| Some((name.clone(), claims.value(name)?)))
                .collect(),
            method: used.method,
            algorithm,
            key_id: used.key_id.clone(),
            signed_with_previous_secret: used.previous_secret,
            token_version,
            issued_at,
            jwt_id: if self.reads_jwt_id {
                claims.string("jti").ok().flatten().map(Cow::into_owned)
            } else {
                None
            },
            namespace: used.namespace.clone(),
        })
    }
}

/// A token whose signature and claims passed.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The claims named by `PRINCIPAL_CLAIMS` that the token carries.
    pub claims: Map<String, Value>,
    pub subject: String,
    pub issuer: Option<String>,
    pub expires_at: i64,
    pub method: Method,
    pub algorithm: Algorithm,
    pub key_id: Option<String>,
    pub signed_with_previous_secret: bool,
    pub token_version: Option<u64>,
    /// `iat`, for per-subject revocation cutoffs.
    pub issued_at: Option<i64>,
    /// `jti`, the id a revocation names.
    pub jwt_id: Option<String>,
    /// The verifying issuer's stable name ([`crate::auth::identity`]).
    pub namespace: String,
}

impl Verified {
    /// The principal this token stands for.
    pub(crate) fn into_principal(self, source: String, revocation_id: Option<String>) -> Principal {
        let verified = self;
        Principal {
            subject: verified.subject,
            namespace: verified.namespace,
            issuer: verified.issuer,
            method: verified.method,
            credential_source: source,
            expires_at: Some(verified.expires_at),
            key_id: verified.key_id,
            algorithm: Some(algorithm_name(verified.algorithm)),
            signed_with_previous_secret: verified.signed_with_previous_secret,
            token_version: verified.token_version,
            claims: verified.claims,
            scopes: Vec::new(),
            session_id: None,
            profile: None,
            issued_at: verified.issued_at.map(|iat| iat as f64),
            revocation_id,
            revocation_deferred: false,
        }
    }
}

/// Which key verified the signature.
#[derive(Debug)]
pub(super) struct KeyUsed {
    pub(super) method: Method,
    pub(super) key_id: Option<String>,
    pub(super) previous_secret: bool,
    /// The issuer's name, or `shared-secret`.
    pub(super) namespace: String,
}

/// Copies what the claims say into the facts of a refused token.
pub(super) fn record_claims(claims: &Claims<'_>, facts: &mut Facts) {
    let date = |name: &str| {
        claims
            .number(name)
            .ok()
            .flatten()
            .and_then(numeric_date_secs)
    };
    facts.iss_received = claims.text("iss");
    facts.aud_received = claims.text("aud");
    facts.exp = date("exp");
    facts.nbf = date("nbf");
    facts.iat = date("iat");
    facts.token_version = claims.whole_number(TOKEN_VERSION_CLAIM).ok().flatten();
}

/// A NumericDate claim: absent, or a number. A string or any other type is
/// refused, never skipped (the flaw behind CVE-2026-25537).
/// A date past year 9999 or before 1970 is malformed, not clamped: it keeps
/// every sum and difference of dates, leeways and `now` far from `i64`'s
/// bounds (release builds would wrap, debug builds, as `vercel dev` runs,
/// would panic).
fn numeric_date(claims: &Claims<'_>, name: &str) -> Result<Option<i64>, Refusal> {
    match claims.number(name) {
        Ok(None) => Ok(None),
        Ok(Some(value)) => numeric_date_secs(value).map(Some).ok_or_else(|| {
            malformed(&format!(
                "the `{name}` claim is {value:e}, outside the NumericDates this API accepts (1970 to 9999)"
            ))
        }),
        Err(WrongType { found }) => Err(malformed(&format!(
            "the `{name}` claim is {found}, not a NumericDate (seconds since 1970)"
        ))),
    }
}

pub(super) fn check_issuer(
    claims: &Claims<'_>,
    expected: &PatternList,
    facts: &mut Facts,
) -> Result<(), Refusal> {
    let iss = claims.string("iss");
    if let Ok(Some(iss)) = &iss
        && expected.matches(iss)
    {
        return Ok(());
    }
    facts.iss_expected = Some(expected.describe());
    match iss {
        Ok(Some(iss)) => Err(Refusal::revealing(
            Reason::IssuerMismatch,
            format!("the token's issuer is {iss}, not the one this deployment expects"),
            format!(
                "the token's issuer is {iss} but this deployment expects {}: set JWT_ISSUER to match the signer of this environment",
                expected.describe()
            ),
        )),
        Err(_) => Err(malformed("the `iss` claim is not a string")),
        Ok(None) => Err(claim_missing(
            "iss",
            "the token names no issuer, but this deployment requires one",
        )),
    }
}

/// `aud` holds one of `expected`; `fix` says what to change when not.
pub(super) fn check_audience(
    claims: &Claims<'_>,
    expected: &PatternList,
    fix: &str,
    facts: &mut Facts,
) -> Result<(), Refusal> {
    let audiences = claims.strings("aud");
    if let Ok(Some(audiences)) = &audiences
        && audiences.iter().any(|aud| expected.matches(aud))
    {
        return Ok(());
    }
    facts.aud_expected = Some(expected.describe());
    let Some(audiences) = audiences
        .map_err(|_| malformed("the `aud` claim is neither a string nor an array of strings"))?
    else {
        return Err(claim_missing(
            "aud",
            "the token names no audience, but this deployment requires one",
        ));
    };
    Err(Refusal::revealing(
        Reason::AudienceMismatch,
        format!(
            "the token is for {}, not for this API",
            audiences.join(", ")
        ),
        format!(
            "the token's audience is {} but this deployment expects {}: {fix}",
            audiences.join(", "),
            expected.describe()
        ),
    ))
}

/// The issuer's audience rule (`aud`, `azp`, or both), whose hints name
/// the `variables` that set it.
pub(super) fn check_audience_or_party(
    claims: &Claims<'_>,
    audiences: &PatternList,
    authorized_parties: &PatternList,
    variables: &IssuerVariables,
    facts: &mut Facts,
) -> Result<(), Refusal> {
    if !audiences.is_empty() {
        check_audience(claims, audiences, variables.audience_fix, facts)?;
    }
    if authorized_parties.is_empty() {
        return Ok(());
    }
    match claims.string("azp") {
        Ok(Some(azp)) if authorized_parties.matches(&azp) => Ok(()),
        Ok(Some(azp)) => Err(Refusal::revealing(
            Reason::AudienceMismatch,
            format!("the token's authorized party (azp) is {azp}, which is not allowed"),
            format!(
                "add {azp} to {} if that frontend may call this API (allowed: {})",
                variables.authorized_parties,
                authorized_parties.describe()
            ),
        )),
        Err(_) => Err(malformed("the `azp` claim is not a string")),
        // Server-to-server tokens carry no azp; the audience decided.
        Ok(None) if !audiences.is_empty() => Ok(()),
        Ok(None) => Err(claim_missing(
            "azp",
            "the token names no authorized party (azp), which this deployment requires",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MAX_NUMERIC_DATE;

    #[test]
    fn numeric_dates_outside_1970_to_9999_are_none() {
        assert_eq!(numeric_date_secs(0.0), Some(0));
        assert_eq!(numeric_date_secs(1.9e9 + 0.7), Some(1_900_000_000));
        assert_eq!(
            numeric_date_secs(MAX_NUMERIC_DATE as f64),
            Some(MAX_NUMERIC_DATE)
        );
        for bad in [
            -1.0,
            -1e300,
            1e300,
            MAX_NUMERIC_DATE as f64 + 1.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert_eq!(numeric_date_secs(bad), None, "{bad}");
        }
        assert_eq!(rfc3339(MAX_NUMERIC_DATE), "9999-12-31T23:59:59Z");
    }
}

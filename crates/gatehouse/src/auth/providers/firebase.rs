//! Firebase Auth (and Google Identity Platform) ID tokens, as the Admin
//! SDK's `verifyIdToken` checks them beyond issuer, audience and signature,
//! with the `auth_time` rule of Firebase's "verify ID tokens using a
//! third-party JWT library": each token names its key (`kid`), carries a
//! `sub` (the uid) of at most 128 characters (an empty one is refused by the
//! plain rules), and an `auth_time` (when the user signed in) not in the
//! future.

use crate::auth::jwt::claims::{Claims, claim_missing, malformed};
use crate::auth::refusal::Refusal;
use crate::clock::{numeric_date_secs, rfc3339};
use crate::reason::Reason;

/// The longest uid Firebase issues.
const MAX_UID_CHARS: usize = 128;

/// `verifyContent`'s `kid` and `sub` rules, and `auth_time`.
pub(super) fn check(
    claims: &Claims<'_>,
    kid: Option<&str>,
    now: i64,
    leeway: i64,
) -> Result<(), Refusal> {
    if kid.is_none() {
        return Err(Refusal::revealing(
            Reason::KeyNotFound,
            "the token names no key (kid), as every Firebase ID token does",
            "send the ID token from user.getIdToken(); a custom token (createCustomToken) must first be exchanged with signInWithCustomToken",
        ));
    }
    if let Ok(Some(sub)) = claims.string("sub")
        && sub.chars().count() > MAX_UID_CHARS
    {
        return Err(malformed(
            "the `sub` claim (the uid) is longer than 128 characters, which no Firebase uid is",
        ));
    }
    let auth_time = match claims.number("auth_time") {
        Ok(Some(value)) => numeric_date_secs(value).ok_or_else(|| {
            malformed("the `auth_time` claim is outside the NumericDates this API accepts")
        })?,
        Ok(None) => {
            return Err(claim_missing(
                "auth_time",
                "the token does not say when the user signed in, as every Firebase ID token does",
            ));
        }
        Err(_) => return Err(malformed("the `auth_time` claim is not a NumericDate")),
    };
    if auth_time - leeway > now {
        return Err(Refusal::revealing(
            Reason::TokenNotYetValid,
            format!(
                "the user signed in (auth_time) at {}, {} s in the future (server time {}, leeway {leeway} s)",
                rfc3339(auth_time),
                auth_time - now,
                rfc3339(now)
            ),
            "Google's clock and this server's disagree, or the token was not minted by Firebase: sync this server's clock with NTP",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_sub_and_auth_time_follow_firebase() {
        let now = 1_800_000_000;
        let ok = Claims::parse(br#"{"sub":"uid1","auth_time":1799999000}"#).unwrap();
        assert!(check(&ok, Some("k"), now, 0).is_ok());
        assert_eq!(
            check(&ok, None, now, 0).unwrap_err().reason,
            Reason::KeyNotFound
        );
        let future = Claims::parse(br#"{"sub":"uid1","auth_time":1800000100}"#).unwrap();
        assert_eq!(
            check(&future, Some("k"), now, 30).unwrap_err().reason,
            Reason::TokenNotYetValid
        );
        assert!(check(&future, Some("k"), now, 100).is_ok());
        let missing = Claims::parse(br#"{"sub":"uid1"}"#).unwrap();
        assert_eq!(
            check(&missing, Some("k"), now, 0).unwrap_err().reason,
            Reason::ClaimMissing
        );
        let long = format!(r#"{{"sub":"{}","auth_time":1}}"#, "u".repeat(129));
        let long = Claims::parse(long.as_bytes()).unwrap();
        assert_eq!(
            check(&long, Some("k"), now, 0).unwrap_err().reason,
            Reason::TokenMalformed
        );
    }
}

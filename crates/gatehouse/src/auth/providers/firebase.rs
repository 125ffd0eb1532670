//! Firebase Auth (and Google Identity Platform) ID tokens, as the Admin
//! SDK's `verifyIdToken` checks them, with the `auth_time` rule of
//! Firebase's "verify ID tokens using a third-party JWT library".
//!
//! `FIREBASE_PROJECT_ID` gives the issuer,
//! `https://securetoken.google.com/<project>`, and the audience, the project
//! id itself. The keys are Google's, published for
//! `securetoken@system.gserviceaccount.com` (the JWK form of the X.509
//! certificates the Admin SDK reads; same keys, same kids). Each token must
//! name its key (`kid`), be RS256, carry a `sub` (the uid) of 1 to 128
//! characters, and an `auth_time` (when the user signed in) not in the
//! future.

use jsonwebtoken::Algorithm;

use super::{ProviderRules, jwks};
use crate::auth::identity;
use crate::auth::jwt::claim_checks::{claim_missing, malformed};
use crate::auth::jwt::claims::Claims;
use crate::auth::pattern::PatternList;
use crate::auth::refusal::Refusal;
use crate::auth::settings::{IssuerSettings, IssuerVariables, exact};
use crate::clock::{numeric_date_secs, rfc3339};
use crate::config::env::{Environment, Reader};
use crate::reason::Reason;

/// Google's public keys for Firebase ID tokens, as a JWKS.
pub const JWKS_URL: &str =
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com";

const ALGORITHMS: [Algorithm; 1] = [Algorithm::RS256];

/// The longest uid Firebase issues.
const MAX_UID_CHARS: usize = 128;

const VARIABLES: IssuerVariables = IssuerVariables {
    issuer: "FIREBASE_PROJECT_ID",
    audience_fix: "Firebase ID tokens name their project in aud: set FIREBASE_PROJECT_ID to the project the app signs its users in to",
    authorized_parties: "nothing: the Firebase preset does not check azp",
    keys: "Google's securetoken JWKS (or JWT_JWKS_URL)",
    algorithms: None,
};

pub(super) fn read(
    r: &mut Reader<'_>,
    environment: Environment,
    jwks_override: Option<String>,
) -> Option<IssuerSettings> {
    let project = r.get("FIREBASE_PROJECT_ID")?;
    if !is_project_id(&project) {
        r.error(
            "FIREBASE_PROJECT_ID",
            format!("is {project:?}, not a project id (lower-case letters, digits and hyphens)"),
            "set FIREBASE_PROJECT_ID to the project id from the Firebase console (Project settings → General → Project ID; firebaseConfig.projectId), not its display name or number",
        );
        return None;
    }
    let keys = jwks(r, environment, JWKS_URL.to_owned(), jwks_override)?;
    Some(IssuerSettings {
        label: identity::FIREBASE.to_owned(),
        issuer: exact(&format!("https://securetoken.google.com/{project}")),
        audiences: exact(&project),
        authorized_parties: PatternList::default(),
        keys,
        algorithms: ALGORITHMS.to_vec(),
        provider: Some(ProviderRules::Firebase),
        leeway: None,
        secret: None,
        variables: VARIABLES,
    })
}

/// Google Cloud project ids: 6 to 30 lower-case letters, digits and
/// hyphens, starting with a letter (`demo-*` for the emulator included).
fn is_project_id(project: &str) -> bool {
    (6..=30).contains(&project.len())
        && project.starts_with(|c: char| c.is_ascii_lowercase())
        && !project.ends_with('-')
        && project
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

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
    use crate::auth::providers::tests::settings;
    use crate::auth::settings::KeySource;

    #[test]
    fn the_project_gives_issuer_audience_and_googles_keys() {
        let (auth, problems, _) = settings(
            &[("FIREBASE_PROJECT_ID", "my-project-42")],
            Environment::Production,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let issuer = &auth.issuers[0];
        assert!(
            issuer
                .issuer
                .matches("https://securetoken.google.com/my-project-42")
        );
        assert!(issuer.audiences.matches("my-project-42"));
        assert!(matches!(&issuer.keys, KeySource::Jwks { url } if url == JWKS_URL));
        for bad in ["My Project", "12345678", "abc", "my-project-"] {
            let (_, problems, _) =
                settings(&[("FIREBASE_PROJECT_ID", bad)], Environment::Production);
            assert!(
                problems[0].starts_with("FIREBASE_PROJECT_ID"),
                "{bad}: {problems:?}"
            );
        }
    }

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

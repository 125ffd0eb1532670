//! Clerk, as `@clerk/backend`'s `verifyToken` checks its session tokens.
//!
//! `CLERK_PUBLISHABLE_KEY` (`pk_test_…`/`pk_live_…`, the base64 of the
//! Frontend API host and a `$`) gives the issuer, `https://<fapi>`, and the
//! JWKS at `https://<fapi>/.well-known/jwks.json`; `CLERK_JWT_KEY` (the
//! instance's PEM public key) verifies without any network call instead.
//! `CLERK_AUTHORIZED_PARTIES` is checked against `azp` exactly as
//! `verifyToken`'s `authorizedParties`: unset, any origin passes; set, a
//! token must name one of them. Session tokens live 60 s, so the clock skew
//! is `verifyToken`'s default, 5 s (`clockSkewInMs`): a token is accepted
//! until 5 s past its `exp`, and one issued by a clock up to 5 s ahead, no
//! more and no less. Clerk signs with RS256 (`verifyToken` allows RS256,
//! RS384 and RS512).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use jsonwebtoken::Algorithm;

use crate::auth::identity;
use crate::auth::jwt::keys;
use crate::auth::pattern::PatternList;
use crate::auth::providers::ProviderRules;
use crate::auth::settings::jwt::{IssuerSettings, IssuerVariables, KeySource, exact, preset_jwks};
use crate::auth::settings::values::{is_host, patterns};
use crate::config::env::{Environment, Reader};

/// `@clerk/backend`'s `DEFAULT_CLOCK_SKEW_IN_MS`.
const CLOCK_SKEW: Duration = Duration::from_secs(5);

const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

const VARIABLES: IssuerVariables = IssuerVariables {
    issuer: "CLERK_PUBLISHABLE_KEY",
    audience_fix: "Clerk session tokens carry no audience: check CLERK_AUTHORIZED_PARTIES instead",
    authorized_parties: "CLERK_AUTHORIZED_PARTIES",
    keys: "CLERK_PUBLISHABLE_KEY (its instance's JWKS), CLERK_JWT_KEY or JWT_JWKS_URL",
    algorithms: None,
};

const KEY_FIX: &str = "copy the publishable key of this Clerk instance (Dashboard → Configure → API keys: pk_test_… or pk_live_…; Next.js apps hold it in NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY), not the secret key (sk_…)";

pub(super) fn read(
    r: &mut Reader<'_>,
    environment: Environment,
    jwks_override: Option<String>,
) -> Option<IssuerSettings> {
    let publishable = r.get("CLERK_PUBLISHABLE_KEY");
    let jwt_key = r.get("CLERK_JWT_KEY");
    let parties = patterns(r, "CLERK_AUTHORIZED_PARTIES");
    let Some(publishable) = publishable else {
        r.error(
            "CLERK_PUBLISHABLE_KEY",
            "is not set, but CLERK_JWT_KEY or CLERK_AUTHORIZED_PARTIES is: Clerk's session tokens name their issuer (https://<Frontend API host>), which only the publishable key gives",
            KEY_FIX,
        );
        return None;
    };
    let frontend_api = match frontend_api(&publishable) {
        Ok(host) => host,
        Err(problem) => {
            r.error("CLERK_PUBLISHABLE_KEY", problem, KEY_FIX);
            return None;
        }
    };
    let issuer = format!("https://{frontend_api}");
    let keys = match (jwt_key, jwks_override) {
        (Some(_), Some(_)) => {
            r.error(
                "JWT_JWKS_URL",
                "is set beside CLERK_JWT_KEY: both would give the Clerk preset its keys",
                "keep one: CLERK_JWT_KEY verifies without any network call; JWT_JWKS_URL replaces the JWKS URL derived from CLERK_PUBLISHABLE_KEY",
            );
            return None;
        }
        (Some(pem), None) => match keys::from_pem(&pem_with_lines(&pem), Algorithm::RS256) {
            Ok(key) => KeySource::Static(vec![std::sync::Arc::new(key)]),
            Err(err) => {
                r.error(
                    "CLERK_JWT_KEY",
                    format!("is not Clerk's PEM public key: {err}"),
                    "copy the PEM public key from Clerk's Dashboard (Configure → API keys → JWT public key → PEM), or unset CLERK_JWT_KEY to fetch the instance's JWKS",
                );
                return None;
            }
        },
        (None, jwks_override) => preset_jwks(
            r,
            environment,
            format!("{issuer}/.well-known/jwks.json"),
            jwks_override,
        )?,
    };
    if parties.is_none() && environment != Environment::Development {
        r.warn(
            "CLERK_AUTHORIZED_PARTIES",
            "is not set: a session token of this Clerk instance is accepted whichever origin it was minted for",
            "set CLERK_AUTHORIZED_PARTIES to your frontends' origins (e.g. https://app.example.com), as authorizedParties in @clerk/backend: tokens minted for another origin (a leaked subdomain cookie, a forged cross-site request) are then refused",
        );
    }
    Some(IssuerSettings {
        label: identity::CLERK.to_owned(),
        issuer: exact(&issuer),
        audiences: PatternList::default(),
        authorized_parties: parties.unwrap_or_default(),
        keys,
        algorithms: ALGORITHMS.to_vec(),
        provider: Some(ProviderRules::Clerk),
        leeway: Some(CLOCK_SKEW),
        secret: None,
        variables: VARIABLES,
    })
}

/// The Frontend API host a publishable key encodes, as `@clerk/shared`'s
/// `parsePublishableKey` reads it: `pk_test_` or `pk_live_`, then base64 of
/// `<host>$`.
fn frontend_api(key: &str) -> Result<String, String> {
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or_else(|| {
            let kind = if key.starts_with("sk_") {
                "a secret key (sk_…), which must never be given to this API"
            } else {
                "not a publishable key"
            };
            format!("is {kind}: it does not start with pk_test_ or pk_live_")
        })?;
    let trimmed = encoded.trim_end_matches('=');
    let decoded = STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("has a part after pk_test_/pk_live_ that is not base64 text")?;
    let host = decoded
        .strip_suffix('$')
        .filter(|host| !host.contains('$'))
        .ok_or("decodes to something other than `<Frontend API host>$`")?;
    let host = host.to_ascii_lowercase();
    if !is_host(&host) {
        return Err(format!(
            "decodes to {host:?}, which is not a Frontend API host"
        ));
    }
    Ok(host)
}

/// A PEM pasted on one line (`-----BEGIN PUBLIC KEY-----MIIB…-----END PUBLIC
/// KEY-----`, as `@clerk/backend` accepts it) with its line breaks restored.
fn pem_with_lines(pem: &str) -> String {
    let pem = pem.trim();
    if pem.contains('\n') || pem.contains("\\n") {
        return pem.to_owned();
    }
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    match pem
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.strip_suffix(END))
    {
        Some(body) => format!("{BEGIN}\n{}\n{END}", body.trim()),
        None => pem.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::settings::presets::tests::settings;

    fn key_for(host: &str, live: bool) -> String {
        let prefix = if live { "pk_live_" } else { "pk_test_" };
        format!("{prefix}{}", STANDARD_NO_PAD.encode(format!("{host}$")))
    }

    #[test]
    fn the_publishable_key_gives_issuer_and_jwks() {
        assert_eq!(
            frontend_api(&key_for("clean-mole-12.clerk.accounts.dev", false)).unwrap(),
            "clean-mole-12.clerk.accounts.dev"
        );
        // Padded as Clerk's dashboard sometimes shows it.
        let padded = format!(
            "pk_live_{}",
            base64::engine::general_purpose::STANDARD.encode("clerk.example.com$")
        );
        assert_eq!(frontend_api(&padded).unwrap(), "clerk.example.com");
        let (auth, problems, warnings) = settings(
            &[("CLERK_PUBLISHABLE_KEY", &key_for("clerk.example.com", true))],
            Environment::Production,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            warnings[0].starts_with("CLERK_AUTHORIZED_PARTIES"),
            "{warnings:?}"
        );
        let issuer = &auth.issuers[0];
        assert_eq!(issuer.label, "clerk");
        assert!(issuer.issuer.matches("https://clerk.example.com"));
        assert!(!issuer.issuer.matches("https://clerk.example.com/"));
        assert!(
            matches!(&issuer.keys, KeySource::Jwks { url } if url == "https://clerk.example.com/.well-known/jwks.json")
        );
        assert_eq!(issuer.leeway, Some(CLOCK_SKEW));
    }

    #[test]
    fn bad_keys_say_what_they_are() {
        for (key, problem) in [
            ("sk_test_abc", "a secret key"),
            ("pk_test_!!!", "not base64"),
            (
                &key_for("clerk.example.com", true)[..12],
                "other than `<Frontend API host>$`",
            ),
            (
                &format!(
                    "pk_test_{}",
                    STANDARD_NO_PAD.encode("no-dollar.example.com")
                ),
                "`<Frontend API host>$`",
            ),
            (
                &format!("pk_test_{}", STANDARD_NO_PAD.encode("localhost$")),
                "not a Frontend API host",
            ),
        ] {
            let err = frontend_api(key).unwrap_err();
            assert!(err.contains(problem), "{key}: {err}");
        }
    }

    #[test]
    fn a_one_line_pem_gets_its_line_breaks_back() {
        assert_eq!(
            pem_with_lines("-----BEGIN PUBLIC KEY-----MIIB-----END PUBLIC KEY-----"),
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"
        );
        let kept = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----";
        assert_eq!(pem_with_lines(kept), kept);
    }

    #[test]
    fn an_explicit_leeway_wins_and_a_jwt_key_excludes_a_jwks_url() {
        let key = key_for("clerk.example.com", false);
        let (auth, problems, _) = settings(
            &[("CLERK_PUBLISHABLE_KEY", &key), ("JWT_LEEWAY_SECS", "10")],
            Environment::Development,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(auth.issuers[0].leeway, None);
        let (_, problems, _) = settings(
            &[
                ("CLERK_PUBLISHABLE_KEY", &key),
                (
                    "CLERK_JWT_KEY",
                    "-----BEGIN PUBLIC KEY-----MIIB-----END PUBLIC KEY-----",
                ),
                ("JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
            ],
            Environment::Development,
        );
        assert!(
            problems[0].starts_with("JWT_JWKS_URL: is set beside CLERK_JWT_KEY"),
            "{problems:?}"
        );
        let (_, problems, _) = settings(
            &[("CLERK_AUTHORIZED_PARTIES", "https://app.example.com")],
            Environment::Development,
        );
        assert!(
            problems[0].starts_with("CLERK_PUBLISHABLE_KEY: is not set"),
            "{problems:?}"
        );
    }
}

//! Supabase Auth's preset: users' access tokens, and nothing else signed by
//! the project.
//!
//! `SUPABASE_URL` gives the issuer, `<url>/auth/v1`, and the JWKS of the
//! project's asymmetric signing keys (RS256 or ES256) at
//! `<url>/auth/v1/.well-known/jwks.json`. Projects still on the legacy
//! shared secret sign HS256 tokens with `SUPABASE_JWT_SECRET`; that secret
//! verifies HS256 tokens naming this issuer only, never others (it is not
//! `JWT_SECRET`).
//!
//! Users' tokens carry `aud: "authenticated"`, the issuer's audience; the
//! project's `anon` and `service_role` API keys, JWTs signed with the same
//! legacy secret, are refused by the provider's rules
//! ([`crate::auth::providers::supabase`]).

use jsonwebtoken::Algorithm;

use crate::auth::identity;
use crate::auth::pattern::PatternList;
use crate::auth::providers::ProviderRules;
use crate::auth::providers::supabase::USER_AUDIENCE;
use crate::auth::settings::jwt::{IssuerSettings, IssuerVariables, exact, preset_jwks};
use crate::auth::settings::values::{key_url, origin};
use crate::config::env::{Environment, Reader};

const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// `supabase.auth.getClaims()` refuses a token once `exp <= now`, with no
/// clock skew (as Supabase Auth's own server does).
const CLOCK_SKEW: std::time::Duration = std::time::Duration::ZERO;

const VARIABLES: IssuerVariables = IssuerVariables {
    issuer: "SUPABASE_URL",
    audience_fix: "Supabase puts aud `authenticated` in its users' access tokens: send the signed-in user's session.access_token",
    authorized_parties: "nothing: the Supabase preset does not check azp",
    keys: "SUPABASE_URL (its project's JWKS) or JWT_JWKS_URL",
    algorithms: None,
};

const URL_FIX: &str = "set SUPABASE_URL to the project URL, e.g. https://<project-ref>.supabase.co (Dashboard → Project Settings → Data API), or http://127.0.0.1:54321 for `supabase start`";

pub(super) fn read(
    r: &mut Reader<'_>,
    environment: Environment,
    jwks_override: Option<String>,
) -> Option<IssuerSettings> {
    let url = r.get("SUPABASE_URL");
    let secret = r.secret("SUPABASE_JWT_SECRET");
    let Some(url) = url else {
        r.error(
            "SUPABASE_URL",
            "is not set, but SUPABASE_JWT_SECRET is: tokens are accepted only from their issuer, <SUPABASE_URL>/auth/v1",
            URL_FIX,
        );
        return None;
    };
    if origin(&url).is_none() {
        r.error("SUPABASE_URL", "is not an absolute http(s) URL", URL_FIX);
        return None;
    }
    if !key_url(r, "SUPABASE_URL", &url, environment) {
        return None;
    }
    // People paste the Auth URL (`…/auth/v1`) as often as the project URL.
    let base = url
        .trim_end_matches('/')
        .trim_end_matches("/auth/v1")
        .trim_end_matches('/');
    let issuer = format!("{base}/auth/v1");
    let keys = preset_jwks(
        r,
        environment,
        format!("{issuer}/.well-known/jwks.json"),
        jwks_override,
    )?;
    Some(IssuerSettings {
        label: identity::SUPABASE.to_owned(),
        issuer: exact(&issuer),
        audiences: exact(USER_AUDIENCE),
        authorized_parties: PatternList::default(),
        keys,
        algorithms: ALGORITHMS.to_vec(),
        provider: Some(ProviderRules::Supabase),
        leeway: Some(CLOCK_SKEW),
        secret,
        variables: VARIABLES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::settings::KeySource;
    use crate::auth::settings::presets::tests::settings;

    #[test]
    fn the_url_gives_issuer_audience_and_jwks() {
        for url in [
            "https://abcdefghijklmnopqrst.supabase.co",
            "https://abcdefghijklmnopqrst.supabase.co/",
            "https://abcdefghijklmnopqrst.supabase.co/auth/v1",
        ] {
            let (auth, problems, _) = settings(&[("SUPABASE_URL", url)], Environment::Production);
            assert!(problems.is_empty(), "{problems:?}");
            assert_eq!(
                auth.issuers[0].leeway,
                Some(std::time::Duration::ZERO),
                "no skew, as getClaims()"
            );
            let issuer = &auth.issuers[0];
            assert!(
                issuer
                    .issuer
                    .matches("https://abcdefghijklmnopqrst.supabase.co/auth/v1")
            );
            assert!(issuer.audiences.matches("authenticated"));
            assert!(
                matches!(&issuer.keys, KeySource::Jwks { url } if url == "https://abcdefghijklmnopqrst.supabase.co/auth/v1/.well-known/jwks.json")
            );
            assert!(issuer.secret.is_none());
        }
    }

    #[test]
    fn the_legacy_secret_needs_the_url_and_plain_http_only_on_loopback() {
        let secret = "super-secret-jwt-token-with-at-least-32-characters-long";
        let (_, problems, _) =
            settings(&[("SUPABASE_JWT_SECRET", secret)], Environment::Development);
        assert!(
            problems[0].starts_with("SUPABASE_URL: is not set"),
            "{problems:?}"
        );
        assert!(!problems[0].contains(secret));
        let (auth, problems, _) = settings(
            &[
                ("SUPABASE_URL", "http://127.0.0.1:54321"),
                ("SUPABASE_JWT_SECRET", secret),
            ],
            Environment::Production,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(auth.issuers[0].secret.is_some());
        let (_, problems, _) = settings(
            &[("SUPABASE_URL", "http://db.example.com")],
            Environment::Production,
        );
        assert!(
            problems[0].starts_with("SUPABASE_URL: uses http://"),
            "{problems:?}"
        );
    }
}

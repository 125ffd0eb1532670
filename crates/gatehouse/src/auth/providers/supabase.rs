//! Supabase Auth: users' access tokens, and nothing else signed by the
//! project.
//!
//! `SUPABASE_URL` gives the issuer, `<url>/auth/v1`, and the JWKS of the
//! project's asymmetric signing keys (RS256 or ES256) at
//! `<url>/auth/v1/.well-known/jwks.json`. Projects still on the legacy
//! shared secret sign HS256 tokens with `SUPABASE_JWT_SECRET`; that secret
//! verifies HS256 tokens naming this issuer only, never others (it is not
//! `JWT_SECRET`).
//!
//! The trap: the project's public `anon` key and its `service_role` key are
//! JWTs signed with the same legacy secret (`iss: "supabase"`, `role`, `ref`,
//! no `sub`, a ten-year `exp`). Neither is a user: a user's token carries
//! `aud: "authenticated"` (the issuer's audience), and a token whose `role`
//! is `anon` or `service_role` is refused as what it is, whatever else it
//! says.

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::{ProviderRules, jwks};
use crate::auth::identity;
use crate::auth::jwt::claim_checks::malformed;
use crate::auth::jwt::claims::Claims;
use crate::auth::pattern::PatternList;
use crate::auth::refusal::Refusal;
use crate::auth::settings::{IssuerSettings, IssuerVariables, exact, key_url, origin};
use crate::config::env::{Environment, Reader};
use crate::reason::Reason;

/// The audience of users' access tokens (GoTrue's `JWT_AUD`).
pub const USER_AUDIENCE: &str = "authenticated";

/// The roles of the project's API keys.
const API_KEY_ROLES: [&str; 2] = ["anon", "service_role"];

const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

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
    let keys = jwks(
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
        leeway: None,
        secret,
        variables: VARIABLES,
    })
}

/// A token of this project's issuer, signature verified: an API key's role
/// is never a user.
pub(super) fn check(claims: &Claims<'_>) -> Result<(), Refusal> {
    match claims.string("role") {
        Ok(Some(role)) if API_KEY_ROLES.contains(&role.as_ref()) => Err(api_key(&role)),
        Ok(_) => Ok(()),
        Err(_) => Err(malformed("the `role` claim is not a string")),
    }
}

/// The project's `anon` or `service_role` key, recognised by its shape
/// (`iss: "supabase"` or `"supabase-demo"` for `supabase start`, or a `ref`
/// claim, with an API key's role) before any signature is checked: it is
/// refused whatever its signature.
pub(super) fn recognise_api_key(claims: &Claims<'_>) -> Option<Refusal> {
    let role = claims.string("role").ok().flatten()?;
    if !API_KEY_ROLES.contains(&role.as_ref()) {
        return None;
    }
    let iss = claims.string("iss").ok().flatten();
    let supabase_issued = matches!(iss.as_deref(), Some("supabase" | "supabase-demo"))
        || claims.string("ref").ok().flatten().is_some();
    supabase_issued.then(|| api_key(&role))
}

fn api_key(role: &str) -> Refusal {
    let hint = if role == "service_role" {
        "the service_role key bypasses Row Level Security and must never leave your servers: rotate it if a client sent it, and send the signed-in user's access token (supabase.auth.getSession() → session.access_token) in Authorization: Bearer"
    } else {
        "the anon key only says which project a request is for: send the signed-in user's access token (supabase.auth.getSession() → session.access_token) in Authorization: Bearer, not the key supabase-js was created with"
    };
    Refusal::revealing(
        Reason::TokenTypeMismatch,
        format!(
            "this is the Supabase project's `{role}` API key (role {role}), not a user's access token"
        ),
        hint,
    )
}

/// `is_anonymous`: Supabase's anonymous sign-ins are users too, and apps
/// tell them apart by it.
pub(super) fn principal_claims(claims: &Claims<'_>, out: &mut Map<String, Value>) {
    if let Some(anonymous @ Value::Bool(_)) = claims.value("is_anonymous") {
        out.insert("is_anonymous".to_owned(), anonymous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::providers::tests::settings;
    use crate::auth::settings::KeySource;

    #[test]
    fn the_url_gives_issuer_audience_and_jwks() {
        for url in [
            "https://abcdefghijklmnopqrst.supabase.co",
            "https://abcdefghijklmnopqrst.supabase.co/",
            "https://abcdefghijklmnopqrst.supabase.co/auth/v1",
        ] {
            let (auth, problems, _) = settings(&[("SUPABASE_URL", url)], Environment::Production);
            assert!(problems.is_empty(), "{problems:?}");
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

    #[test]
    fn api_keys_are_recognised_by_shape_and_role() {
        let anon = br#"{"iss":"supabase","ref":"abcdefghijklmnopqrst","role":"anon","iat":1700000000,"exp":2015576000}"#;
        let claims = Claims::parse(anon).unwrap();
        let refusal = recognise_api_key(&claims).unwrap();
        assert_eq!(refusal.reason, Reason::TokenTypeMismatch);
        assert!(refusal.texts(true).0.contains("`anon` API key"));
        let demo = br#"{"iss":"supabase-demo","role":"service_role","exp":1983812996}"#;
        let refusal = recognise_api_key(&Claims::parse(demo).unwrap()).unwrap();
        assert!(refusal.texts(true).1.contains("Row Level Security"));
        let user = br#"{"iss":"https://x.supabase.co/auth/v1","role":"authenticated","sub":"u"}"#;
        let claims = Claims::parse(user).unwrap();
        assert!(recognise_api_key(&claims).is_none());
        assert!(check(&claims).is_ok());
        let other = br#"{"iss":"https://other.example","role":"anon"}"#;
        assert!(recognise_api_key(&Claims::parse(other).unwrap()).is_none());
    }
}

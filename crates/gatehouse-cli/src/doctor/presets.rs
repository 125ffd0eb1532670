//! The provider presets a configuration turns on, each with what it derived
//! from its provider's variables, and the providers' traps: an Auth0 issuer
//! without its trailing slash, a Cognito pool behind `JWT_AUDIENCE` (its
//! access tokens have no `aud`), Supabase's legacy secret beside published
//! signing keys (or missing while the project has none), and a Clerk
//! development key in production. A Cognito client id left out is refused by
//! the configuration itself, and shown with the other configuration problems.

use super::report::Report;
use crate::level::Level;
use gatehouse::auth::jwt::jwks::{FetchFailure, JwksError};
use gatehouse::auth::providers::{Provider, ProviderRules};
use gatehouse::auth::settings::{IssuerSettings, KeySource};
use gatehouse::config::{Config, Env, Environment};
use gatehouse::outbound::display_url;

/// One line per active preset, then the traps the configuration sets.
pub(super) fn presets(config: &Config, env: &Env, report: &mut Report) {
    for issuer in &config.auth.issuers {
        match &issuer.provider {
            Some(rules) => {
                report.pass("preset", describe(issuer, rules));
                preset_traps(rules.provider(), config, env, report);
            }
            None => generic_traps(issuer, report),
        }
    }
}

/// `Auth0 (auth0, from AUTH0_DOMAIN): iss …; aud …; keys from …; RS256, PS256`.
fn describe(issuer: &IssuerSettings, rules: &ProviderRules) -> String {
    let provider = rules.provider();
    let mut parts = vec![format!("iss {}", issuer.issuer.describe())];
    if !issuer.audiences.is_empty() {
        parts.push(format!("aud {}", issuer.audiences.describe()));
    }
    match rules {
        ProviderRules::Cognito(cognito) => parts.push(format!(
            "token_use {}, app client {}",
            cognito.token_use.as_str(),
            cognito.client_ids.join(", ")
        )),
        ProviderRules::Clerk if issuer.authorized_parties.is_empty() => {
            parts.push("azp not checked (CLERK_AUTHORIZED_PARTIES is not set)".to_owned());
        }
        _ if !issuer.authorized_parties.is_empty() => {
            parts.push(format!("azp {}", issuer.authorized_parties.describe()));
        }
        _ => {}
    }
    parts.push(match &issuer.keys {
        KeySource::Jwks { url } => format!("keys from {}", display_url(url)),
        KeySource::Static(_) => "keys pinned (CLERK_JWT_KEY, no network)".to_owned(),
    });
    let algorithms: Vec<String> = issuer.algorithms.iter().map(|a| format!("{a:?}")).collect();
    let mut algorithms = algorithms.join(", ");
    if let Some((variable, _)) = rules.secret_source()
        && issuer.secret.is_some()
    {
        algorithms.push_str(&format!(", HS256 with {variable}"));
    }
    parts.push(algorithms);
    if let Some(leeway) = issuer.leeway {
        parts.push(format!("clock skew {} s", leeway.as_secs()));
    }
    format!(
        "{} (`{}`, from {}): {}",
        provider.title(),
        issuer.label,
        provider.main_variable(),
        parts.join("; ")
    )
}

fn preset_traps(provider: Provider, config: &Config, env: &Env, report: &mut Report) {
    if provider == Provider::Clerk
        && config.environment == Environment::Production
        && env
            .get("CLERK_PUBLISHABLE_KEY")
            .is_some_and(|key| key.starts_with("pk_test_"))
    {
        report.push(
            "preset",
            Level::Warn,
            "CLERK_PUBLISHABLE_KEY is a development instance's key (pk_test_) in production: tokens of the production instance are refused",
            Some("set the production instance's publishable key (pk_live_…) in the production environment"),
        );
    }
}

/// An issuer set with `JWT_*` or `JWT_TRUSTED_ISSUERS` that is a
/// provider's, configured into one of its traps.
fn generic_traps(issuer: &IssuerSettings, report: &mut Report) {
    for pattern in issuer.issuer.0.iter().filter(|p| p.is_exact()) {
        let iss = pattern.as_str();
        let host = host_of(iss);
        if host.ends_with(".auth0.com") && !iss.ends_with('/') {
            report.push(
                "preset",
                Level::Fail,
                format!(
                    "issuer `{}` expects {iss}, without the trailing slash Auth0 puts in `iss` ({iss}/): every Auth0 token is refused issuer_mismatch",
                    issuer.label
                ),
                Some(format!(
                    "set AUTH0_DOMAIN={host} and AUTH0_AUDIENCE (the Auth0 preset adds the slash) instead, or write the issuer as {iss}/ exactly"
                )),
            );
        }
        if host.starts_with("cognito-idp.") && !issuer.audiences.is_empty() {
            report.push(
                "preset",
                Level::Warn,
                format!(
                    "issuer `{}` is a Cognito user pool checked by audience: Cognito access tokens have no `aud` (their app client is in `client_id`), so they are all refused",
                    issuer.label
                ),
                Some("use the Cognito preset: COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID (with COGNITO_TOKEN_USE=id for ID tokens), which checks client_id and token_use as aws-jwt-verify does"),
            );
        }
    }
}

/// What the doctor says about a preset's JWKS when its provider gives the
/// result another meaning than a plain JWKS would have; `replaces` when the
/// plain finding must not be reported as well. Supabase: an empty JWKS is
/// what a project still on its legacy secret publishes.
pub(super) struct JwksFinding {
    pub level: Level,
    pub message: String,
    pub fix: Option<String>,
    pub replaces: bool,
}

pub(super) fn jwks_finding(
    issuer: &IssuerSettings,
    url: &str,
    result: Result<usize, &JwksError>,
) -> Option<JwksFinding> {
    let Some(ProviderRules::Supabase) = &issuer.provider else {
        return None;
    };
    let empty = matches!(
        result,
        Err(JwksError::Unavailable {
            reason: FetchFailure::NoUsableKeys { skipped },
            ..
        }) if skipped.is_empty()
    );
    let url = display_url(url);
    match (issuer.secret.is_some(), result, empty) {
        (true, Ok(count), _) => Some(JwksFinding {
            level: Level::Warn,
            message: format!(
                "{url} (supabase) publishes {count} signing key(s) and SUPABASE_JWT_SECRET is set: the project has moved to asymmetric JWT signing keys, and tokens signed with the legacy secret are still accepted"
            ),
            fix: Some("once the legacy JWT secret is revoked in Supabase (Project Settings → JWT Keys) and no HS256 token is in use, unset SUPABASE_JWT_SECRET: until then whoever holds it can mint user tokens".to_owned()),
            replaces: false,
        }),
        (true, Err(_), true) => Some(JwksFinding {
            level: Level::Pass,
            message: format!(
                "{url} (supabase) publishes no asymmetric signing key: the project's tokens are HS256 with its legacy secret, verified with SUPABASE_JWT_SECRET"
            ),
            fix: None,
            replaces: true,
        }),
        (false, Err(_), true) => Some(JwksFinding {
            level: Level::Fail,
            message: format!(
                "{url} (supabase) publishes no signing key: the project still signs its tokens (HS256) with the legacy JWT secret, and SUPABASE_JWT_SECRET is not set, so every one is refused"
            ),
            fix: Some("set SUPABASE_JWT_SECRET to the project's legacy JWT secret (Project Settings → JWT Keys → Legacy JWT Secret), or move the project to JWT signing keys".to_owned()),
            replaces: true,
        }),
        _ => None,
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#', ':']).next().unwrap_or(rest)
}

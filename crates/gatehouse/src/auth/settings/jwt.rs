//! JWT issuers (Better Auth's plugin, `JWT_JWKS_URL`/`JWT_PUBLIC_KEYS`,
//! `JWT_TRUSTED_ISSUERS`) and shared secrets (`JWT_SECRET`).

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::values::*;
use crate::auth::identity;
use crate::auth::jwt::keys::{self, VerifyingKey};
use crate::auth::pattern::{Pattern, PatternList};
use crate::auth::providers::ProviderRules;
use crate::config::env::{Environment, Reader};
use crate::secret::Secret;

/// Asymmetric algorithms accepted when an issuer does not restrict them. The
/// key still pins the algorithm: a token can never choose it.
pub const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

pub const SYMMETRIC: &[Algorithm] = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// One trusted asymmetric issuer.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// `better-auth`, `jwt`, a preset's name (`clerk`, ...) or the JSON
    /// entry's `name`: the identity namespace of its users
    /// ([`crate::auth::identity`]), and for logs.
    pub label: String,
    pub issuer: PatternList,
    /// Empty only when `authorized_parties` is set (Clerk-style tokens
    /// carry no `aud` but an `azp`), or when a preset's rules bind the
    /// token to this API another way (Cognito's `client_id`).
    pub audiences: PatternList,
    pub authorized_parties: PatternList,
    pub keys: KeySource,
    pub algorithms: Vec<Algorithm>,
    /// A provider preset's own rules ([`ProviderRules`]); `None` for plain
    /// JWT rules.
    pub provider: Option<ProviderRules>,
    /// This issuer's clock leeway when it differs from `JWT_LEEWAY_SECS`
    /// (Clerk's 5 s, as `@clerk/backend` allows).
    pub leeway: Option<Duration>,
    /// An HMAC secret for this issuer's HS256 tokens only (Supabase's legacy
    /// `SUPABASE_JWT_SECRET`): never mixed with `JWT_SECRET`.
    pub secret: Option<Secret>,
    /// The variables that set this issuer, named by its refusals' hints.
    pub variables: IssuerVariables,
}

/// The variables that set an issuer's values: a refusal's hint names the one
/// to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerVariables {
    /// Where the accepted `iss` comes from.
    pub issuer: &'static str,
    /// What to do when the audience does not match: a whole sentence, since
    /// presets fix their audience rather than read it from a variable.
    pub audience_fix: &'static str,
    /// Where the accepted `azp` values come from.
    pub authorized_parties: &'static str,
    /// Where the keys come from.
    pub keys: &'static str,
    /// Where the allowed algorithms come from; `None` when a preset fixes
    /// them to those its provider signs with.
    pub algorithms: Option<&'static str>,
}

impl IssuerVariables {
    /// `JWT_JWKS_URL`/`JWT_PUBLIC_KEYS` with `JWT_ISSUER` and `JWT_AUDIENCE`.
    pub const GENERIC: IssuerVariables = IssuerVariables {
        issuer: "JWT_ISSUER",
        audience_fix: "set JWT_AUDIENCE to this environment's value, or have the issuer mint tokens for this API",
        authorized_parties: "JWT_AUTHORIZED_PARTIES",
        keys: "JWT_JWKS_URL / JWT_PUBLIC_KEYS",
        algorithms: Some("JWT_ALGORITHMS"),
    };
    /// `BETTER_AUTH_URL`, refined by `JWT_*`.
    pub const BETTER_AUTH: IssuerVariables = IssuerVariables {
        issuer: "JWT_ISSUER or BETTER_AUTH_URL",
        audience_fix: "set JWT_AUDIENCE (or BETTER_AUTH_URL) to this environment's value, or have the issuer mint tokens for this API",
        authorized_parties: "JWT_AUTHORIZED_PARTIES",
        keys: "JWT_JWKS_URL / BETTER_AUTH_URL",
        algorithms: Some("JWT_ALGORITHMS"),
    };
    /// An entry of `JWT_TRUSTED_ISSUERS`.
    pub const TRUSTED_ISSUERS: IssuerVariables = IssuerVariables {
        issuer: "the issuer of its JWT_TRUSTED_ISSUERS entry",
        audience_fix: "fix the audiences of its JWT_TRUSTED_ISSUERS entry, or have the issuer mint tokens for this API",
        authorized_parties: "the authorized_parties of its JWT_TRUSTED_ISSUERS entry",
        keys: "the jwks_url or public_keys of its JWT_TRUSTED_ISSUERS entry",
        algorithms: Some("the algorithms of its JWT_TRUSTED_ISSUERS entry"),
    };
}

#[derive(Debug, Clone)]
pub enum KeySource {
    Jwks { url: String },
    Static(Vec<std::sync::Arc<VerifyingKey>>),
}

#[derive(Debug, Clone)]
pub struct SharedSecretSettings {
    pub current: Secret,
    pub previous: Option<Secret>,
    /// Checked when set; shared-secret setups often have no issuer.
    pub issuer: Option<PatternList>,
    pub audiences: Option<PatternList>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenVersion {
    pub server: u64,
}

/// The claim holding a token's version.
pub const TOKEN_VERSION_CLAIM: &str = "token_version";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssuerJson {
    name: Option<String>,
    issuer: String,
    jwks_url: Option<String>,
    public_keys: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    authorized_parties: Vec<String>,
    #[serde(default)]
    algorithms: Vec<String>,
}

pub(super) fn algorithms(
    r: &mut Reader<'_>,
    variable: &'static str,
    raw: Option<String>,
) -> Vec<Algorithm> {
    let Some(raw) = raw else {
        return ASYMMETRIC.to_vec();
    };
    let mut list = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.parse::<Algorithm>() {
            Ok(alg) if ASYMMETRIC.contains(&alg) => list.push(alg),
            Ok(_) => r.error(
                variable,
                format!("lists {name}, a shared-secret algorithm, for a public-key issuer"),
                "HS tokens are verified with JWT_SECRET only; list RS256, PS256, ES256, ES384 or EdDSA here",
            ),
            Err(_) => r.error(
                variable,
                format!("lists \"{name}\", which is not an algorithm Gatehouse verifies"),
                "use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA",
            ),
        }
    }
    list
}

pub(super) fn read_better_auth(
    r: &mut Reader<'_>,
    environment: Environment,
    issuers: &mut Vec<IssuerSettings>,
) {
    let Some(url) = r.get("BETTER_AUTH_URL") else {
        return;
    };
    if !key_url(r, "BETTER_AUTH_URL", &url, environment) {
        return;
    }
    let Some(origin) = origin(&url) else {
        return;
    };
    // BETTER_AUTH_URL is the app's base URL; people sometimes include the
    // auth base path, which must not be doubled.
    let base = url
        .trim_end_matches('/')
        .trim_end_matches("/api/auth")
        .to_owned();
    let jwks_url = r
        .get("JWT_JWKS_URL")
        .unwrap_or_else(|| format!("{base}/api/auth/jwks"));
    if !key_url(r, "JWT_JWKS_URL", &jwks_url, environment) {
        return;
    }
    let issuer = patterns(r, "JWT_ISSUER").unwrap_or_else(|| exact(&origin));
    let audiences = patterns(r, "JWT_AUDIENCE").unwrap_or_else(|| exact(&origin));
    let authorized_parties = patterns(r, "JWT_AUTHORIZED_PARTIES").unwrap_or_default();
    let raw_algorithms = r.get("JWT_ALGORITHMS");
    let algorithms = algorithms(r, "JWT_ALGORITHMS", raw_algorithms);
    issuers.push(IssuerSettings {
        label: identity::BETTER_AUTH.to_owned(),
        issuer,
        audiences,
        authorized_parties,
        keys: KeySource::Jwks { url: jwks_url },
        algorithms,
        provider: None,
        leeway: None,
        secret: None,
        variables: IssuerVariables::BETTER_AUTH,
    });
}

/// A preset's keys: its provider's JWKS at `derived` (https by
/// construction), or `JWT_JWKS_URL` when it replaces it.
pub(super) fn preset_jwks(
    r: &mut Reader<'_>,
    environment: Environment,
    derived: String,
    jwks_override: Option<String>,
) -> Option<KeySource> {
    match jwks_override {
        Some(url) => {
            key_url(r, "JWT_JWKS_URL", &url, environment).then_some(KeySource::Jwks { url })
        }
        None => Some(KeySource::Jwks { url: derived }),
    }
}

pub(super) fn exact(value: &str) -> PatternList {
    PatternList(Pattern::parse(value).into_iter().collect())
}

pub(super) fn read_generic_issuer(
    r: &mut Reader<'_>,
    environment: Environment,
    issuers: &mut Vec<IssuerSettings>,
) {
    if r.get("BETTER_AUTH_URL").is_some() {
        return; // JWT_* refine the Better Auth preset instead.
    }
    let jwks_url = r.get("JWT_JWKS_URL");
    let public_keys = r.get("JWT_PUBLIC_KEYS");
    let keys = match (jwks_url, public_keys) {
        (None, None) => {
            if r.get("JWT_ISSUER").is_some() && r.get("JWT_SECRET").is_none() {
                r.error(
                    "JWT_ISSUER",
                    "is set but no keys are: there is nothing to verify tokens with",
                    "set JWT_JWKS_URL (or JWT_PUBLIC_KEYS) for this issuer",
                );
            }
            return;
        }
        (Some(_), Some(_)) => {
            r.error(
                "JWT_PUBLIC_KEYS",
                "is set together with JWT_JWKS_URL",
                "keep one: the JWKS URL (rotates by itself) or inline keys",
            );
            return;
        }
        (Some(url), None) => {
            if !key_url(r, "JWT_JWKS_URL", &url, environment) {
                return;
            }
            KeySource::Jwks { url }
        }
        (None, Some(raw)) => match static_keys(&raw) {
            Ok(keys) => KeySource::Static(keys),
            Err(problem) => {
                r.error("JWT_PUBLIC_KEYS", problem, "set JWT_PUBLIC_KEYS to a JWKS document ({\"keys\":[...]}); a PEM public key does not say its algorithm, so give PEM keys in JWT_TRUSTED_ISSUERS with public_keys and algorithms");
                return;
            }
        },
    };
    let Some(issuer) = patterns(r, "JWT_ISSUER") else {
        r.error(
            "JWT_ISSUER",
            "is not set, but JWT_JWKS_URL/JWT_PUBLIC_KEYS is: tokens must name the issuer whose keys verify them",
            "set JWT_ISSUER to the provider's issuer (the `iss` claim its tokens carry), e.g. https://clerk.example.com",
        );
        return;
    };
    let audiences = patterns(r, "JWT_AUDIENCE").unwrap_or_default();
    let authorized_parties = patterns(r, "JWT_AUTHORIZED_PARTIES").unwrap_or_default();
    if audiences.is_empty() && authorized_parties.is_empty() {
        r.error(
            "JWT_AUDIENCE",
            "is not set: any token from this issuer, minted for any application, would be accepted",
            "set JWT_AUDIENCE to this API's audience (or JWT_AUTHORIZED_PARTIES for Clerk-style `azp` tokens)",
        );
        return;
    }
    let raw_algorithms = r.get("JWT_ALGORITHMS");
    let algorithms = algorithms(r, "JWT_ALGORITHMS", raw_algorithms);
    issuers.push(IssuerSettings {
        label: identity::JWT.to_owned(),
        issuer,
        audiences,
        authorized_parties,
        keys,
        algorithms,
        provider: None,
        leeway: None,
        secret: None,
        variables: IssuerVariables::GENERIC,
    });
}

pub(super) fn static_keys(raw: &str) -> Result<Vec<std::sync::Arc<VerifyingKey>>, String> {
    let raw = raw.trim();
    if raw.starts_with('{') {
        let parsed = keys::from_jwks(raw.as_bytes()).map_err(|err| err.to_string())?;
        Ok(parsed.keys.into_iter().map(std::sync::Arc::new).collect())
    } else {
        Err("PEM keys need their algorithm: give them as a JWKS document, or use JWT_TRUSTED_ISSUERS with public_keys and algorithms".to_owned())
    }
}

pub(super) fn read_issuer_json(
    r: &mut Reader<'_>,
    environment: Environment,
    issuers: &mut Vec<IssuerSettings>,
) {
    let Some(raw) = r.get("JWT_TRUSTED_ISSUERS") else {
        return;
    };
    let entries: Vec<IssuerJson> = match serde_json::from_str(&raw) {
        Ok(entries) => entries,
        Err(err) => {
            r.error(
                "JWT_TRUSTED_ISSUERS",
                format!("is not a JSON array of issuers: {err}"),
                r#"set it to [{"issuer":"https://…","jwks_url":"https://…/jwks.json","audiences":["…"]}]"#,
            );
            return;
        }
    };
    for (index, entry) in entries.into_iter().enumerate() {
        // The name is the issuer's identity namespace: stored task owners,
        // revocations and sessions are keyed by it, so it must be given, be
        // stable (never the position in the list), and be its own.
        let label = match entry.name.clone() {
            Some(name)
                if identity::is_valid_namespace(&name)
                    && !identity::RESERVED.contains(&name.as_str())
                    && !issuers.iter().any(|issuer| issuer.label == name) =>
            {
                name
            }
            other => {
                let problem = match &other {
                    None => format!("entry {index} has no name"),
                    Some(name) if !identity::is_valid_namespace(name) => format!(
                        "entry {index} is named {name:?}, not 1 to 63 characters of a-z, 0-9, - and _"
                    ),
                    Some(name) if identity::RESERVED.contains(&name.as_str()) => {
                        format!("entry {index} is named {name:?}, a name Gatehouse uses itself")
                    }
                    Some(name) => format!("entry {index} is named {name:?} like an earlier issuer"),
                };
                r.error(
                    "JWT_TRUSTED_ISSUERS",
                    problem,
                    format!("give each entry its own stable \"name\" (e.g. \"auth0-prod\"), never one of {}: it keeps one issuer's users apart from another's (their `sub` values may collide), so never rename it once users have data", identity::RESERVED.join(", ")),
                );
                continue;
            }
        };
        let fail = |r: &mut Reader<'_>, problem: String| {
            r.error("JWT_TRUSTED_ISSUERS", format!("entry {label}: {problem}"), "fix that entry; each needs issuer, jwks_url or public_keys, and audiences or authorized_parties");
        };
        let issuer = match PatternList::parse(&entry.issuer) {
            Ok(list) if !list.is_empty() => list,
            Ok(_) => return fail(r, "issuer is empty".into()),
            Err(problem) => return fail(r, format!("issuer {}", problem.0)),
        };
        let to_list = |values: &[String]| PatternList::parse(&values.join(","));
        let (audiences, authorized_parties) = match (
            to_list(&entry.audiences),
            to_list(&entry.authorized_parties),
        ) {
            (Ok(a), Ok(p)) => (a, p),
            (Err(problem), _) | (_, Err(problem)) => return fail(r, problem.0),
        };
        if audiences.is_empty() && authorized_parties.is_empty() {
            fail(r, "has neither audiences nor authorized_parties, so tokens for any application would pass".into());
            continue;
        }
        let algorithms = algorithms(
            r,
            "JWT_TRUSTED_ISSUERS",
            (!entry.algorithms.is_empty()).then(|| entry.algorithms.join(",")),
        );
        let keys = match (entry.jwks_url, entry.public_keys) {
            (Some(url), None) => {
                if !key_url(r, "JWT_TRUSTED_ISSUERS", &url, environment) {
                    continue;
                }
                KeySource::Jwks { url }
            }
            (None, Some(raw)) if raw.trim_start().starts_with('{') => match static_keys(&raw) {
                Ok(keys) => KeySource::Static(keys),
                Err(problem) => {
                    fail(r, problem);
                    continue;
                }
            },
            (None, Some(pem)) => {
                let [alg] = algorithms.as_slice() else {
                    fail(
                        r,
                        "a PEM public key needs exactly one algorithm in algorithms".into(),
                    );
                    continue;
                };
                match keys::from_pem(&pem, *alg) {
                    Ok(key) => KeySource::Static(vec![std::sync::Arc::new(key)]),
                    Err(err) => {
                        fail(r, err.to_string());
                        continue;
                    }
                }
            }
            _ => {
                fail(r, "needs exactly one of jwks_url and public_keys".into());
                continue;
            }
        };
        issuers.push(IssuerSettings {
            label,
            issuer,
            audiences,
            authorized_parties,
            keys,
            algorithms,
            provider: None,
            leeway: None,
            secret: None,
            variables: IssuerVariables::TRUSTED_ISSUERS,
        });
    }
}

pub(super) fn read_shared_secret(
    r: &mut Reader<'_>,
    issuers: &[IssuerSettings],
) -> Option<SharedSecretSettings> {
    let current = r.secret("JWT_SECRET");
    let previous = r.secret("JWT_SECRET_PREVIOUS");
    let Some(current) = current else {
        if previous.is_some() && r.get("JWT_SECRET").is_none() {
            r.error(
                "JWT_SECRET_PREVIOUS",
                "is set but JWT_SECRET is not",
                "set JWT_SECRET to the current secret; JWT_SECRET_PREVIOUS only adds the one before it",
            );
        }
        return None;
    };
    if previous.as_ref() == Some(&current) {
        r.warn(
            "JWT_SECRET_PREVIOUS",
            "equals JWT_SECRET, so it does nothing",
            "set JWT_SECRET_PREVIOUS to the secret before the rotation, or unset it",
        );
    }
    // With no public-key issuer, JWT_ISSUER/JWT_AUDIENCE describe the
    // shared-secret tokens; otherwise they belong to that issuer.
    let (issuer, audiences) = if issuers.is_empty() {
        (patterns(r, "JWT_ISSUER"), patterns(r, "JWT_AUDIENCE"))
    } else {
        (
            patterns(r, "JWT_SECRET_ISSUER"),
            patterns(r, "JWT_SECRET_AUDIENCE"),
        )
    };
    if issuer.is_none() && audiences.is_none() {
        r.warn(
            "JWT_SECRET",
            "is set without an issuer or audience: any token signed with the secret is accepted, whoever minted it for whatever purpose",
            "set JWT_ISSUER and/or JWT_AUDIENCE (JWT_SECRET_ISSUER/JWT_SECRET_AUDIENCE when a public-key issuer is also configured)",
        );
    }
    Some(SharedSecretSettings {
        current,
        previous,
        issuer,
        audiences,
    })
}

//! Authentication settings, read from the environment at cold start.
//!
//! Three ways to trust asymmetric tokens, combinable:
//! - `BETTER_AUTH_URL`: Better Auth's JWT plugin. JWKS at
//!   `<url>/api/auth/jwks`; issuer and audience default to the URL's origin.
//! - `JWT_JWKS_URL` (or inline `JWT_PUBLIC_KEYS`) with `JWT_ISSUER` and
//!   `JWT_AUDIENCE`: any other provider (Clerk, Auth0, Supabase, Cognito...).
//! - `JWT_TRUSTED_ISSUERS`: a JSON array for several issuers at once.
//!
//! And shared-secret (HS256/384/512) tokens with `JWT_SECRET`, plus
//! `JWT_SECRET_PREVIOUS` during a rotation.
//!
//! Opaque credentials:
//! - Better Auth sessions: `BETTER_AUTH_SECRET` (or `BETTER_AUTH_SECRETS`)
//!   with `DATABASE_URL` on Better Auth's database, or `AUTH_SERVER_URL`
//!   to ask the auth server;
//! - Auth.js session cookies: `AUTH_SECRET` (or `NEXTAUTH_SECRET`);
//! - API keys (`gatehouse api-keys create`), whenever `DATABASE_URL` is set.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::auth::identity;
use crate::auth::keys::{self, VerifyingKey};
use crate::auth::pattern::{Pattern, PatternList};
use crate::auth::remote_session::RemoteSettings;
use crate::auth::user_profile::UserServiceSettings;
use crate::config::env::{Environment, MIN_SECRET_BYTES, Reader};
use crate::http::same_site::SameSite;
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

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub issuers: Vec<IssuerSettings>,
    pub shared_secret: Option<SharedSecretSettings>,
    /// Clock leeway for `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    pub token_version: Option<TokenVersion>,
    /// Cookies that may carry a token, tried in order.
    pub cookie_names: Vec<String>,
    /// JWKS caching: at most one refetch per interval for unknown kids.
    pub jwks_refetch_min_interval: Duration,
    pub jwks_default_ttl: Duration,
    pub jwks_fetch_timeout: Duration,
    /// Claims copied into the principal, when present.
    pub principal_claims: Vec<String>,
    /// Origins allowed to call with credentials (CORS).
    pub cors_origins: PatternList,
    /// `BETTER_AUTH_SECRET`, or `BETTER_AUTH_SECRETS` newest first, labelled
    /// by version. Empty: session cookies are not checked locally.
    pub better_auth_secrets: Vec<(String, Secret)>,
    /// `AUTH_SERVER_URL`: sessions validated by the auth server instead.
    pub remote_sessions: Option<RemoteSettings>,
    /// `AUTH_SECRET` / `NEXTAUTH_SECRET`, for Auth.js session cookies.
    pub authjs_secrets: Vec<Secret>,
    pub user_service: Option<UserServiceSettings>,
    /// `TOKEN_REVOCATION` (default on): check the revocation tables on every
    /// request. Needs `DATABASE_URL`.
    pub revocation: bool,
    /// `API_KEYS` (default on): accept API keys. Needs `DATABASE_URL`.
    pub api_keys: bool,
    /// `SESSION_*`: this API's own sessions (`POST /api/auth/exchange`).
    pub sessions: SessionSettings,
    /// Set by the configuration loader: whether `DATABASE_URL` is set, which
    /// database sessions, API keys and revocation need.
    pub has_database: bool,
}

/// One trusted asymmetric issuer.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// `better-auth`, `jwt` or the JSON entry's `name`: the identity
    /// namespace of its users ([`crate::auth::identity`]), and for logs.
    pub label: String,
    pub issuer: PatternList,
    /// Empty only when `authorized_parties` is set (Clerk-style tokens
    /// carry no `aud` but an `azp`).
    pub audiences: PatternList,
    pub authorized_parties: PatternList,
    pub keys: KeySource,
    pub algorithms: Vec<Algorithm>,
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

/// Better Auth's and Auth.js's session cookies, with the `__Secure-` and
/// `__Host-` prefixes browsers require on HTTPS.
pub const DEFAULT_COOKIE_NAMES: &[&str] = &[
    "__Host-better-auth.session_token",
    "__Secure-better-auth.session_token",
    "better-auth.session_token",
    "__Host-authjs.session-token",
    "__Secure-authjs.session-token",
    "authjs.session-token",
    "__Secure-next-auth.session-token",
    "next-auth.session-token",
];

const DEFAULT_PRINCIPAL_CLAIMS: &[&str] = &[
    "email", "name", "picture", "role", "roles", "scope", "org_id",
];

impl AuthSettings {
    /// Whether any credential could ever be verified.
    pub fn can_verify(&self) -> bool {
        !self.issuers.is_empty()
            || self.shared_secret.is_some()
            || self.validates_sessions()
            || !self.authjs_secrets.is_empty()
            || self.accepts_api_keys()
    }

    /// Better Auth sessions checked in its database, not by its server.
    pub fn sessions_in_database(&self) -> bool {
        self.remote_sessions.is_none() && !self.better_auth_secrets.is_empty() && self.has_database
    }

    pub fn validates_sessions(&self) -> bool {
        self.remote_sessions.is_some() || self.sessions_in_database()
    }

    /// The identity namespaces of the users this configuration accepts
    /// (API keys aside), in a stable order.
    pub fn user_namespaces(&self) -> Vec<String> {
        let mut names: Vec<String> = self.issuers.iter().map(|i| i.label.clone()).collect();
        if self.shared_secret.is_some() {
            names.push(identity::SHARED_SECRET.to_owned());
        }
        if self.validates_sessions() {
            names.push(identity::BETTER_AUTH.to_owned());
        }
        if !self.authjs_secrets.is_empty() {
            names.push(identity::AUTHJS.to_owned());
        }
        names.sort();
        names.dedup();
        names
    }

    pub fn accepts_api_keys(&self) -> bool {
        self.api_keys && self.has_database
    }

    pub fn checks_revocation(&self) -> bool {
        self.revocation && self.has_database
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerJson {
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

pub(crate) fn read(r: &mut Reader<'_>, environment: Environment) -> AuthSettings {
    let leeway = r.seconds("JWT_LEEWAY_SECS", 30.0, 0.0, 300.0);
    let jwks_refetch_min_interval = r.seconds("JWKS_REFETCH_MIN_SECS", 30.0, 1.0, 3600.0);
    let jwks_default_ttl = r.seconds("JWKS_CACHE_TTL_SECS", 600.0, 60.0, 86_400.0);
    let jwks_fetch_timeout = r.seconds("JWKS_FETCH_TIMEOUT_SECS", 5.0, 0.1, 30.0);

    let mut issuers = Vec::new();
    read_better_auth(r, environment, &mut issuers);
    read_generic_issuer(r, environment, &mut issuers);
    read_issuer_json(r, environment, &mut issuers);
    let shared_secret = read_shared_secret(r, &issuers);

    let token_version = r.get("TOKEN_VERSION").and_then(|raw| match raw.parse::<u64>() {
        Ok(server) => Some(TokenVersion { server }),
        Err(_) => {
            r.error(
                "TOKEN_VERSION",
                format!("is \"{raw}\", not a whole number"),
                format!("set TOKEN_VERSION to the current version; tokens whose `{TOKEN_VERSION_CLAIM}` claim is lower are refused"),
            );
            None
        }
    });
    let cookie_names = names(r, "AUTH_COOKIE_NAMES", DEFAULT_COOKIE_NAMES);
    let principal_claims = names(r, "PRINCIPAL_CLAIMS", DEFAULT_PRINCIPAL_CLAIMS);
    let cors_origins = read_cors_origins(r, environment);
    let better_auth_secrets = read_better_auth_secrets(r);
    let remote_sessions = read_remote_sessions(r, environment);
    let authjs_secrets = read_authjs_secrets(r);
    let user_service = read_user_service(r, environment);
    let revocation = r.get("TOKEN_REVOCATION").is_none() || r.bool("TOKEN_REVOCATION");
    let api_keys = r.get("API_KEYS").is_none() || r.bool("API_KEYS");

    let sessions = read_sessions(r);
    let mut cookie_names = cookie_names;
    // This API's own session cookie is read whatever AUTH_COOKIE_NAMES says.
    cookie_names.insert(0, sessions.cookie_name().to_owned());
    if let Some(prefix) = r.get("BETTER_AUTH_COOKIE_PREFIX") {
        // A custom `advanced.cookiePrefix`: its names are tried first.
        let custom = [
            format!("__Secure-{prefix}.session_token"),
            format!("{prefix}.session_token"),
        ];
        cookie_names.splice(0..0, custom);
    }

    AuthSettings {
        issuers,
        shared_secret,
        leeway,
        token_version,
        cookie_names,
        jwks_refetch_min_interval,
        jwks_default_ttl,
        jwks_fetch_timeout,
        principal_claims,
        cors_origins,
        better_auth_secrets,
        remote_sessions,
        authjs_secrets,
        user_service,
        revocation,
        api_keys,
        sessions,
        has_database: false,
    }
}

/// Checks that need to know whether `DATABASE_URL` is set.
pub(crate) fn check_with_database(r: &mut Reader<'_>, auth: &mut AuthSettings, has_database: bool) {
    auth.has_database = has_database;
    if !auth.better_auth_secrets.is_empty() && auth.remote_sessions.is_none() && !has_database {
        r.error(
            "BETTER_AUTH_SECRET",
            "is set, but sessions can be neither looked up (DATABASE_URL is not set) nor asked of the auth server (AUTH_SERVER_URL is not set)",
            "set DATABASE_URL to the database Better Auth uses, or AUTH_SERVER_URL to the Better Auth server's URL",
        );
    }
    if auth.remote_sessions.is_some() && auth.better_auth_secrets.is_empty() {
        r.warn(
            "BETTER_AUTH_SECRET",
            "is not set beside AUTH_SERVER_URL: every unknown session token, forged ones included, costs a get-session call to the auth server (at most 16 at once per instance, the rest answered 503)",
            "set BETTER_AUTH_SECRET (or BETTER_AUTH_SECRETS) to the auth server's secret, so forgeries are refused by their signature without a call",
        );
    }
}

/// `BETTER_AUTH_SECRETS` (`version:secret` pairs, newest first) wins over
/// `BETTER_AUTH_SECRET`, as in Better Auth itself.
fn read_better_auth_secrets(r: &mut Reader<'_>) -> Vec<(String, Secret)> {
    if let Some(raw) = r.get("BETTER_AUTH_SECRETS") {
        let mut secrets = Vec::new();
        for (index, entry) in raw
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let Some((version, secret)) = entry.split_once(':') else {
                r.error(
                    "BETTER_AUTH_SECRETS",
                    format!("entry {} has no `version:` prefix", index + 1),
                    "write it as Better Auth does: BETTER_AUTH_SECRETS=\"2:new-secret,1:old-secret\", newest first",
                );
                continue;
            };
            let secret = Secret::new(secret.trim());
            if secret.len() < MIN_SECRET_BYTES {
                r.error(
                    "BETTER_AUTH_SECRETS",
                    format!("the secret of version {} is {} bytes; at least {MIN_SECRET_BYTES} are needed", version.trim(), secret.len()),
                    "generate one with `openssl rand -base64 32`",
                );
                continue;
            }
            secrets.push((version.trim().to_owned(), secret));
        }
        if secrets.is_empty() {
            r.error(
                "BETTER_AUTH_SECRETS",
                "holds no usable secret",
                "set BETTER_AUTH_SECRETS=\"1:<secret>\" or use BETTER_AUTH_SECRET",
            );
        }
        return secrets;
    }
    r.secret("BETTER_AUTH_SECRET")
        .map(|secret| vec![("current".to_owned(), secret)])
        .unwrap_or_default()
}

fn read_remote_sessions(r: &mut Reader<'_>, environment: Environment) -> Option<RemoteSettings> {
    let cache_ttl = r.seconds("AUTH_SERVER_CACHE_TTL_SECS", 60.0, 0.0, 3600.0);
    let negative_ttl = r.seconds("AUTH_SERVER_NEGATIVE_TTL_SECS", 5.0, 0.0, 300.0);
    let timeout = r.seconds("AUTH_SERVER_TIMEOUT_SECS", 3.0, 0.1, 30.0);
    let url = r.get("AUTH_SERVER_URL")?;
    if !key_url(r, "AUTH_SERVER_URL", &url, environment) {
        return None;
    }
    let base_url = url
        .trim_end_matches('/')
        .trim_end_matches("/api/auth")
        .to_owned();
    Some(RemoteSettings {
        base_url,
        cache_ttl,
        negative_ttl,
        timeout,
    })
}

/// Auth.js reads `AUTH_SECRET`; NextAuth v4 read `NEXTAUTH_SECRET`. Both
/// set to different values is a mistake worth stopping for.
fn read_authjs_secrets(r: &mut Reader<'_>) -> Vec<Secret> {
    let current = r.secret("AUTH_SECRET");
    let legacy = r.secret("NEXTAUTH_SECRET");
    match (current, legacy) {
        (Some(a), Some(b)) if a != b => {
            r.error(
                "NEXTAUTH_SECRET",
                "differs from AUTH_SECRET; Auth.js uses AUTH_SECRET, so cookies encrypted with one fail with the other",
                "set only AUTH_SECRET (the value your Auth.js app uses)",
            );
            vec![a]
        }
        (Some(a), _) => vec![a],
        (None, Some(b)) => vec![b],
        (None, None) => Vec::new(),
    }
}

fn read_user_service(r: &mut Reader<'_>, environment: Environment) -> Option<UserServiceSettings> {
    let cache_ttl = r.seconds("USER_SERVICE_CACHE_TTL_SECS", 600.0, 0.0, 86_400.0);
    let timeout = r.seconds("USER_SERVICE_TIMEOUT_SECS", 3.0, 0.1, 30.0);
    let url = r.get("USER_SERVICE_URL");
    let api_key = r.get("USER_SERVICE_API_KEY").map(Secret::new);
    match (url, api_key) {
        (None, None) => None,
        (Some(_), None) => {
            r.error(
                "USER_SERVICE_API_KEY",
                "is not set, but USER_SERVICE_URL is",
                "set USER_SERVICE_API_KEY to the key the user service expects (sent as Authorization: Bearer)",
            );
            None
        }
        (None, Some(_)) => {
            r.error(
                "USER_SERVICE_URL",
                "is not set, but USER_SERVICE_API_KEY is",
                "set USER_SERVICE_URL, e.g. https://users.internal/v1/users/{id}",
            );
            None
        }
        (Some(url), Some(api_key)) => {
            key_url(r, "USER_SERVICE_URL", &url, environment).then_some(UserServiceSettings {
                url,
                api_key,
                cache_ttl,
                timeout,
            })
        }
    }
}

/// A comma-separated list of names, or the defaults when unset.
/// Longest session: browsers cap a cookie's lifetime at 400 days.
const MAX_SESSION_TTL_SECS: u64 = 400 * 24 * 3600;

fn read_sessions(r: &mut Reader<'_>) -> SessionSettings {
    let mut settings = SessionSettings::default();
    if let Some(raw) = r.get("SESSION_TTL_SECS") {
        match raw.parse::<u64>() {
            Ok(secs) if (60..=MAX_SESSION_TTL_SECS).contains(&secs) => {
                settings.ttl = Duration::from_secs(secs);
            }
            _ => r.error(
                "SESSION_TTL_SECS",
                format!("is \"{raw}\", not a number of seconds from 60 to {MAX_SESSION_TTL_SECS} (400 days, the longest cookie browsers keep)"),
                "set SESSION_TTL_SECS to how long an unused session lasts (default 86400, one day), or unset it",
            ),
        }
    }
    if let Some(raw) = r.get("SESSION_MAX_LIFETIME_SECS") {
        match raw.parse::<u64>() {
            Ok(secs) if (60..=MAX_SESSION_TTL_SECS).contains(&secs) => {
                settings.max_lifetime = Duration::from_secs(secs);
            }
            _ => r.error(
                "SESSION_MAX_LIFETIME_SECS",
                format!("is \"{raw}\", not a number of seconds from 60 to {MAX_SESSION_TTL_SECS} (400 days)"),
                "set SESSION_MAX_LIFETIME_SECS to how long a session may last from its creation however much it is used (default 604800, 7 days), or unset it",
            ),
        }
    }
    if settings.ttl > settings.max_lifetime {
        r.warn(
            "SESSION_TTL_SECS",
            format!(
                "is {} s, longer than SESSION_MAX_LIFETIME_SECS ({} s): sessions end at the lifetime, so the longer idle time never applies",
                settings.ttl.as_secs(),
                settings.max_lifetime.as_secs()
            ),
            "set SESSION_TTL_SECS (idle) no longer than SESSION_MAX_LIFETIME_SECS (absolute)",
        );
    }
    if let Some(raw) = r.get("SESSION_MAX_PER_SUBJECT") {
        match raw.parse::<u32>() {
            Ok(count) if (1..=1000).contains(&count) => settings.max_per_subject = count,
            _ => r.error(
                "SESSION_MAX_PER_SUBJECT",
                format!("is \"{raw}\", not a number from 1 to 1000"),
                "set SESSION_MAX_PER_SUBJECT to how many live sessions one user may hold (default 50; the least recently used end first), or unset it",
            ),
        }
    }
    if let Some(raw) = r.get("SESSION_COOKIE_SAMESITE") {
        match raw.to_ascii_lowercase().as_str() {
            "lax" => settings.same_site = SameSite::Lax,
            "strict" => settings.same_site = SameSite::Strict,
            // Always with Secure: browsers reject SameSite=None without it.
            "none" => settings.same_site = SameSite::None,
            _ => r.error(
                "SESSION_COOKIE_SAMESITE",
                format!("is \"{raw}\", not lax, strict or none"),
                "set lax (default: the frontend is on this API's site), none (a frontend on another site; the cookie is then also Secure, and browsers blocking third-party cookies still drop it, so send the token in Authorization there), or strict",
            ),
        }
    }
    if let Some(raw) = r.get("SESSION_COOKIE_DOMAIN") {
        let domain = raw.trim().trim_start_matches('.').to_ascii_lowercase();
        let valid = domain.contains('.')
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !valid || crate::http::public_suffix::is_public_suffix(&domain) {
            r.error(
                "SESSION_COOKIE_DOMAIN",
                format!("is \"{raw}\", not a registrable domain a cookie can be shared under"),
                "set a domain you own such as example.com (no scheme, no port; never a public suffix like vercel.app), or unset it for a host-only __Host- cookie",
            );
        } else {
            settings.domain = Some(domain);
        }
    }
    settings
}

fn names(r: &mut Reader<'_>, variable: &'static str, defaults: &[&str]) -> Vec<String> {
    match r.get(variable) {
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
        None => defaults.iter().map(|name| (*name).to_owned()).collect(),
    }
}

/// The Vercel system variables a `CORS_ORIGINS` entry may name, in braces
/// (`https://{VERCEL_BRANCH_URL}`): this deployment's own exact hosts, the
/// safe way to let a preview's own frontend call it.
const ORIGIN_PLACEHOLDERS: [&str; 3] = [
    "VERCEL_URL",
    "VERCEL_BRANCH_URL",
    "VERCEL_PROJECT_PRODUCTION_URL",
];

/// The opt-in that keeps a wildcard directly under a public suffix (the old
/// `https://myapp-*-acme.vercel.app`) outside production. Loud on purpose.
const UNSAFE_WILDCARDS: &str = "CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS";

/// `CORS_ORIGINS`: origins allowed to call with the user's credentials.
/// Placeholders are expanded first; a wildcard that strangers can match (one
/// directly under a public suffix such as `vercel.app`, where anyone names a
/// project `myapp-pwn-acme`) is refused, and in production even with
/// `CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS`.
fn read_cors_origins(r: &mut Reader<'_>, environment: Environment) -> PatternList {
    const VARIABLE: &str = "CORS_ORIGINS";
    let Some(raw) = r.get(VARIABLE) else {
        return PatternList::default();
    };
    let mut entries = Vec::new();
    let mut refused = false;
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut expanded = entry.to_owned();
        let mut usable = true;
        while let Some(open) = expanded.find('{') {
            let Some(close) = expanded[open..].find('}').map(|at| open + at) else {
                break;
            };
            let written = expanded[open + 1..close].to_owned();
            let Some(name) = ORIGIN_PLACEHOLDERS.into_iter().find(|n| *n == written) else {
                let name = written;
                r.error(
                    VARIABLE,
                    format!("entry `{entry}` names {{{name}}}, which is not one of {}", ORIGIN_PLACEHOLDERS.map(|n| format!("{{{n}}}")).join(", ")),
                    "use {VERCEL_URL}, {VERCEL_BRANCH_URL} or {VERCEL_PROJECT_PRODUCTION_URL} (this deployment's own hosts), or write the origin out",
                );
                refused = true;
                usable = false;
                break;
            };
            match r.get(name) {
                Some(host) => expanded.replace_range(open..=close, host.trim()),
                None => {
                    r.warn(
                        VARIABLE,
                        format!("entry `{entry}` names {{{name}}}, which is not set here, so the entry is left out"),
                        format!("on Vercel, enable \"Automatically expose System Environment Variables\" so {name} is set; elsewhere write the origin out"),
                    );
                    usable = false;
                    break;
                }
            }
        }
        if usable {
            entries.push(expanded);
        }
    }
    let list = match PatternList::parse(&entries.join(",")) {
        Ok(list) => list,
        Err(problem) => {
            r.error(
                VARIABLE,
                problem.0,
                "set CORS_ORIGINS to exact origins (https://app.example.com), this deployment's own hosts (https://{VERCEL_BRANCH_URL}), or patterns under a domain you own (https://*.preview.example.com), comma-separated",
            );
            return PatternList::default();
        }
    };
    let opted_in = r.bool(UNSAFE_WILDCARDS);
    for pattern in &list.0 {
        let Some(suffix) = pattern.open_to_strangers() else {
            continue;
        };
        let problem = if suffix.is_empty() {
            format!("`{}` leaves the whole domain to its `*`", pattern.as_str())
        } else {
            format!(
                "`{}` puts its `*` directly under {suffix}, a public suffix: anyone can register a matching host (a project or subdomain of their own there) and call this API with your users' credentials",
                pattern.as_str()
            )
        };
        let fix = "list exact origins instead (https://app.example.com), this deployment's own hosts ({VERCEL_URL}, {VERCEL_BRANCH_URL}, {VERCEL_PROJECT_PRODUCTION_URL} in braces), or a pattern under a domain you own (https://*.preview.example.com)";
        if environment == Environment::Production {
            refused = true;
            r.error(
                VARIABLE,
                format!("{problem}; refused in production even with {UNSAFE_WILDCARDS}"),
                fix,
            );
        } else if opted_in && !suffix.is_empty() {
            r.warn(
                VARIABLE,
                format!("{problem}; allowed outside production because {UNSAFE_WILDCARDS} is set"),
                fix,
            );
        } else {
            refused = true;
            r.error(
                VARIABLE,
                problem,
                format!("{fix}; outside production only, {UNSAFE_WILDCARDS}=true keeps such a pattern (never in production)"),
            );
        }
    }
    if r.get(UNSAFE_WILDCARDS).is_some() && environment == Environment::Production {
        r.error(
            UNSAFE_WILDCARDS,
            "is set in production",
            format!("unset {UNSAFE_WILDCARDS} in production; wildcards under a public suffix are never allowed there"),
        );
    }
    if refused {
        return PatternList::default();
    }
    list
}

fn patterns(r: &mut Reader<'_>, variable: &'static str) -> Option<PatternList> {
    let raw = r.get(variable)?;
    match PatternList::parse(&raw) {
        Ok(list) => Some(list),
        Err(problem) => {
            r.error(
                variable,
                problem.0,
                format!("set {variable} to exact values or patterns such as https://myapp-*-team.vercel.app, comma-separated"),
            );
            None
        }
    }
}

fn algorithms(r: &mut Reader<'_>, variable: &'static str, raw: Option<String>) -> Vec<Algorithm> {
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

/// `scheme://host[:port]` of an absolute http(s) URL, lower-cased, default
/// port dropped; what Better Auth puts in `iss` and `aud`.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') || authority.contains(' ') {
        return None;
    }
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_owned(),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

fn is_local_origin(origin: &str) -> bool {
    let host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let host = host.rsplit_once(':').map_or(host, |(host, _)| host);
    host == "localhost" || host == "127.0.0.1" || host == "[::1]"
}

/// An http(s) URL for fetching keys; https required in production.
fn key_url(
    r: &mut Reader<'_>,
    variable: &'static str,
    url: &str,
    environment: Environment,
) -> bool {
    let Some(origin) = origin(url) else {
        r.error(
            variable,
            "is not an absolute http(s) URL",
            format!(
                "set {variable} to a URL such as https://auth.example.com/.well-known/jwks.json"
            ),
        );
        return false;
    };
    if environment == Environment::Production
        && origin.starts_with("http://")
        && !is_local_origin(&origin)
    {
        r.error(
            variable,
            "uses http:// in production, so anyone on the path could swap the keys",
            format!("use the https:// URL in {variable}"),
        );
        return false;
    }
    true
}

fn read_better_auth(
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
    });
}

fn exact(value: &str) -> PatternList {
    PatternList(Pattern::parse(value).into_iter().collect())
}

fn read_generic_issuer(
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
        (None, Some(raw)) => {
            match static_keys(&raw) {
                Ok(keys) => KeySource::Static(keys),
                Err(problem) => {
                    r.error("JWT_PUBLIC_KEYS", problem, "set JWT_PUBLIC_KEYS to a JWKS document ({\"keys\":[...]}) or a PEM public key");
                    return;
                }
            }
        }
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
    });
}

fn static_keys(raw: &str) -> Result<Vec<std::sync::Arc<VerifyingKey>>, String> {
    let raw = raw.trim();
    if raw.starts_with('{') {
        let parsed = keys::from_jwks(raw.as_bytes()).map_err(|err| err.to_string())?;
        Ok(parsed.keys.into_iter().map(std::sync::Arc::new).collect())
    } else {
        Err("PEM keys need their algorithm: give them as a JWKS document, or use JWT_TRUSTED_ISSUERS with public_keys and algorithms".to_owned())
    }
}

fn read_issuer_json(
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
        });
    }
}

fn read_shared_secret(
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

/// This API's own sessions (`POST /api/auth/exchange`), from `SESSION_*`.
/// `SESSION_*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// How long an unused session lasts (sliding).
    pub ttl: Duration,
    /// How long a session lasts from its creation, used or not.
    pub max_lifetime: Duration,
    /// Live sessions one subject may hold; the least recently used go first.
    pub max_per_subject: u32,
    pub same_site: SameSite,
    /// `SESSION_COOKIE_DOMAIN`: shared with subdomains; drops `__Host-`.
    pub domain: Option<String>,
}

pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_MAX_PER_SUBJECT: u32 = 50;

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            ttl: DEFAULT_TTL,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            max_per_subject: DEFAULT_MAX_PER_SUBJECT,
            same_site: SameSite::Lax,
            domain: None,
        }
    }
}

impl SessionSettings {
    /// `__Host-` when the cookie can have it (no `Domain`), else `__Secure-`:
    /// either way a browser refuses the cookie without `Secure`, and a
    /// sibling subdomain cannot plant a `__Host-` one.
    pub fn cookie_name(&self) -> &'static str {
        if self.domain.is_some() {
            "__Secure-gatehouse_session"
        } else {
            "__Host-gatehouse_session"
        }
    }

    /// The `Set-Cookie` value carrying `token` for `max_age`, or clearing
    /// the cookie when `token` is empty.
    pub fn set_cookie(&self, token: &str, max_age: Duration) -> String {
        let same_site = self.same_site.as_str();
        let domain = self
            .domain
            .as_ref()
            .map_or_else(String::new, |domain| format!("; Domain={domain}"));
        format!(
            "{}={token}; Path=/; Max-Age={}{domain}; HttpOnly; Secure; SameSite={same_site}",
            self.cookie_name(),
            max_age.as_secs()
        )
    }

    pub(crate) fn refresh_after(&self) -> i64 {
        i64::try_from(self.ttl.as_secs() / 30).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            origin("https://App.Example.com/api/auth").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("http://localhost:3000").as_deref(),
            Some("http://localhost:3000")
        );
        assert_eq!(
            origin("https://x.com:443/").as_deref(),
            Some("https://x.com")
        );
        assert_eq!(origin("ftp://x.com"), None);
        assert_eq!(origin("https://user@evil.com"), None);
        assert_eq!(origin("localhost:3000"), None);
    }
}

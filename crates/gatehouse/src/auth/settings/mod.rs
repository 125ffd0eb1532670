//! Authentication settings, read from the environment at cold start.
//!
//! Three ways to trust asymmetric tokens, combinable:
//! - `BETTER_AUTH_URL`: Better Auth's JWT plugin. JWKS at
//!   `<url>/api/auth/jwks`; issuer and audience default to the URL's origin.
//! - `JWT_JWKS_URL` (or inline `JWT_PUBLIC_KEYS`) with `JWT_ISSUER` and
//!   `JWT_AUDIENCE`: any other provider.
//! - A provider preset, by the provider's own variables (`CLERK_*`,
//!   `SUPABASE_*`, `AUTH0_*`, `COGNITO_*`, `FIREBASE_PROJECT_ID`), in
//!   `presets/`, with their providers' rules in [`crate::auth::providers`].
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

use crate::auth::better_auth::cookie_cache::CookieCacheSettings;
use crate::auth::better_auth::remote::RemoteSettings;
use crate::auth::identity;
use crate::auth::pattern::PatternList;
use crate::config::env::{Environment, Reader};
use crate::secret::Secret;

mod cors;
mod jwt;
mod presets;
mod sessions;
mod values;

use cors::*;
use jwt::*;
pub use jwt::{
    ASYMMETRIC, IssuerSettings, IssuerVariables, KeySource, SYMMETRIC, SharedSecretSettings,
    TOKEN_VERSION_CLAIM, TokenVersion,
};
#[cfg(test)]
pub(crate) use sessions::DEFAULT_USER_CACHE_TTL;
use sessions::*;
pub use sessions::{
    DEFAULT_MAX_LIFETIME, DEFAULT_MAX_PER_SUBJECT, DEFAULT_TTL, SessionSettings,
    UserServiceSettings,
};
pub use values::origin;
use values::*;

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
    /// `BETTER_AUTH_COOKIE_CACHE`: read Better Auth's cookie cache before
    /// the database, as Better Auth's `get-session` does.
    pub better_auth_cookie_cache: Option<CookieCacheSettings>,
    /// `AUTH_SECRET` / `NEXTAUTH_SECRET`, for Auth.js session cookies.
    pub authjs_secrets: Vec<Secret>,
    pub user_service: Option<UserServiceSettings>,
    /// `TOKEN_REVOCATION` (default on): check the revocation tables on every
    /// request. Needs `DATABASE_URL`.
    pub revocation: bool,
    /// `REVOCATION_SYNC_MS` (default 1000): how old this instance's copy of
    /// the revocation state may grow before a request reads what changed;
    /// a revocation through another instance is refused here within it.
    pub revocation_sync: Duration,
    /// `REVOCATION_MAX_STALENESS_SECS` (default 60): while the database
    /// cannot be read, the last revocation state read is served for this
    /// long after it was read; past it, checks are refused (503).
    pub revocation_max_staleness: Duration,
    /// `API_KEYS` (default on): accept API keys. Needs `DATABASE_URL`.
    pub api_keys: bool,
    /// `SESSION_*`: this API's own sessions (`POST /api/auth/exchange`).
    pub sessions: SessionSettings,
    /// Set by the configuration loader: whether `DATABASE_URL` is set, which
    /// database sessions, API keys and revocation need.
    pub has_database: bool,
}

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

pub(crate) fn read(r: &mut Reader<'_>, environment: Environment) -> AuthSettings {
    let leeway = r.seconds("JWT_LEEWAY_SECS", 30.0, 0.0, 300.0);
    let jwks_refetch_min_interval = r.seconds("JWKS_REFETCH_MIN_SECS", 30.0, 1.0, 3600.0);
    let jwks_default_ttl = r.seconds("JWKS_CACHE_TTL_SECS", 600.0, 60.0, 86_400.0);
    let jwks_fetch_timeout = r.seconds("JWKS_FETCH_TIMEOUT_SECS", 5.0, 0.1, 30.0);

    let mut issuers = Vec::new();
    read_better_auth(r, environment, &mut issuers);
    let any_preset = presets::read(r, environment, &mut issuers);
    if !any_preset {
        read_generic_issuer(r, environment, &mut issuers);
    }
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
    let better_auth_cookie_cache = read_better_auth_cookie_cache(r);
    let authjs_secrets = read_authjs_secrets(r);
    let user_service = read_user_service(r, environment);
    let revocation = r.get("TOKEN_REVOCATION").is_none() || r.bool("TOKEN_REVOCATION");
    let (revocation_sync, revocation_max_staleness) = read_revocation_bounds(r);
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
        better_auth_cookie_cache,
        authjs_secrets,
        user_service,
        revocation,
        revocation_sync,
        revocation_max_staleness,
        api_keys,
        sessions,
        has_database: false,
    }
}

/// `REVOCATION_SYNC_MS` and `REVOCATION_MAX_STALENESS_SECS`: the state may
/// not be declared too old before it is due to be read again.
fn read_revocation_bounds(r: &mut Reader<'_>) -> (Duration, Duration) {
    let sync = r.millis("REVOCATION_SYNC_MS", 1000, 0, 60_000);
    let staleness = r.seconds("REVOCATION_MAX_STALENESS_SECS", 60.0, 1.0, 3600.0);
    if staleness < sync {
        r.error(
            "REVOCATION_MAX_STALENESS_SECS",
            format!(
                "is {} s, shorter than REVOCATION_SYNC_MS ({} ms): the revocation state would count as too old before it is due to be read again, and requests would be refused between reads",
                staleness.as_secs_f64(),
                sync.as_millis()
            ),
            "set REVOCATION_MAX_STALENESS_SECS to at least REVOCATION_SYNC_MS (in seconds), or lower REVOCATION_SYNC_MS; unset both for the defaults (1000 ms, 60 s)",
        );
        return (Duration::from_millis(1000), Duration::from_secs(60));
    }
    (sync, staleness)
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
    if let Some(cache) = &auth.better_auth_cookie_cache {
        if auth.better_auth_secrets.is_empty() {
            r.error(
                "BETTER_AUTH_COOKIE_CACHE",
                format!(
                    "is {}, but no BETTER_AUTH_SECRET (or BETTER_AUTH_SECRETS) is set to check the cache with",
                    cache.strategy.as_str()
                ),
                "set BETTER_AUTH_SECRET to the Better Auth server's secret, or unset BETTER_AUTH_COOKIE_CACHE",
            );
        } else if auth.remote_sessions.is_some() {
            r.warn(
                "BETTER_AUTH_COOKIE_CACHE",
                "is read only where sessions are looked up in the database; with AUTH_SERVER_URL the auth server's answers are cached instead (AUTH_SERVER_CACHE_TTL_SECS)",
                "unset BETTER_AUTH_COOKIE_CACHE, or unset AUTH_SERVER_URL to look sessions up in DATABASE_URL",
            );
        }
    }
    if auth.remote_sessions.is_some() && auth.better_auth_secrets.is_empty() {
        r.warn(
            "BETTER_AUTH_SECRET",
            "is not set beside AUTH_SERVER_URL: every unknown session token, forged ones included, costs a get-session call to the auth server (at most 16 at once per instance, the rest answered 503)",
            "set BETTER_AUTH_SECRET (or BETTER_AUTH_SECRETS) to the auth server's secret, so forgeries are refused by their signature without a call",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::better_auth::cookie_cache::Strategy;
    use crate::config::{Config, ConfigErrors, Env, Needs};

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        Config::load(&Env::from_pairs(pairs.iter().copied()), Needs::NONE)
    }

    #[test]
    fn the_cookie_cache_is_read_only_when_named_and_with_a_secret() {
        let secret = (
            "BETTER_AUTH_SECRET",
            "better-auth-secret-0123456789abcdefghij",
        );
        let database = ("DATABASE_URL", "postgres://postgres@127.0.0.1/app");
        let config = load(&[secret, database]).unwrap();
        assert_eq!(config.auth.better_auth_cookie_cache, None);
        let config = load(&[secret, database, ("BETTER_AUTH_COOKIE_CACHE", "off")]).unwrap();
        assert_eq!(config.auth.better_auth_cookie_cache, None);
        let config = load(&[secret, database, ("BETTER_AUTH_COOKIE_CACHE", "JWE")]).unwrap();
        let cache = config.auth.better_auth_cookie_cache.unwrap();
        assert_eq!(cache.strategy, Strategy::Jwe);
        assert_eq!(cache.version, "1");
        let config = load(&[
            secret,
            database,
            ("BETTER_AUTH_COOKIE_CACHE", "compact"),
            ("BETTER_AUTH_COOKIE_CACHE_VERSION", "v2"),
        ])
        .unwrap();
        assert_eq!(config.auth.better_auth_cookie_cache.unwrap().version, "v2");
        for (pairs, fix) in [
            (
                vec![secret, database, ("BETTER_AUTH_COOKIE_CACHE", "on")],
                "session.cookieCache.strategy",
            ),
            (
                vec![database, ("BETTER_AUTH_COOKIE_CACHE", "jwt")],
                "set BETTER_AUTH_SECRET",
            ),
        ] {
            let errors = load(&pairs).unwrap_err();
            let problem = errors
                .problems
                .iter()
                .find(|p| p.variable == "BETTER_AUTH_COOKIE_CACHE")
                .unwrap_or_else(|| panic!("{errors:?}"));
            assert!(problem.fix.contains(fix), "{problem:?}");
        }
        // With the auth server deciding, the cache is not read: said once.
        let config = load(&[
            secret,
            ("AUTH_SERVER_URL", "http://127.0.0.1:3000"),
            ("BETTER_AUTH_COOKIE_CACHE", "compact"),
        ])
        .unwrap();
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.variable == "BETTER_AUTH_COOKIE_CACHE"),
            "{:?}",
            config.warnings
        );
    }

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

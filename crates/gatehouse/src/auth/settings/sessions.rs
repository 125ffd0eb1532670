//! Opaque sessions: Better Auth (`BETTER_AUTH_SECRET(S)`, `AUTH_SERVER_URL`),
//! Auth.js (`AUTH_SECRET`), the user service, and this API's own sessions
//! (`SESSION_*`).

use std::time::Duration;

use super::values::*;
use crate::auth::better_auth::cookie_cache::{CookieCacheSettings, Strategy};
use crate::auth::better_auth::remote::RemoteSettings;
use crate::config::env::{Environment, MIN_SECRET_BYTES, Reader};
use crate::http::same_site::SameSite;
use crate::secret::Secret;

/// `BETTER_AUTH_SECRETS` (`version:secret` pairs, newest first) wins over
/// `BETTER_AUTH_SECRET`, as in Better Auth itself.
pub(super) fn read_better_auth_secrets(r: &mut Reader<'_>) -> Vec<(String, Secret)> {
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

/// `BETTER_AUTH_COOKIE_CACHE` (Better Auth's `session.cookieCache.strategy`)
/// and `BETTER_AUTH_COOKIE_CACHE_VERSION`. Unset or `off`: the cache is
/// never read, every session is looked up.
pub(super) fn read_better_auth_cookie_cache(r: &mut Reader<'_>) -> Option<CookieCacheSettings> {
    let version = r.get("BETTER_AUTH_COOKIE_CACHE_VERSION");
    let raw = r.get("BETTER_AUTH_COOKIE_CACHE")?;
    if raw.is_empty() || raw.eq_ignore_ascii_case("off") {
        return None;
    }
    let Some(strategy) = Strategy::parse(&raw) else {
        r.error(
            "BETTER_AUTH_COOKIE_CACHE",
            format!("is \"{raw}\", not compact, jwt, jwe or off"),
            "set it to the session.cookieCache.strategy of your Better Auth configuration (compact when it sets none) if cookieCache is enabled there, or unset it",
        );
        return None;
    };
    let version = match version {
        Some(version) if !version.is_empty() => version,
        _ => "1".to_owned(),
    };
    Some(CookieCacheSettings { strategy, version })
}

pub(super) fn read_remote_sessions(
    r: &mut Reader<'_>,
    environment: Environment,
) -> Option<RemoteSettings> {
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
pub(super) fn read_authjs_secrets(r: &mut Reader<'_>) -> Vec<Secret> {
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

/// `USER_SERVICE_CACHE_TTL_SECS` when unset: profiles change rarely, and a
/// change shows within ten minutes.
pub(crate) const DEFAULT_USER_CACHE_TTL: Duration = Duration::from_secs(600);

/// The user service call deadline when unset: the call sits on the request
/// path, so it must fail fast enough to fall back.
const DEFAULT_USER_TIMEOUT: Duration = Duration::from_secs(3);

/// Where and how to ask the user service.
#[derive(Debug, Clone)]
pub struct UserServiceSettings {
    /// Either contains `{id}` (replaced by the percent-encoded user id) or is
    /// a base to which `/<id>` is appended.
    pub url: String,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: Secret,
    /// How long a fetched profile is served without asking again.
    pub cache_ttl: Duration,
    /// Deadline for one call: connect, TLS, headers and body.
    pub timeout: Duration,
}

pub(super) fn read_user_service(
    r: &mut Reader<'_>,
    environment: Environment,
) -> Option<UserServiceSettings> {
    let cache_ttl = r.seconds(
        "USER_SERVICE_CACHE_TTL_SECS",
        DEFAULT_USER_CACHE_TTL.as_secs_f64(),
        0.0,
        86_400.0,
    );
    let timeout = r.seconds(
        "USER_SERVICE_TIMEOUT_SECS",
        DEFAULT_USER_TIMEOUT.as_secs_f64(),
        0.1,
        30.0,
    );
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
pub(super) const MAX_SESSION_TTL_SECS: u64 = 400 * 24 * 3600;

pub(super) fn read_sessions(r: &mut Reader<'_>) -> SessionSettings {
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

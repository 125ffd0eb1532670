//! Whether this deployment agrees with its auth server and with browsers:
//! issuer and audience against `BETTER_AUTH_URL`, a sample credential run
//! through the functions' own authenticator, and the cookie and CORS rules
//! browsers enforce.

use std::sync::Arc;

use super::report::Report;
use crate::browser_rules::{
    CookieContext, Origin, SetCookie, judge_cookie, judge_origins, without_header_name,
};
use crate::level::Level;
use gatehouse::auth::explain::{Verdict, explain};
use gatehouse::auth::pattern::PatternList;
use gatehouse::auth::principal::Method;
use gatehouse::clock::unix_now;
use gatehouse::config::{Config, Env, Environment};
use gatehouse::state::State;

/// Issuer and audience against `BETTER_AUTH_URL`, and production settings
/// that name a preview deployment.
pub(super) fn issuers(config: &Config, env: &Env, report: &mut Report) {
    let mut agree = true;
    let better_auth = env.get("BETTER_AUTH_URL").map(origin_of);
    for issuer in &config.auth.issuers {
        if let Some(origin) = &better_auth
            && issuer.label == "better-auth"
        {
            for (variable, list, claim) in [
                ("JWT_ISSUER", &issuer.issuer, "iss"),
                ("JWT_AUDIENCE", &issuer.audiences, "aud"),
            ] {
                if !list.matches(origin) {
                    agree = false;
                    report.push(
                        "consistency",
                        Level::Warn,
                        format!(
                            "{variable} is {}, but Better Auth at BETTER_AUTH_URL puts {origin} in `{claim}` unless its jwt plugin is configured otherwise",
                            describe(list)
                        ),
                        Some(format!("unset {variable} to use BETTER_AUTH_URL's origin, or make it match the plugin's `{claim}` setting")),
                    );
                }
            }
        }
        if config.environment == Environment::Production {
            agree &=
                !preview_in_production(&issuer.label, [&issuer.issuer, &issuer.audiences], report);
        }
    }
    if let Some(shared) = &config.auth.shared_secret
        && config.environment == Environment::Production
    {
        agree &= !preview_in_production(
            "shared-secret",
            [&shared.issuer, &shared.audiences].into_iter().flatten(),
            report,
        );
    }
    if agree && (!config.auth.issuers.is_empty() || config.auth.shared_secret.is_some()) {
        report.pass(
            "consistency",
            if better_auth.is_some() {
                "issuer and audience agree with BETTER_AUTH_URL"
            } else {
                "issuer and audience name no preview deployment"
            },
        );
    }
}

/// Warns about each issuer or audience naming a preview deployment;
/// whether any did.
fn preview_in_production<'a>(
    label: &str,
    lists: impl IntoIterator<Item = &'a PatternList>,
    report: &mut Report,
) -> bool {
    let mut found = false;
    for list in lists {
        if let Some(preview) = list.0.iter().find(|p| names_preview(p.as_str())) {
            found = true;
            report.push(
                "consistency",
                Level::Warn,
                format!(
                    "the {label} issuer or audience {} names a preview deployment, and this is production: production tokens carry the production URL",
                    preview.as_str()
                ),
                Some("set the production URL in this environment's JWT_ISSUER / JWT_AUDIENCE / BETTER_AUTH_URL, and keep preview URLs in the preview environment's variables"),
            );
        }
    }
    found
}

/// A Vercel preview URL: `<project>-git-<branch>-<team>.vercel.app`.
fn names_preview(value: &str) -> bool {
    let host = crate::browser_rules::host_of(value);
    host.ends_with(".vercel.app") && (host.contains("-git-") || value.contains('*'))
}

fn describe(list: &PatternList) -> String {
    list.0
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `https://auth.example.com/api/auth` → `https://auth.example.com`.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                authority.to_ascii_lowercase()
            )
        }
        None => url.to_owned(),
    }
}

/// The sample credential, judged by the functions' own authenticator. A
/// `Set-Cookie` sample is returned for the browser rules.
pub(super) async fn sample(config: Config, sample: &str, report: &mut Report) -> Option<SetCookie> {
    let known_names = config.auth.cookie_names.clone();
    let (credential, cookie_name, set_cookie) = split_sample(sample.trim(), &known_names);
    let state = Arc::new(State::new(config));
    let Ok(authenticator) = state.authenticator() else {
        report.push(
            "consistency",
            Level::Skip,
            "the sample cannot be checked: this configuration verifies no credential",
            Some("configure a verifier first (see the configuration finding above)"),
        );
        return set_cookie;
    };
    let explanation = explain(
        authenticator,
        &credential,
        cookie_name.as_deref(),
        unix_now(),
    )
    .await;
    let carried = cookie_name.map_or_else(String::new, |name| format!(" in cookie {name}"));
    let what = format!(
        "the sample ({}{carried}, {})",
        explanation.kind, explanation.fingerprint
    );
    match explanation.verdict {
        Verdict::Accepted { principal } => report.pass(
            "consistency",
            format!(
                "{what} is accepted for subject {} ({}): {}",
                principal.subject,
                serde_json::to_value(principal.method).unwrap_or_default(),
                why_accepted(principal.method)
            ),
        ),
        Verdict::Refused {
            reason,
            detail,
            hint,
            ..
        } if reason == "token_expired" || reason == "session_expired" => report.push(
            "consistency",
            Level::Warn,
            format!("{what} is expired ({reason}: {detail}); the checks before expiry passed, the ones after were not reached"),
            Some(format!("pass a fresh sample to check the rest; {hint}")),
        ),
        Verdict::Refused {
            reason,
            detail,
            hint,
            ..
        } => report.push(
            "consistency",
            Level::Fail,
            format!("{what} is refused as the functions would refuse it: {reason}: {detail}"),
            Some(hint),
        ),
    }
    set_cookie
}

/// A `Set-Cookie` header, a `name=value` cookie of a name the functions
/// read, or the bare credential.
fn split_sample(
    sample: &str,
    known_names: &[String],
) -> (String, Option<String>, Option<SetCookie>) {
    let first = without_header_name(sample);
    if let Some(cookie) = SetCookie::parse(sample) {
        let pair = first.split(';').next().unwrap_or_default();
        let value = pair.split_once('=').map_or("", |(_, value)| value).trim();
        return (value.to_owned(), Some(cookie.name.clone()), Some(cookie));
    }
    if let Some((name, value)) = first.split_once('=')
        && (known_names.iter().any(|known| known == name)
            || name.ends_with("session_token")
            || name.ends_with("session-token"))
    {
        return (value.trim().to_owned(), Some(name.to_owned()), None);
    }
    (sample.to_owned(), None, None)
}

/// Cookie and CORS settings browsers refuse.
pub(super) fn browser(
    config: &Config,
    env: &Env,
    api: Option<&Origin>,
    set_cookie: Option<&SetCookie>,
    report: &mut Report,
) {
    let auth = &config.auth;
    let frontends: Vec<Origin> = auth
        .cors_origins
        .0
        .iter()
        // A pattern stands for its previews; any label judges the site.
        .map(|pattern| Origin::parse(&pattern.as_str().replace('*', "preview")))
        .collect();
    let auth_server = env
        .get("BETTER_AUTH_URL")
        .map(str::to_owned)
        .or_else(|| auth.remote_sessions.as_ref().map(|r| r.base_url.clone()))
        .map(|url| Origin::parse(&url));
    let cookies = !auth.better_auth_secrets.is_empty()
        || auth.remote_sessions.is_some()
        || !auth.authjs_secrets.is_empty()
        || set_cookie.is_some();
    let Some(api) = api else {
        report.push(
            "browser",
            Level::Skip,
            "the API's public URL is unknown, so which frontends can send it cookies is not checked",
            Some("pass --url https://<the API's domain> (on Vercel, expose the system environment variables)"),
        );
        if let Some(cookie) = set_cookie {
            let context = CookieContext {
                set_by: auth_server.as_ref(),
                api: None,
                frontends: &[],
            };
            push_rules(report, judge_cookie(cookie, &context));
        }
        return;
    };
    if frontends.is_empty() {
        report.pass(
            "browser",
            format!(
                "CORS_ORIGINS is empty: only pages on {} itself can call with credentials",
                api.host
            ),
        );
    }
    push_rules(report, judge_origins(api, &frontends, cookies));
    if config.database.is_some() {
        // This API's own session cookie (POST /api/auth/exchange), as its
        // SESSION_* settings make it.
        let sessions = &auth.sessions;
        let own = SetCookie {
            name: sessions.cookie_name().to_owned(),
            secure: true,
            http_only: true,
            same_site: Some(sessions.same_site),
            same_site_invalid: false,
            domain: sessions.domain.clone(),
            path: Some("/".to_owned()),
            partitioned: false,
        };
        let context = CookieContext {
            set_by: Some(api),
            api: Some(api),
            frontends: &frontends,
        };
        for rule in judge_cookie(&own, &context) {
            // Only frontends that rely on the cookie are affected: a warning.
            let level = if rule.level == Level::Fail {
                Level::Warn
            } else {
                rule.level
            };
            let fix = rule.fix.map(|fix| {
                format!("{fix} (this API's session cookie: SESSION_COOKIE_SAMESITE=none makes it cross-site, or send the exchange's token in Authorization)")
            });
            report.push("browser", level, rule.message, fix);
        }
    }
    match set_cookie {
        Some(cookie) => {
            let context = CookieContext {
                set_by: auth_server.as_ref(),
                api: Some(api),
                frontends: &frontends,
            };
            push_rules(report, judge_cookie(cookie, &context));
        }
        None => {
            if let Some(server) = &auth_server
                && cookies
                && server.host != api.host
            {
                report.push(
                    "browser",
                    Level::Warn,
                    format!(
                        "the auth server ({}) sets its session cookie for its own host, and browsers send a host-only cookie only there, not to {}",
                        server.host, api.host
                    ),
                    Some(format!(
                        "on one site, give the cookie Domain={} (Better Auth: advanced.crossSubDomainCookies); otherwise send the session token in Authorization: Bearer. Pass a Set-Cookie sample with --token to check the real attributes",
                        api.site()
                    )),
                );
            }
        }
    }
}

fn push_rules(report: &mut Report, rules: Vec<crate::browser_rules::Rule>) {
    for rule in rules {
        report.push("browser", rule.level, rule.message, rule.fix);
    }
}

/// What an accepted sample proves, by how it was verified: issuer and
/// audience are claims of JWTs only.
fn why_accepted(method: Method) -> &'static str {
    match method {
        Method::JwtJwks | Method::JwtStaticKey | Method::JwtSharedSecret => {
            "this deployment holds the issuer's keys or secret, and its issuer and audience agree"
        }
        Method::BetterAuthSession => {
            "this deployment holds Better Auth's secret and finds the session in DATABASE_URL"
        }
        Method::BetterAuthRemote => "the auth server at AUTH_SERVER_URL vouches for the session",
        Method::AuthjsSession => {
            "this deployment holds the AUTH_SECRET the cookie was encrypted with"
        }
        Method::ApiKey => "the key is active in this deployment's database",
        Method::GatehouseSession => "the session is live in this deployment's database",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_split_into_credential_and_cookie() {
        let names = vec!["better-auth.session_token".to_owned()];
        let (credential, name, cookie) = split_sample(
            "Set-Cookie: better-auth.session_token=abc.sig%3D; Path=/; SameSite=None",
            &names,
        );
        assert_eq!(credential, "abc.sig%3D");
        assert_eq!(name.as_deref(), Some("better-auth.session_token"));
        assert!(cookie.is_some());
        let (credential, name, _) = split_sample("better-auth.session_token=abc.sig%3D", &names);
        assert_eq!(
            (credential.as_str(), name.as_deref()),
            ("abc.sig%3D", Some("better-auth.session_token"))
        );
        // A raw Better Auth value ends in `=` padding, which is not a cookie.
        let (credential, name, _) = split_sample("abc.c2lnbmF0dXJl=", &names);
        assert_eq!((credential.as_str(), name), ("abc.c2lnbmF0dXJl=", None));
    }

    #[test]
    fn preview_urls_are_recognised() {
        assert!(names_preview("https://myapp-git-feature-team.vercel.app"));
        assert!(names_preview("https://myapp-*-team.vercel.app"));
        assert!(!names_preview("https://myapp.vercel.app"));
        assert!(!names_preview("https://auth.example.com"));
    }
}

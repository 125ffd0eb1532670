//! `gatehouse doctor`: a deployment's configuration and dependencies,
//! checked before its users find out. Every check runs the code the
//! functions run (the cold-start validator, the pool, the migrations
//! ledger, the JWKS cache, the remote session client), so the doctor cannot
//! disagree with production.

mod consistency;
mod presets;
mod report;

pub use report::Report;

use std::sync::Arc;
use std::time::Instant;

use crate::browser_rules::Origin;
use crate::level::Level;
use gatehouse::auth::jwt::jwks::{JwksCache, JwksSettings};
use gatehouse::auth::settings::KeySource;
use gatehouse::config::{Config, Env, Needs};
use gatehouse::db::{Database, migrations};
use gatehouse::outbound::{Outbound, display_url};

/// What the doctor is given besides the environment.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The API's public URL, for the browser rules. Defaults to Vercel's
    /// system variables when the project exposes them.
    pub api_url: Option<String>,
    /// A sample credential from the auth server (`--token`): a token, a
    /// cookie value, `name=value`, or a whole `Set-Cookie` header. It proves
    /// the secret, issuer and audience agree, and its cookie attributes are
    /// judged as a browser judges them.
    pub sample: Option<String>,
}

/// Examines the deployment `env` describes.
pub async fn examine(env: &Env, inputs: &Inputs) -> Report {
    let mut report = Report::default();
    let config = match Config::load(env, Needs::NONE) {
        Ok(config) => config,
        Err(errors) => {
            for problem in &errors.problems {
                report.problem(Level::Fail, problem);
            }
            for warning in &errors.warnings {
                report.problem(Level::Warn, warning);
            }
            return report;
        }
    };
    report.pass(
        "configuration",
        format!("valid for the {} environment", config.environment.as_str()),
    );
    for warning in &config.warnings {
        report.problem(Level::Warn, warning);
    }
    credential_kinds(&config, &mut report);
    presets::presets(&config, env, &mut report);
    if !config.auth.can_verify() {
        report.push(
            "configuration",
            Level::Warn,
            "no credential can be verified: the auth routes answer `misconfigured`",
            Some("set BETTER_AUTH_URL, a provider preset (CLERK_PUBLISHABLE_KEY, SUPABASE_URL, AUTH0_DOMAIN, COGNITO_USER_POOL_ID, FIREBASE_PROJECT_ID), JWT_JWKS_URL (with JWT_ISSUER and JWT_AUDIENCE), JWT_SECRET, BETTER_AUTH_SECRET with DATABASE_URL, AUTH_SERVER_URL or AUTH_SECRET"),
        );
    }
    database(&config, &mut report).await;
    jwks(&config, &mut report).await;
    auth_server(&config, &mut report).await;
    let api = inputs
        .api_url
        .clone()
        .or_else(|| vercel_url(env))
        .map(|url| Origin::parse(&url));
    consistency::issuers(&config, env, &mut report);
    let set_cookie = match &inputs.sample {
        Some(sample) => consistency::sample(config.clone(), sample, &mut report).await,
        None => {
            report.push(
                "consistency",
                Level::Skip,
                "no sample credential: whether this deployment and the auth server hold the same secret, issuer and audience is not checked",
                Some("pass a session cookie or token the auth server issued with --token (or --token - to read it from stdin)"),
            );
            None
        }
    };
    consistency::browser(&config, env, api.as_ref(), set_cookie.as_ref(), &mut report);
    report
}

/// Which credentials this configuration accepts, each with what it is
/// checked against: the first thing to compare with what the clients send.
fn credential_kinds(config: &Config, report: &mut Report) {
    let auth = &config.auth;
    let mut kinds = Vec::new();
    for issuer in &auth.issuers {
        let keys = match &issuer.keys {
            KeySource::Jwks { url } => format!("keys from {}", display_url(url)),
            KeySource::Static(keys) => format!("{} pinned key(s)", keys.len()),
        };
        let preset = issuer
            .provider
            .as_ref()
            .map(|rules| format!("{} preset, ", rules.provider().title()))
            .unwrap_or_default();
        kinds.push(format!(
            "JWTs of issuer `{}` ({preset}{}, {keys})",
            issuer.label,
            issuer.issuer.describe()
        ));
    }
    if auth.shared_secret.is_some() {
        kinds.push("JWTs signed with JWT_SECRET".to_owned());
    }
    if auth.sessions_in_database() {
        kinds.push("Better Auth sessions, looked up in DATABASE_URL".to_owned());
    }
    if let Some(remote) = &auth.remote_sessions {
        kinds.push(format!(
            "Better Auth sessions, validated by {}",
            display_url(&remote.base_url)
        ));
    }
    if !auth.authjs_secrets.is_empty() {
        kinds.push("Auth.js session cookies (AUTH_SECRET)".to_owned());
    }
    // Sessions are exchanged for a user's credential, never for an API key.
    let exchangeable = !kinds.is_empty();
    if auth.accepts_api_keys() {
        kinds.push("API keys (gatehouse api-keys)".to_owned());
    }
    if auth.has_database && exchangeable {
        kinds.push("this API's own sessions (POST /api/auth/exchange)".to_owned());
    }
    if !kinds.is_empty() {
        report.pass("credentials", format!("accepted: {}", kinds.join("; ")));
    }
}

/// The deployment's own URL from Vercel's system variables, when exposed:
/// the production domain in production, else the branch URL, else the
/// deployment URL.
fn vercel_url(env: &Env) -> Option<String> {
    let production = env.get("VERCEL_ENV") == Some("production");
    let host = production
        .then(|| env.get("VERCEL_PROJECT_PRODUCTION_URL"))
        .flatten()
        .or_else(|| env.get("VERCEL_BRANCH_URL"))
        .or_else(|| env.get("VERCEL_URL"))?;
    Some(format!("https://{host}"))
}

async fn database(config: &Config, report: &mut Report) {
    let Some(settings) = &config.database else {
        report.pass(
            "postgres",
            "DATABASE_URL is not set: database sessions, API keys and revocation are off",
        );
        return;
    };
    let target = settings.url.display_target();
    let db = match Database::new(settings) {
        Ok(db) => db,
        Err(err) => {
            report.push(
                "postgres",
                Level::Fail,
                err.public_detail(),
                Some(err.hint()),
            );
            return;
        }
    };
    let started = Instant::now();
    if let Err(err) = db.query("SELECT 1", &[]).await {
        report.push(
            "postgres",
            Level::Fail,
            format!("{target}: {}", err.public_detail()),
            Some(err.hint()),
        );
        db.close();
        return;
    }
    report.pass(
        "postgres",
        format!(
            "{target} answered in {:.1} ms (sslmode {:?})",
            started.elapsed().as_secs_f64() * 1000.0,
            settings.url.tls_mode()
        ),
    );
    match migrations::versions_in(&db, &[&gatehouse_app::migrations::APP]).await {
        Ok(versions) => {
            let behind: Vec<String> = versions
                .iter()
                .filter(|v| !v.is_current())
                .map(|v| {
                    format!(
                        "{} at {}, this build needs {}",
                        v.component, v.version, v.expected
                    )
                })
                .collect();
            if behind.is_empty() {
                let at: Vec<String> = versions.iter().map(ToString::to_string).collect();
                report.pass(
                    "postgres",
                    format!("migrations applied ({})", at.join(", ")),
                );
            } else {
                report.push(
                    "postgres",
                    Level::Fail,
                    format!("the schema is behind this build: {}", behind.join("; ")),
                    Some("run `gatehouse migrate` with this DATABASE_URL"),
                );
            }
        }
        Err(err) => report.push(
            "postgres",
            Level::Fail,
            err.public_detail(),
            Some(err.hint()),
        ),
    }
    if config.auth.sessions_in_database() {
        let tables = db
            .query_opt(
                r#"SELECT to_regclass('"session"') IS NOT NULL AND to_regclass('"user"') IS NOT NULL"#,
                &[],
            )
            .await;
        match tables {
            Ok(Some(row)) if row.try_get::<_, bool>(0).unwrap_or(false) => {
                report.pass("postgres", "Better Auth's \"session\" and \"user\" tables are present");
            }
            Ok(_) => report.push(
                "postgres",
                Level::Fail,
                "BETTER_AUTH_SECRET is set, but Better Auth's \"session\" and \"user\" tables are not in this database",
                Some("point DATABASE_URL at the database Better Auth uses (its migrations create those tables)"),
            ),
            Err(err) => report.push("postgres", Level::Fail, err.public_detail(), Some(err.hint())),
        }
    }
    db.close();
}

async fn jwks(config: &Config, report: &mut Report) {
    let settings = JwksSettings {
        fetch_timeout: config.auth.jwks_fetch_timeout,
        ..JwksSettings::default()
    };
    for issuer in &config.auth.issuers {
        let KeySource::Jwks { url } = &issuer.keys else {
            continue;
        };
        let cache = Arc::new(JwksCache::new(
            url.clone(),
            settings.clone(),
            Outbound::shared(),
        ));
        let result = cache.keys().await;
        let preset = presets::jwks_finding(issuer, url, result.as_ref().map(|keys| keys.len()));
        if let Some(finding) = &preset {
            report.push(
                "jwks",
                finding.level,
                finding.message.clone(),
                finding.fix.clone(),
            );
            if finding.replaces {
                continue;
            }
        }
        match result {
            Ok(_) => {
                let snapshot = cache.snapshot();
                report.pass(
                    "jwks",
                    format!(
                        "{} ({}): {} key(s): {}{}",
                        snapshot.url,
                        issuer.label,
                        snapshot.keys.len(),
                        snapshot.keys_tried(),
                        snapshot
                            .ttl
                            .map(|ttl| format!("; cached for {} s", ttl.as_secs()))
                            .unwrap_or_default()
                    ),
                );
                clock(url, config, report).await;
                for skipped in snapshot.skipped {
                    report.push(
                        "jwks",
                        Level::Warn,
                        format!("{}: {skipped}", snapshot.url),
                        Some("such keys are ignored; remove them from the JWKS if tokens should verify with them"),
                    );
                }
            }
            Err(err) => report.push(
                "jwks",
                Level::Fail,
                format!("{} ({}): {err}", display_url(url), issuer.label),
                Some(format!(
                    "check {}: it must answer the issuer's JWKS JSON over https",
                    issuer.variables.keys
                )),
            ),
        }
    }
}

/// The issuer's clock (its `Date` header) against ours: a skew beyond the
/// leeway refuses every fresh token as not yet valid, or every token as
/// expired too early.
async fn clock(url: &str, config: &Config, report: &mut Report) {
    let leeway = config.auth.leeway.as_secs();
    let Ok(response) = Outbound::shared()
        .get(url, config.auth.jwks_fetch_timeout)
        .await
    else {
        return;
    };
    let Some(theirs) = response
        .date()
        .and_then(|date| httpdate::parse_http_date(date).ok())
    else {
        report.push(
            "clock",
            Level::Warn,
            format!(
                "{} sends no Date header, so its clock cannot be compared",
                display_url(url)
            ),
            Some("make sure the issuer's and this host's clocks are synced with NTP"),
        );
        return;
    };
    let ours = std::time::SystemTime::now();
    let (skew, ahead) = match theirs.duration_since(ours) {
        Ok(ahead) => (ahead.as_secs(), true),
        Err(behind) => (behind.duration().as_secs(), false),
    };
    // The header has one-second resolution and the request takes time.
    if skew <= leeway.max(2) {
        report.pass(
            "clock",
            format!(
                "{} is within {skew} s of this host (leeway {leeway} s)",
                display_url(url)
            ),
        );
    } else {
        report.push(
            "clock",
            Level::Fail,
            format!(
                "{}'s clock is {skew} s {} this host's, beyond the {leeway} s leeway: {}",
                display_url(url),
                if ahead { "ahead of" } else { "behind" },
                if ahead {
                    "fresh tokens are refused as not yet valid"
                } else {
                    "tokens are refused as expired before their time"
                }
            ),
            Some("sync both clocks with NTP; JWT_LEEWAY_SECS (at most 300) only hides small skews"),
        );
    }
}

async fn auth_server(config: &Config, report: &mut Report) {
    let Some(remote) = &config.auth.remote_sessions else {
        return;
    };
    let url = format!("{}/api/auth/get-session", remote.base_url);
    match Outbound::shared().get(&url, remote.timeout).await {
        Ok(response)
            if response.status.is_success()
                && serde_json::from_slice::<serde_json::Value>(&response.body).is_ok() =>
        {
            report.pass("auth server", format!("{} answers get-session", display_url(&url)));
        }
        Ok(response) => report.push(
            "auth server",
            Level::Fail,
            format!(
                "{} answered {} {}",
                display_url(&url),
                response.status.as_u16(),
                response.content_type().unwrap_or("(no content type)")
            ),
            Some("AUTH_SERVER_URL must be the Better Auth server's base URL (its /api/auth/get-session answers JSON)"),
        ),
        Err(err) => report.push(
            "auth server",
            Level::Fail,
            err.to_string(),
            Some("start the auth server or fix AUTH_SERVER_URL"),
        ),
    }
}

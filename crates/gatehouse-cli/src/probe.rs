//! `gatehouse probe`: what a client of a running deployment experiences,
//! and why. It calls the health routes, the token-health and session routes
//! with the given credential, and sends the CORS preflight a browser at the
//! given origin would send, then reads the answers the way a browser does.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method};
use serde::Serialize;
use serde_json::Value;

use crate::browser_rules::{Origin, judge_origins};
use crate::level::Level;
use gatehouse::outbound::{Outbound, OutboundResponse, display_url};

/// What to probe with.
#[derive(Debug, Clone, Default)]
pub struct ProbeTarget {
    /// The deployment's base URL, e.g. `https://api.example.com`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`.
    pub token: Option<String>,
    /// A whole `name=value` cookie, as the browser would send it.
    pub cookie: Option<String>,
    /// The frontend's origin, for the preflight and the cookie rules.
    pub origin: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub level: Level,
    pub message: String,
    /// Absent when there is nothing to fix: never a `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeReport {
    pub steps: Vec<Step>,
}

impl ProbeReport {
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|step| step.level == Level::Fail)
    }

    fn add(&mut self, name: &'static str, level: Level, message: String, fix: Option<String>) {
        self.steps.push(Step {
            name,
            level,
            message,
            fix,
        });
    }
}

pub async fn probe(target: &ProbeTarget) -> ProbeReport {
    let client = Outbound::new();
    let base = target.base_url.trim_end_matches('/');
    let mut report = ProbeReport::default();
    let get = |path: &'static str, headers: HeaderMap| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let result = client
                .send(Method::GET, &url, headers, target.timeout)
                .await;
            (url, result)
        }
    };

    // Liveness, then the dependencies.
    let (url, result) = get("/api/health", HeaderMap::new()).await;
    match result {
        Ok(response) if response.status.is_success() => {
            report.add(
                "health",
                Level::Pass,
                format!("{} answers 200", display_url(&url)),
                None,
            );
        }
        Ok(response) => report.add(
            "health",
            Level::Fail,
            format!("{} answers {}", display_url(&url), response.status.as_u16()),
            Some("check that the URL is the API's deployment, not the frontend's".to_owned()),
        ),
        Err(err) => {
            report.add(
                "health",
                Level::Fail,
                err.to_string(),
                Some("check the deployment URL and that it is up".to_owned()),
            );
            return report;
        }
    }
    let (url, result) = get("/api/health/detailed", HeaderMap::new()).await;
    match result {
        Ok(response) => {
            let body = json(&response);
            let level = if response.status.is_success() {
                Level::Pass
            } else {
                Level::Fail
            };
            report.add(
                "health detailed",
                level,
                format!(
                    "{} answers {}: status {}, failing {}",
                    display_url(&url),
                    response.status.as_u16(),
                    shown(&body["status"]),
                    shown(&body["failing"])
                ),
                (level == Level::Fail).then(|| {
                    body["hint"]
                        .as_str()
                        .unwrap_or("run `gatehouse doctor` with the deployment's environment")
                        .to_owned()
                }),
            );
        }
        Err(err) => report.add("health detailed", Level::Fail, err.to_string(), None),
    }

    // The credential, as the frontend sends it.
    let mut credential = HeaderMap::new();
    if let Some(token) = &target.token
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        credential.insert(http::header::AUTHORIZATION, value);
    }
    if let Some(cookie) = &target.cookie
        && let Ok(value) = HeaderValue::from_str(cookie)
    {
        credential.insert(http::header::COOKIE, value);
    }
    if let Some(origin) = &target.origin
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        credential.insert(http::header::ORIGIN, value);
    }
    let (_, result) = get("/api/auth/token-health", credential.clone()).await;
    match result {
        Ok(response) if response.status.is_success() => {
            let body = json(&response);
            let level = if body["authenticated"] == true {
                Level::Pass
            } else {
                Level::Warn
            };
            report.add(
                "token health",
                level,
                format!(
                    "authenticated {}, compatible {}, reason {}, {}",
                    shown(&body["authenticated"]),
                    shown(&body["compatible"]),
                    shown(&body["reason"]),
                    match body["expires_in"].as_i64() {
                        Some(seconds) => format!("expires in {seconds} s"),
                        None => "no expiry reported".to_owned(),
                    }
                ),
                body["hint"].as_str().map(str::to_owned),
            );
        }
        Ok(response) => report.add(
            "token health",
            Level::Fail,
            format!("answers {}", response.status.as_u16()),
            Some("the route answers 200 whatever the token; another status means the URL or the deployment is wrong".to_owned()),
        ),
        Err(err) => report.add("token health", Level::Fail, err.to_string(), None),
    }
    let (_, result) = get("/api/auth/session", credential).await;
    match result {
        Ok(response) if response.status.is_success() => {
            let body = json(&response);
            report.add(
                "session",
                Level::Pass,
                format!(
                    "200: subject {}, method {}",
                    shown(&body["principal"]["subject"]),
                    shown(&body["principal"]["method"])
                ),
                None,
            );
        }
        Ok(response) => {
            let body = json(&response);
            report.add(
                "session",
                Level::Fail,
                format!(
                    "{} {}: {}",
                    response.status.as_u16(),
                    body["reason"].as_str().unwrap_or("(no reason)"),
                    body["detail"].as_str().unwrap_or_default()
                ),
                body["hint"].as_str().map(str::to_owned),
            );
        }
        Err(err) => report.add("session", Level::Fail, err.to_string(), None),
    }

    if let Some(origin) = &target.origin {
        preflight(&client, base, origin, target, &mut report).await;
        cookie_rules(base, origin, target.cookie.is_some(), &mut report);
    }
    report
}

/// The preflight a browser sends before a credentialed `fetch` with an
/// `Authorization` header, judged as the browser judges it.
async fn preflight(
    client: &Outbound,
    base: &str,
    origin: &str,
    target: &ProbeTarget,
    report: &mut ProbeReport,
) {
    let mut headers = HeaderMap::new();
    let (Ok(origin_value), method, request_headers) = (
        HeaderValue::from_str(origin),
        HeaderValue::from_static("GET"),
        HeaderValue::from_static("authorization"),
    ) else {
        report.add(
            "cors preflight",
            Level::Fail,
            "the origin is not a valid header value".to_owned(),
            None,
        );
        return;
    };
    headers.insert(http::header::ORIGIN, origin_value);
    headers.insert(http::header::ACCESS_CONTROL_REQUEST_METHOD, method);
    headers.insert(
        http::header::ACCESS_CONTROL_REQUEST_HEADERS,
        request_headers,
    );
    let url = format!("{base}/api/auth/session");
    match client
        .send(Method::OPTIONS, &url, headers, target.timeout)
        .await
    {
        Ok(response) => {
            let header = |name: http::header::HeaderName| {
                response
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let allow_origin = header(http::header::ACCESS_CONTROL_ALLOW_ORIGIN);
            let allow_credentials = header(http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
            if response.status.is_success() && allow_origin == origin && allow_credentials == "true"
            {
                report.add(
                    "cors preflight",
                    Level::Pass,
                    format!(
                        "{origin} may call with credentials (origin echoed, credentials allowed)"
                    ),
                    None,
                );
            } else {
                let body = json(&response);
                report.add(
                    "cors preflight",
                    Level::Fail,
                    format!(
                        "a browser at {origin} would block the call: preflight answered {} with Access-Control-Allow-Origin {} and Access-Control-Allow-Credentials {}",
                        response.status.as_u16(),
                        or_none(&allow_origin),
                        or_none(&allow_credentials)
                    ),
                    Some(
                        body["hint"]
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("add {origin} to CORS_ORIGINS")),
                    ),
                );
            }
        }
        Err(err) => report.add("cors preflight", Level::Fail, err.to_string(), None),
    }
}

/// Whether the browser at `origin` would send this API's cookies at all.
fn cookie_rules(base: &str, origin: &str, has_cookie: bool, report: &mut ProbeReport) {
    let api = Origin::parse(base);
    for rule in judge_origins(&api, &[Origin::parse(origin)], has_cookie) {
        report.add("cookies", rule.level, rule.message, rule.fix);
    }
}

fn json(response: &OutboundResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

/// A JSON value as a report line shows it: text without quotes, a list
/// joined, and a missing or null value as `(none)`, never `null`.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.is_empty() => "(none)".to_owned(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A header value, or `(none)` when the response had none.
fn or_none(value: &str) -> &str {
    if value.is_empty() { "(none)" } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_rules_follow_the_public_suffix_rule_for_vercel_app() {
        let mut report = ProbeReport::default();
        cookie_rules(
            "https://api.example.com",
            "https://app.example.com",
            true,
            &mut report,
        );
        cookie_rules(
            "https://api-x.vercel.app",
            "https://app-y.vercel.app",
            true,
            &mut report,
        );
        cookie_rules(
            "http://127.0.0.1:3000",
            "http://127.0.0.1:5173",
            true,
            &mut report,
        );
        assert_eq!(report.steps[0].level, Level::Pass, "{:?}", report.steps[0]);
        assert_eq!(report.steps[1].level, Level::Warn);
        assert!(report.steps[1].message.contains("public suffix"));
        assert_eq!(report.steps[2].level, Level::Pass);
    }
}

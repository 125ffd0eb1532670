//! `GET /api/debug/session`: what credentials arrived and what this
//! deployment made of them. Cookie names, header kinds, each credential's
//! kind and fingerprint with a JWT's header and claims decoded *unverified*,
//! then every check and the verdict, from the same code `gatehouse explain`
//! runs. Never a token, cookie value or secret.
//!
//! It exists in development, in preview with `DEBUG_ENDPOINTS=true`
//! (refused in production by the configuration validator), and anywhere for
//! an API key with the `admin` scope. Otherwise it answers 404, as if absent.

use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use gatehouse::auth::credential::{self, ExtractError, parse_cookies};
use gatehouse::auth::explain::{CredentialView, explain};
use gatehouse::auth::principal::Method;
use gatehouse::clock::unix_now;
use gatehouse::config::Environment;
use gatehouse::error::RequestError;
use gatehouse::http::json_response;
use gatehouse::route::{Ctx, HandlerFuture};

/// The scope an API key needs to use the route where it is otherwise off.
pub(super) const ADMIN_SCOPE: &str = "admin";

pub(super) fn session(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let config = ctx.state.config();
        let authenticator = ctx.state.authenticator()?;
        let headers = ctx.request.headers();
        let enabled = config.debug_endpoints || config.environment == Environment::Development;
        if !enabled {
            let admin = authenticator
                .authenticate(headers)
                .await
                .is_ok_and(|p| p.method == Method::ApiKey && p.has_scope(ADMIN_SCOPE));
            if !admin {
                return Err(RequestError::RouteNotFound {
                    path: ctx.request.uri().path().to_owned(),
                });
            }
        }
        let settings = authenticator.settings();
        let now = unix_now();
        let (used, checks, verdict) = match credential::extract(headers, &settings.cookie_names) {
            Ok(found) => {
                let explanation = explain(
                    authenticator,
                    found.token.expose(),
                    found.source.cookie_name(),
                    now,
                )
                .await;
                (
                    Some(found.source.to_string()),
                    json!(explanation.checks),
                    json!(explanation.verdict),
                )
            }
            Err(ExtractError::Missing | ExtractError::Unusable(_)) => {
                let refusal = authenticator.authenticate_at(headers, now).await.err();
                let verdict = refusal.map_or(Value::Null, |refusal| {
                    let (detail, hint) = refusal.texts(true);
                    json!({
                        "outcome": "refused",
                        "reason": refusal.reason.as_str(),
                        "status": refusal.reason.status().as_u16(),
                        "detail": detail,
                        "hint": hint,
                    })
                });
                (None, json!([]), verdict)
            }
        };
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "environment": config.environment.as_str(),
                "cookies": credential::cookie_names(headers),
                "headers": header_kinds(headers),
                "credentials": candidates(headers, &settings.cookie_names),
                "used": used,
                "checks": checks,
                "verdict": verdict,
                "note": "claims are decoded without verification: trust only the verdict",
            }),
        ))
    })
}

/// Which credential-bearing headers arrived, by kind: the `Authorization`
/// scheme, never its value.
fn header_kinds(headers: &HeaderMap) -> Value {
    let authorization = headers.get(http::header::AUTHORIZATION).map(|value| {
        let text = String::from_utf8_lossy(value.as_bytes());
        let scheme = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "bearer" | "apikey" | "basic" | "digest" => scheme,
            "" => "empty".to_owned(),
            _ => "other".to_owned(),
        }
    });
    json!({
        "authorization": authorization,
        "x_api_key": headers.contains_key("x-api-key"),
        "cookie": headers.contains_key(http::header::COOKIE),
        "origin": headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()),
    })
}

/// Every credential the request carries (the header one and each cookie a
/// verifier reads), described without its value.
fn candidates(headers: &HeaderMap, cookie_names: &[String]) -> Vec<CredentialView> {
    let mut views = Vec::new();
    if let Some(value) = headers.get(http::header::AUTHORIZATION)
        && let Ok(text) = value.to_str()
        && let Some((_, token)) = text.trim().split_once(' ')
        && !token.trim().is_empty()
    {
        views.push(CredentialView::new(
            "authorization_header".to_owned(),
            token.trim(),
        ));
    }
    if let Some(value) = headers.get("x-api-key")
        && let Ok(key) = value.to_str()
        && !key.trim().is_empty()
    {
        views.push(CredentialView::new(
            "x-api-key_header".to_owned(),
            key.trim(),
        ));
    }
    for (name, value) in parse_cookies(headers) {
        let base = name.split_once('.').map_or(name, |(base, chunk)| {
            if chunk.bytes().all(|b| b.is_ascii_digit()) {
                base
            } else {
                name
            }
        });
        if cookie_names
            .iter()
            .any(|known| known == name || known == base)
            && !value.is_empty()
        {
            views.push(CredentialView::new(format!("cookie:{name}"), value));
        }
    }
    views
}

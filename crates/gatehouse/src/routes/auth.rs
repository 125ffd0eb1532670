//! `GET /api/auth/session` (who am I, or exactly why not),
//! `GET /api/auth/token-health` (will my token keep working here?) and
//! `POST /api/auth/revoke` (this token, or all of mine, no longer works).

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{Ctx, HandlerFuture};
use crate::auth::jwt::{Method, rfc3339};
use crate::auth::opaque::revocation_unavailable;
use crate::auth::refusal::Refusal;
use crate::auth::revocation;
use crate::auth::unix_now;
use crate::error::{Reason, RequestError};
use crate::http::json_response;

/// The scope an API key needs to call `/api/auth/session`.
pub const SESSION_SCOPE: &str = "auth:session";

pub(super) fn session(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let principal = ctx.principal(Some(SESSION_SCOPE)).await?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "authenticated": true, "principal": principal }),
        ))
    })
}

/// Refusals a fresh credential from the same issuer would cure: a refresh,
/// or signing in again.
fn cured_by_refresh(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::TokenExpired
            | Reason::TokenNotYetValid
            | Reason::SessionExpired
            | Reason::SessionNotFound
            | Reason::TokenRevoked
    )
}

/// Always 200: the answer is the document, so a frontend can call it
/// before a token stops working, and act on `compatible` and `expires_in`.
pub(super) fn token_health(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let authenticator = ctx.state.authenticator()?;
        let server_version = authenticator.settings().token_version.map(|v| v.server);
        let shows_details = ctx.state.config().environment.shows_details();
        let now = unix_now();
        let body = match authenticator
            .authenticate_at(ctx.request.headers(), now)
            .await
        {
            Ok(principal) => json!({
                "authenticated": true,
                "compatible": true,
                "reason": null,
                "detail": null,
                "hint": principal.signed_with_previous_secret.then_some(
                    "signed with the previous secret (JWT_SECRET_PREVIOUS): get a new token before the rotation completes"
                ),
                "token_version": principal.token_version,
                "server_version": server_version,
                "expires_in": principal.expires_at.map(|exp| exp.saturating_sub(now)),
                "signed_with_previous_secret": principal.signed_with_previous_secret,
            }),
            Err(refusal) => {
                let reason = refusal.reason;
                let (detail, hint) = refusal.texts(shows_details);
                // Unknown when nothing was sent or our own dependency failed.
                let compatible = match reason {
                    Reason::CredentialsMissing => None,
                    r if r.status().is_server_error() => None,
                    r => Some(cured_by_refresh(r)),
                };
                tracing::debug!(target: "gatehouse::auth", reason = reason.as_str(), "token-health: not authenticated");
                json!({
                    "authenticated": false,
                    "compatible": compatible,
                    "reason": reason.as_str(),
                    "detail": detail,
                    "hint": hint,
                    "token_version": refusal.facts.token_version,
                    "server_version": server_version,
                    "expires_in": refusal.facts.exp.map(|exp| exp.saturating_sub(now)),
                    "signed_with_previous_secret": false,
                })
            }
        };
        Ok(json_response(StatusCode::OK, &body))
    })
}

/// The body of `POST /api/auth/revoke`; empty means `{"all": false}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    #[serde(default)]
    all: bool,
}

impl RevokeRequest {
    /// The body, read as JSON whatever its `Content-Type`. Only an object:
    /// serde would also take a struct from an array (`[true]`).
    fn parse(body: &[u8]) -> Result<RevokeRequest, RequestError> {
        if body.is_empty() {
            return Ok(RevokeRequest::default());
        }
        let malformed = |problem: String| RequestError::Malformed {
            detail: format!("the body is not {{\"all\": true|false}}: {problem}"),
        };
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(object @ serde_json::Value::Object(_)) => {
                serde_json::from_value(object).map_err(|err| malformed(err.to_string()))
            }
            Ok(_) => Err(malformed("not a JSON object".to_owned())),
            Err(err) => Err(malformed(err.to_string())),
        }
    }
}

/// Revokes the presented credential, or with `{"all": true}` (or `?all=true`)
/// every credential of the caller issued before now. Recorded in Postgres,
/// so every instance refuses them from the next request on.
pub(super) fn revoke(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let authenticator = ctx.state.authenticator()?;
        if !authenticator.settings().checks_revocation() {
            return Err(Refusal::new(
                Reason::Misconfigured,
                "TOKEN_REVOCATION is off, so a revocation would never be checked",
                "unset TOKEN_REVOCATION (it defaults to on when DATABASE_URL is set)",
            )
            .into());
        }
        if !ctx.request.body().is_empty() {
            super::require_json(&ctx)?;
        }
        let request = RevokeRequest::parse(ctx.request.body())?;
        let all = super::query_flag(ctx.request.uri(), "all")? || request.all;
        let principal = ctx.principal(None).await?;
        if principal.method == Method::ApiKey {
            return Err(Refusal::new(
                Reason::Forbidden,
                "API keys are not revoked here",
                "revoke a key with `gatehouse api-keys revoke <id>`",
            )
            .into());
        }
        let db = ctx.state.database()?;
        let stored = |err| RequestError::Refused(Box::new(revocation_unavailable(err)));
        if all {
            let not_before = revocation::revoke_subject(&db, &principal.subject)
                .await
                .map_err(stored)?;
            tracing::info!(target: "gatehouse::auth::revocation", subject = principal.subject.as_str(), "every credential of the subject issued before now revoked");
            return Ok(json_response(
                StatusCode::OK,
                &json!({
                    "revoked": "all",
                    "subject": principal.subject,
                    "not_before": rfc3339(not_before.floor() as i64),
                }),
            ));
        }
        let Some(id) = principal.revocation_id.as_deref() else {
            return Err(RequestError::Internal(
                "an accepted credential has no revocation id while revocation is on".into(),
            ));
        };
        // Kept until the credential would have expired anyway.
        let until = principal
            .expires_at
            .unwrap_or_else(|| unix_now() + 365 * 86_400);
        revocation::revoke_token(&db, id, &principal.subject, until)
            .await
            .map_err(stored)?;
        tracing::info!(target: "gatehouse::auth::revocation", subject = principal.subject.as_str(), by = if id.starts_with("jti:") { "jti" } else { "fingerprint" }, "credential revoked");
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "revoked": "token",
                "by": if id.starts_with("jti:") { "jti" } else { "fingerprint" },
                "subject": principal.subject,
                "until": rfc3339(until),
            }),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_bodies_are_empty_or_an_object() {
        assert!(!RevokeRequest::parse(b"").unwrap().all);
        assert!(RevokeRequest::parse(br#"{"all": true}"#).unwrap().all);
        assert!(!RevokeRequest::parse(b"{}").unwrap().all);
        let bad: [&[u8]; 7] = [
            b"[true]",
            b"[]",
            b"true",
            b"null",
            br#"{"all": "yes"}"#,
            br#"{"every": true}"#,
            b"{",
        ];
        for body in bad {
            assert!(
                matches!(
                    RevokeRequest::parse(body),
                    Err(RequestError::Malformed { .. })
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

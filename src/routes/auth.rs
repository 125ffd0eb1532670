//! `GET /api/auth/session` (who am I, or exactly why not),
//! `GET /api/auth/token-health` (will my token keep working here?) and
//! `POST /api/auth/revoke` (this token, or all of mine, no longer works).

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use gatehouse::auth::better_auth;
use gatehouse::auth::principal::Method;
use gatehouse::auth::refusal::Refusal;
use gatehouse::auth::revocation::revocation_unavailable;
use gatehouse::auth::sessions;
use gatehouse::clock::rfc3339;
use gatehouse::clock::unix_now;
use gatehouse::error::{Reason, RequestError};
use gatehouse::http::json_response;
use gatehouse::route::{Ctx, HandlerFuture};

/// The scope an API key needs to call `/api/auth/session`.
pub(super) const SESSION_SCOPE: &str = "auth:session";

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
/// every credential of the caller issued before now. Recorded in Postgres
/// and in this process's copy of the revocation state: refused here at
/// once, by every other instance within `REVOCATION_SYNC_MS`.
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
            gatehouse::route::require_json(&ctx)?;
        }
        let request = RevokeRequest::parse(ctx.request.body())?;
        let all = gatehouse::route::query_flag(ctx.request.uri(), "all")? || request.all;
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
            let not_before = authenticator
                .revoke_subject(&db, &principal.identity())
                .await
                .map_err(stored)?;
            // The cutoff refuses them already; deleting the rows also keeps
            // the table small.
            let ended = sessions::end_all(&db, &principal.identity()).await?;
            tracing::info!(target: "gatehouse::auth::revocation", subject = principal.subject.as_str(), sessions_ended = ended, "every credential of the subject issued before now revoked");
            return Ok(json_response(
                StatusCode::OK,
                &json!({
                    "revoked": "all",
                    "subject": principal.subject,
                    "not_before": rfc3339(not_before.floor() as i64),
                    "sessions_ended": ended,
                }),
            ));
        }
        let Some(id) = principal.revocation_id.as_deref() else {
            return Err(RequestError::Internal(
                "an accepted credential has no revocation id while revocation is on".into(),
            ));
        };
        let by = revoked_by(id);
        // Kept until the credential would have expired anyway. A session
        // the auth server extends on use (remote Better Auth) has no fixed
        // end: its row is kept as long as a browser keeps a cookie.
        let until = match (principal.method, principal.expires_at) {
            (Method::BetterAuthRemote, _) | (_, None) => unix_now() + 400 * 86_400,
            (_, Some(expires_at)) => expires_at,
        };
        authenticator
            .revoke_token(&db, id, &principal.identity(), until)
            .await
            .map_err(stored)?;
        // Sessions exchanged for this credential go with it.
        let derived = sessions::end_derived(&db, id).await?;
        // A session row is deleted too, so that it cannot come back once the
        // revocation row expires, even when its store slides its expiry.
        let session_id = principal.session_id.as_deref();
        let revoked = match (principal.method, session_id) {
            (Method::GatehouseSession, Some(session)) => {
                if let Ok(session) = uuid::Uuid::parse_str(session) {
                    sessions::end(&db, session).await?;
                }
                "session"
            }
            (Method::BetterAuthSession, Some(session)) => {
                better_auth::database::delete(&db, session).await?;
                "session"
            }
            (Method::BetterAuthRemote, _) => "session",
            _ => "token",
        };
        tracing::info!(target: "gatehouse::auth::revocation", subject = principal.subject.as_str(), revoked, by, "credential revoked");
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "revoked": revoked,
                "by": by,
                "method": principal.method,
                "session_id": principal.session_id,
                "subject": principal.subject,
                "until": rfc3339(until),
                "sessions_ended": derived,
            }),
        ))
    })
}

/// What a revocation id names: the token's `jti`, a session by its id, or
/// the whole token by its SHA-256 fingerprint.
fn revoked_by(id: &str) -> &'static str {
    if id.starts_with("jti:") {
        "jti"
    } else if id.starts_with("session:") {
        "session_id"
    } else {
        "fingerprint"
    }
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

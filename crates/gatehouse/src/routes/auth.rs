//! `GET /api/auth/session` (who am I, or exactly why not) and
//! `GET /api/auth/token-health` (will my token keep working here?).

use http::StatusCode;
use serde_json::json;

use super::{Ctx, HandlerFuture};
use crate::auth::unix_now;
use crate::error::{Reason, RequestError};
use crate::http::json_response;

pub(super) fn session(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let authenticator = ctx.state.authenticator()?;
        let principal = authenticator
            .authenticate(ctx.request.headers())
            .await
            .map_err(RequestError::Refused)?;
        tracing::Span::current().record("subject", principal.subject.as_str());
        Ok(json_response(
            StatusCode::OK,
            &json!({ "authenticated": true, "principal": principal }),
        ))
    })
}

/// Refusals a fresh token from the same issuer would cure.
fn cured_by_refresh(reason: Reason) -> bool {
    matches!(reason, Reason::TokenExpired | Reason::TokenNotYetValid)
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
                "expires_in": principal.expires_at - now,
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
                    "expires_in": refusal.facts.exp.map(|exp| exp - now),
                    "signed_with_previous_secret": false,
                })
            }
        };
        Ok(json_response(StatusCode::OK, &body))
    })
}

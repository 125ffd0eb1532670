//! `POST /api/auth/exchange` (any accepted credential for a session this
//! API owns) and `POST /api/auth/logout` (end it, or `?all=true` all of the
//! caller's). The sessions themselves: [`gatehouse::auth::sessions`].

use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use gatehouse::auth::principal::Method;
use gatehouse::auth::refusal::Refusal;
use gatehouse::auth::sessions::{self, SessionError};
use gatehouse::clock::rfc3339;
use gatehouse::clock::unix_now;
use gatehouse::error::{Reason, RequestError};
use gatehouse::http::{Response, json_response};
use gatehouse::route::{Ctx, HandlerFuture, query_flag};

pub(super) fn exchange(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let principal = ctx.principal(None).await?;
        if principal.method == Method::ApiKey {
            return Err(Refusal::new(
                Reason::Forbidden,
                "an API key cannot be exchanged for a session: sessions are for users, and a service calls the API with its key directly",
                "send the user's session cookie or token to /api/auth/exchange",
            )
            .into());
        }
        // Else a stolen session could renew itself forever, each copy with a
        // fresh lifetime.
        if principal.method == Method::GatehouseSession {
            return Err(Refusal::new(
                Reason::Forbidden,
                "a session of this API cannot be exchanged for another one",
                "keep using the session you have; when it ends, exchange the auth provider's credential (its cookie or token) again",
            )
            .into());
        }
        let db = ctx.state.database()?;
        let authenticator = ctx.state.authenticator()?;
        let settings = &authenticator.settings().sessions;
        let source = authenticator.session_source(&principal);
        let created = sessions::create(&db, &principal, &source, settings)
            .await
            .map_err(|err| match err {
                SessionError::Store(err) => RequestError::DatabaseUnavailable(err),
                other => RequestError::Internal(other.to_string()),
            })?;
        tracing::info!(target: "gatehouse::auth::sessions", subject = principal.subject.as_str(), session_id = %created.id, "session created by exchange");
        let now = unix_now();
        let mut response = json_response(
            StatusCode::CREATED,
            &json!({
                "token": created.token,
                "token_type": "Bearer",
                "session_id": created.id.to_string(),
                "expires_at": rfc3339(created.expires_at),
                "expires_in": created.expires_at.saturating_sub(now),
                "cookie": settings.cookie_name(),
                "principal": principal,
            }),
        );
        set_cookie(
            &mut response,
            &settings.set_cookie(&created.token, settings.ttl.min(settings.max_lifetime)),
        );
        Ok(response)
    })
}

pub(super) fn logout(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let authenticator = ctx.state.authenticator()?;
        let settings = &authenticator.settings().sessions;
        let all = query_flag(ctx.request.uri(), "all")?;
        let principal = match authenticator.authenticate(ctx.request.headers()).await {
            Ok(principal) => principal,
            // Already over: say so, and clear the browser's stale cookie.
            Err(refusal)
                if !all
                    && refusal.facts.token_kind == Some("gatehouse_session")
                    && matches!(
                        refusal.reason,
                        Reason::SessionNotFound | Reason::SessionExpired | Reason::TokenRevoked
                    ) =>
            {
                return Ok(ended(settings, 0, refusal.reason.as_str()));
            }
            Err(refusal) => return Err(RequestError::Refused(refusal)),
        };
        tracing::Span::current().record("subject", principal.subject.as_str());
        let db = ctx.state.database()?;
        if all {
            let count = sessions::end_all(&db, &principal.identity()).await?;
            tracing::info!(target: "gatehouse::auth::sessions", subject = principal.subject.as_str(), count, "every session of the subject ended");
            return Ok(ended(settings, count, "logged_out_everywhere"));
        }
        let session = principal
            .session_id
            .as_deref()
            .filter(|_| principal.method == Method::GatehouseSession)
            .and_then(|id| uuid::Uuid::parse_str(id).ok());
        let Some(session) = session else {
            return Err(Refusal::new(
                Reason::Forbidden,
                "the credential is not a session of this API, so there is no session here to end",
                "send the session from POST /api/auth/exchange (its cookie or token); to end all of the caller's sessions use ?all=true; sign out of the auth server itself there",
            )
            .into());
        };
        let count = u64::from(sessions::end(&db, session).await?);
        tracing::info!(target: "gatehouse::auth::sessions", subject = principal.subject.as_str(), session_id = %session, "session ended");
        Ok(ended(settings, count, "logged_out"))
    })
}

fn ended(
    settings: &gatehouse::auth::settings::SessionSettings,
    count: u64,
    outcome: &'static str,
) -> Response {
    let mut response = json_response(
        StatusCode::OK,
        &json!({ "outcome": outcome, "sessions_ended": count }),
    );
    set_cookie(&mut response, &settings.set_cookie("", Duration::ZERO));
    response
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

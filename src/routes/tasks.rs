//! `/api/tasks` and `/api/tasks/[id]`: the reference routes. A credential
//! arrives, a principal is established, the data is scoped to it, and the
//! answer comes from the pooled Postgres. The logic is in [`crate::tasks`].

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;

use crate::tasks::store::{self, DeferredRevocation, Idempotency, StoredTask};
use crate::tasks::{
    ListQuery, NewTask, Precondition, READ_SCOPE, TaskPatch, WRITE_SCOPE, idempotency_key,
    owner_of, parse_id,
};
use gatehouse::error::RequestError;
use gatehouse::http::{Response, json_response};
use gatehouse::route::{Ctx, HandlerFuture, parse_query, require_json};

/// `GET` lists a page of the caller's tasks; `POST` creates one.
pub(super) fn collection(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let write = ctx.request.method() == Method::POST;
        // The busiest routes: the revocation check rides in their statement.
        let principal = ctx
            .principal_deferring_revocation(Some(scope(write)))
            .await?;
        let deferred = principal
            .deferred_revocation()
            .map(|revocation_id| DeferredRevocation {
                revocation_id,
                issued_at: principal.issued_at,
            });
        let db = ctx.state.database()?;
        let owner = &owner_of(&principal);
        if !write {
            let pairs = parse_query(ctx.request.uri().query().unwrap_or_default());
            let query = ListQuery::parse(&pairs)?;
            let page = store::list(&db, owner, &query, deferred).await?;
            if let Some(revoked) = page.revoked {
                return Err(ctx.refuse_revoked(
                    &principal,
                    revoked.token_revoked_at,
                    revoked.subject_not_before,
                ));
            }
            let items: Vec<_> = page.tasks.iter().map(StoredTask::view).collect();
            return Ok(json_response(
                StatusCode::OK,
                &json!({ "items": items, "next_cursor": page.next.map(|cursor| cursor.encode()) }),
            ));
        }
        require_json(&ctx)?;
        let task = NewTask::parse(ctx.request.body())?;
        let idempotency = match ctx.request.headers().get("idempotency-key") {
            Some(raw) => Some(Idempotency {
                key: idempotency_key(raw.as_bytes())?,
                fingerprint: task.fingerprint(),
            }),
            None => None,
        };
        let created = match store::create(&db, owner, &task, idempotency.as_ref(), deferred).await?
        {
            Ok(created) => created,
            Err(revoked) => {
                return Err(ctx.refuse_revoked(
                    &principal,
                    revoked.token_revoked_at,
                    revoked.subject_not_before,
                ));
            }
        };
        let mut response = with_etag(StatusCode::CREATED, &created.task);
        let location = format!("/api/tasks/{}", created.task.id);
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        if created.replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        Ok(response)
    })
}

/// `GET`, `PATCH` (with `If-Match`) and `DELETE` one task.
pub(super) fn item(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        let method = ctx.request.method().clone();
        let principal = ctx.principal(Some(scope(method != Method::GET))).await?;
        let db = ctx.state.database()?;
        let owner = &owner_of(&principal);
        let id = parse_id(ctx.param("id").unwrap_or_default())?;
        let precondition = ctx
            .request
            .headers()
            .get(header::IF_MATCH)
            .map(|value| Precondition::parse(value.to_str().unwrap_or_default()));
        match method {
            Method::PATCH => {
                // Validate first: a bad body is the client's to fix whatever
                // the task's state.
                require_json(&ctx)?;
                let patch = TaskPatch::parse(ctx.request.body())?;
                let Some(precondition) = precondition else {
                    return Err(RequestError::PreconditionRequired { method });
                };
                let task = store::update(&db, owner, id, &patch, precondition).await?;
                Ok(with_etag(StatusCode::OK, &task))
            }
            Method::DELETE => {
                store::delete(&db, owner, id, precondition).await?;
                let mut response = Response::new(bytes::Bytes::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok(response)
            }
            _ => {
                let task = store::get(&db, owner, id)
                    .await?
                    .ok_or_else(crate::tasks::not_found)?;
                Ok(with_etag(StatusCode::OK, &task))
            }
        }
    })
}

/// The scope an API key needs for a read or a write.
fn scope(write: bool) -> &'static str {
    if write { WRITE_SCOPE } else { READ_SCOPE }
}

fn with_etag(status: StatusCode, task: &StoredTask) -> Response {
    let mut response = json_response(status, &task.view());
    if let Ok(value) = HeaderValue::from_str(&task.etag()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

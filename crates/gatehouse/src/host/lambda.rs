//! The AWS Lambda host: `lambda_http` polls the Runtime API and converts API
//! Gateway (REST v1, HTTP v2), Function URL and ALB events.
//!
//! Classic Lambda sends one event at a time per process: a current-thread
//! runtime is enough, and cheapest at cold start. Lambda Managed Instances set
//! `AWS_LAMBDA_MAX_CONCURRENCY` above 1 and send that many at once: then a
//! multi-threaded runtime polls with as many loops (`run_concurrent`, feature
//! `concurrency-tokio`). The state is shared safely either way, as on Vercel.
//!
//! A function serving a route table routes by the event's path, without the
//! stage prefix `lambda_http` adds for a named API Gateway stage (`/prod`):
//! the route table is the same behind any stage.

use lambda_http::request::RequestContext;
use lambda_http::{Body as LambdaBody, RequestExt};

use super::served::Served;
use crate::App;
use crate::config::{Env, Needs};
use crate::error::{RequestError, StartupError};
use crate::http::request::{MAX_BODY_BYTES, RequestId};
use crate::http::{Body, Request, Response};

/// Set by Lambda itself; `lambda_runtime` panics without them, so check first.
const REQUIRED: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// `prepare`: what the cold start prepares for, decided by the caller from
/// the binary's constant route ([`App::prepare`]).
pub fn run(app: App, served: Served, prepare: Needs, env: &Env) -> Result<(), StartupError> {
    if let Some(variable) = REQUIRED
        .into_iter()
        .find(|variable| env.get(variable).is_none())
    {
        return Err(StartupError::LambdaEnvironment { variable });
    }
    let concurrent = env
        .get("AWS_LAMBDA_MAX_CONCURRENCY")
        .and_then(|value| value.trim().parse::<u32>().ok())
        .is_some_and(|limit| limit > 1);
    let runtime = if concurrent {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()
    .map_err(StartupError::Runtime)?;
    app.prepare(&runtime, prepare);
    runtime.block_on(async move {
        let handler = lambda_http::service_fn(move |event: lambda_http::Request| {
            let app = app.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(&app, served, event).await) }
        });
        // Sequential when the variable is unset or 1 (classic Lambda).
        lambda_http::run_concurrent(handler)
            .await
            .map_err(|err| StartupError::Host {
                host: "lambda",
                message: err.to_string(),
            })
    })
}

async fn handle(
    app: &App,
    served: Served,
    event: lambda_http::Request,
) -> http::Response<LambdaBody> {
    let request_id = RequestId::from_platform(
        event
            .lambda_context_ref()
            .map(|context| context.request_id.as_str()),
    );
    let Some(route) = served.route_for(routed_path(&event)) else {
        let path = event.uri().path().to_owned();
        let err = RequestError::RouteNotFound { path };
        return to_lambda(app.refuse_early(&err, &request_id, event.method(), None));
    };
    let (parts, body) = event.into_parts();
    let bytes = match body {
        LambdaBody::Empty => Body::new(),
        LambdaBody::Text(text) => Body::from(text),
        LambdaBody::Binary(bytes) => Body::from(bytes),
        _ => Body::new(),
    };
    let response = if bytes.len() > MAX_BODY_BYTES {
        let err = RequestError::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        };
        app.refuse_early(&err, &request_id, &parts.method, Some(route.pattern))
    } else {
        app.handle(route, Request::from_parts(parts, bytes), request_id)
            .await
    };
    to_lambda(response)
}

/// The path a route table is matched against: the request's path without
/// the `/<stage>` prefix of a named API Gateway stage (`$default` has none).
fn routed_path(event: &lambda_http::Request) -> &str {
    let path = event.uri().path();
    let stage = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.as_deref(),
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.as_deref(),
        _ => None,
    };
    stage
        .filter(|stage| *stage != "$default")
        .and_then(|stage| path.strip_prefix('/')?.strip_prefix(stage))
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(path)
}

/// Text bodies stay text; anything else is sent as binary (base64 on the wire).
fn to_lambda(response: Response) -> http::Response<LambdaBody> {
    let (parts, body) = response.into_parts();
    let is_text = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/") || ct.contains("json"));
    let body = if body.is_empty() {
        LambdaBody::Empty
    } else if is_text {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => LambdaBody::Text(text),
            Err(err) => LambdaBody::Binary(err.into_bytes()),
        }
    } else {
        LambdaBody::Binary(body.to_vec())
    };
    http::Response::from_parts(parts, body)
}

//! What happens to every request, on every host: validation, method checks,
//! the misconfiguration guard, the handler, and the one mapping from
//! [`RequestError`] to a response, all inside a span carrying the request id.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt as _;
use http::{HeaderValue, Method, StatusCode, header};
use tracing::Instrument;

use crate::config::{Config, ConfigErrors, Env, Environment, Needs};
use crate::error::RequestError;
use crate::http::cors;
use crate::http::request::{self, RequestId};
use crate::http::{Body, Request, Response};
use crate::route::{Ctx, Route};
use crate::state::State;

/// A loaded process: either ready to serve, or misconfigured and answering
/// every request with the reason. Built once at cold start.
#[derive(Debug, Clone)]
pub struct App {
    state: Result<Arc<State>, Arc<ConfigErrors>>,
    environment: Environment,
}

impl App {
    /// Reads the configuration `needs` requires and logs the outcome. Call
    /// after [`crate::observability::init`].
    pub fn load(env: &Env, needs: Needs) -> Self {
        Self::from_config(Config::load(env, needs))
    }

    pub fn from_config(config: Result<Config, ConfigErrors>) -> Self {
        match config {
            Ok(config) => {
                log_warnings(&config.warnings);
                App {
                    environment: config.environment,
                    state: Ok(Arc::new(State::new(config))),
                }
            }
            Err(errors) => {
                log_warnings(&errors.warnings);
                tracing::error!(
                    target: "gatehouse::config",
                    environment = errors.environment.as_str(),
                    count = errors.problems.len(),
                    problems = %serde_json::to_string(&errors.problems).unwrap_or_default(),
                    "configuration invalid: every request will be answered 500 misconfigured until it is fixed"
                );
                App {
                    environment: errors.environment,
                    state: Err(Arc::new(errors)),
                }
            }
        }
    }

    /// Starts [`State::prepare`] for `needs` on `runtime`, so a cold
    /// start's first connection overlaps with the host's start-up and the
    /// platform's first request. Called outside any async block with the
    /// route's constant `needs`, so that a binary whose route needs neither
    /// (`health`) has this folded away and links no database code.
    pub fn prepare(&self, runtime: &tokio::runtime::Runtime, needs: Needs) {
        if !(needs.auth || needs.database) {
            return;
        }
        if let Ok(state) = &self.state {
            let state = state.clone();
            runtime.spawn(async move { state.prepare(needs).await });
        }
    }

    pub fn state(&self) -> Option<&Arc<State>> {
        self.state.as_ref().ok()
    }

    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// Serves one request for `route`.
    pub async fn handle(
        &self,
        route: &'static Route,
        request: Request,
        request_id: RequestId,
    ) -> Response {
        let span = request_span(&request_id, request.method(), route.pattern);
        // A reference-counted clone, not a copy of the text.
        let origin = request.headers().get(http::header::ORIGIN).cloned();
        async {
            let started = std::time::Instant::now();
            // A panicking handler ends its own request with a 500, not the
            // process: Vercel serves concurrent requests from one process,
            // and a warm Lambda instance keeps its pool. The release profile
            // keeps `panic = "unwind"` for this (cargo-lambda would inject
            // "abort" otherwise). Shared state is either lock-free or
            // tolerates poisoned locks.
            let outcome = AssertUnwindSafe(self.dispatch(route, request, &request_id))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(RequestError::Internal(panic_message(&*panic))));
            let mut response = match outcome {
                Ok(response) => with_request_id(response, &request_id),
                Err(err) => self.refuse_on(route.pattern, &err, &request_id),
            };
            if let Ok(state) = &self.state {
                cors::decorate(
                    &state.config().auth.cors_origins,
                    origin.as_ref().and_then(|value| value.to_str().ok()),
                    &mut response,
                );
            }
            tracing::debug!(
                target: "gatehouse::request",
                status = response.status().as_u16(),
                elapsed_us = started.elapsed().as_micros() as u64,
                "request served"
            );
            response
        }
        .instrument(span)
        .await
    }

    async fn dispatch(
        &self,
        route: &'static Route,
        request: Request,
        request_id: &RequestId,
    ) -> Result<Response, RequestError> {
        let (parts, body) = request.into_parts();
        request::check(&parts)?;
        let is_head = parts.method == Method::HEAD;
        if parts.method == Method::OPTIONS {
            if let Ok(state) = &self.state
                && cors::is_preflight(&parts.method, &parts.headers)
            {
                return cors::preflight(
                    &state.config().auth.cors_origins,
                    &parts.headers,
                    route.methods,
                );
            }
            return Ok(options(route.methods));
        }
        let effective = if is_head {
            Method::GET
        } else {
            parts.method.clone()
        };
        if !route.methods.contains(&effective) {
            return Err(RequestError::MethodNotAllowed {
                method: parts.method.clone(),
                allow: route.methods,
            });
        }
        let state = self
            .state
            .as_ref()
            .map_err(|errors| RequestError::Misconfigured(errors.clone()))?;
        let origins = &state.config().auth.cors_origins;
        if let Some(origin) = cors::forged_write(origins, &parts.method, &parts.headers) {
            return Err(RequestError::OriginNotAllowed {
                origin: origin.to_owned(),
                configured: !origins.is_empty(),
            });
        }
        // A process serving several routes (the dev server) loads what any
        // route might use; each route is refused only for what it needs.
        let missing = state.config().missing(route.needs);
        if !missing.is_empty() {
            return Err(RequestError::Misconfigured(Arc::new(ConfigErrors {
                environment: self.environment,
                log: state.config().log.clone(),
                problems: missing,
                warnings: Vec::new(),
            })));
        }
        let params = route
            .params(&parts.uri)
            .ok_or_else(|| RequestError::RouteNotFound {
                path: parts.uri.path().to_owned(),
            })?;
        let ctx = Ctx {
            state: state.clone(),
            request: Request::from_parts(parts, body),
            request_id: request_id.clone(),
            params,
        };
        let mut response = (route.handler)(ctx).await?;
        if is_head {
            *response.body_mut() = Body::new();
        }
        Ok(response)
    }

    /// The response for a failure, logged. Hosts call it for failures found
    /// before the pipeline runs (an unreadable body, an unknown route).
    /// Refuses a request the pipeline never saw (an oversized or unreadable
    /// body, an unknown route) inside the same `request` span
    /// [`App::handle`] opens, so the log carries the id the response names.
    pub fn refuse_early(
        &self,
        err: &RequestError,
        request_id: &RequestId,
        method: &Method,
        route: Option<&'static str>,
    ) -> Response {
        let route = route.unwrap_or_default();
        let span = request_span(request_id, method, route);
        span.in_scope(|| self.refuse_on(route, err, request_id))
    }

    fn refuse_on(&self, route: &str, err: &RequestError, request_id: &RequestId) -> Response {
        let reason = err.reason();
        let status = reason.status();
        if let RequestError::Refused(refusal) = err {
            refusal.log(request_id.as_str(), route);
        } else if status.is_server_error() {
            tracing::error!(target: "gatehouse::request", reason = reason.as_str(), status = status.as_u16(), error = %err, "request failed");
        } else {
            tracing::info!(target: "gatehouse::request", reason = reason.as_str(), status = status.as_u16(), error = %err, "request refused");
        }
        let response = err
            .to_problem(self.environment.shows_details())
            .into_response(Some(request_id.as_str()));
        with_request_id(response, request_id)
    }
}

/// The span every request runs in; `subject` is recorded when known. The
/// status is a field of the events, not the span: recording into a span makes
/// the JSON layer rewrite its fields on every request (~6% of CPU).
fn request_span(request_id: &RequestId, method: &Method, route: &str) -> tracing::Span {
    tracing::info_span!(
        target: "gatehouse::request",
        "request",
        request_id = %request_id,
        method = %method,
        route,
        subject = tracing::field::Empty,
    )
}

/// What a caught panic said, for the log only (`internal_error` bodies never
/// carry it). Panic payloads are the `&str` or `String` given to `panic!`.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-text payload");
    format!("the handler panicked: {text}")
}

fn log_warnings(warnings: &[crate::config::ConfigProblem]) {
    if !warnings.is_empty() {
        tracing::warn!(
            target: "gatehouse::config",
            count = warnings.len(),
            warnings = %serde_json::to_string(warnings).unwrap_or_default(),
            "configuration warnings"
        );
    }
}

fn with_request_id(mut response: Response, request_id: &RequestId) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

fn options(methods: &'static [Method]) -> Response {
    let mut response = http::Response::new(Body::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(allow) = HeaderValue::from_str(&crate::http::problem::allow_list(methods)) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

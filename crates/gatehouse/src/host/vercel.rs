//! The Vercel host: `vercel_runtime` 2.x serves HTTP/1.1 on
//! `127.0.0.1:$VERCEL_DEV_PORT` and reports to `$VERCEL_IPC_PATH`; one process
//! serves concurrent requests, so everything it touches is shared state.
//! A function per route serves whatever Vercel routes to it; a table picks
//! the route by the request's path.

use std::sync::Arc;

use super::incoming;
use super::served::Served;
use crate::App;
use crate::config::Needs;
use crate::error::{RequestError, StartupError};
use crate::http::request::RequestId;

/// `prepare`: what the cold start prepares for, decided by the caller from
/// the binary's constant route ([`App::prepare`]).
pub fn run(app: App, served: Served, prepare: Needs) -> Result<(), StartupError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartupError::Runtime)?;
    let app = Arc::new(app);
    app.prepare(&runtime, prepare);
    runtime.block_on(async move {
        let service = vercel_runtime::service_fn(move |request: vercel_runtime::Request| {
            let app = app.clone();
            async move {
                let response = handle(&app, served, request).await;
                Ok::<_, vercel_runtime::Error>(response.map(vercel_runtime::ResponseBody::from))
            }
        });
        vercel_runtime::run(service)
            .await
            .map_err(|err| StartupError::Host {
                host: "vercel",
                message: err.to_string(),
            })
    })
}

async fn handle(
    app: &App,
    served: Served,
    request: vercel_runtime::Request,
) -> crate::http::Response {
    let request_id = RequestId::from_platform(
        request
            .headers()
            .get("x-vercel-id")
            .and_then(|value| value.to_str().ok()),
    );
    let method = request.method().clone();
    let Some(route) = served.route_for(request.uri().path()) else {
        let path = request.uri().path().to_owned();
        return app.refuse_early(
            &RequestError::RouteNotFound { path },
            &request_id,
            &method,
            None,
        );
    };
    match incoming::buffer(request).await {
        Ok(request) => app.handle(route, request, request_id).await,
        Err(err) => app.refuse_early(&err, &request_id, &method, Some(route.pattern)),
    }
}

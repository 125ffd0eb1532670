//! `gatehouse dev`: every route in one local process, routed the way Vercel
//! routes (`api/tasks/[id].rs` serves `/api/tasks/42` and receives `id=42` as
//! a query parameter, the original path kept), through the same pipeline the
//! function binaries run.

use std::future::Future;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::incoming;
use crate::App;
use crate::error::{RequestError, StartupError};
use crate::http::Response;
use crate::http::request::RequestId;
use crate::route::{Route, find_route};

/// Serves `routes` on `listener` until `shutdown` completes, then lets
/// in-flight connections finish.
pub async fn serve(
    app: App,
    routes: &'static [&'static Route],
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartupError> {
    let app = Arc::new(app);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: keep serving,
                    // after a pause so the loop does not spin on the error.
                    tracing::warn!(target: "gatehouse::host", error = %err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        route(&app, routes, request)
                            .await
                            .map(http_body_util::Full::new),
                    )
                }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    // Give open connections a bounded time to finish their requests.
    let drain = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
    Ok(())
}

async fn route(
    app: &App,
    routes: &'static [&'static Route],
    request: hyper::Request<hyper::body::Incoming>,
) -> Response {
    let request_id = RequestId::generate();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let Some((route, params)) = find_route(routes, &path)
        .and_then(|route| route.match_path(&path).map(|params| (route, params)))
    else {
        let err = RequestError::RouteNotFound { path };
        return app.refuse_early(&err, &request_id, &method, None);
    };
    let mut request = match incoming::buffer(request).await {
        Ok(request) => request,
        Err(err) => {
            return app.refuse_early(&err, &request_id, &method, Some(route.pattern));
        }
    };
    if !params.is_empty() {
        // As Vercel does: dynamic segments become query parameters.
        let mut query = request.uri().query().unwrap_or_default().to_owned();
        for (name, value) in params {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(name);
            query.push('=');
            query.push_str(value);
        }
        if let Ok(uri) = format!("{path}?{query}").parse() {
            *request.uri_mut() = uri;
        }
    }
    app.handle(route, request, request_id).await
}

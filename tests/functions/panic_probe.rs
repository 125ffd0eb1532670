//! Test-only function (cargo feature `panic-probe`; no file under `api/`
//! serves it, so no deployment builds it): `GET /api/panic-probe` answers
//! `{"pid": N}`, and `GET /api/panic-probe?panic=1` panics inside its handler.
//! It shows that a panic ends one request, not the process: the tests drive it
//! over the Vercel protocol and the Lambda Runtime API, and
//! `deploy/aws/check` does the same with the binary cargo-lambda builds with
//! the release profile (which must keep `panic = "unwind"`).
//!
//! Written only against the runtime's public API, as a team's own route is.

use gatehouse::Needs;
use gatehouse::http::json_response;
use gatehouse::route::{Ctx, HandlerFuture, Route};
use http::{Method, StatusCode};

static PANIC_PROBE: Route = Route {
    pattern: "/api/panic-probe",
    methods: &[Method::GET],
    needs: Needs::NONE,
    handler: probe,
};

#[allow(clippy::panic)]
fn probe(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        if ctx.request.uri().query() == Some("panic=1") {
            panic!("panic-probe: panicking on purpose, as asked");
        }
        Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({ "pid": std::process::id() }),
        ))
    })
}

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&PANIC_PROBE)
}

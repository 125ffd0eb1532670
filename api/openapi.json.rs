//! `GET /api/openapi.json`: the OpenAPI 3.1 document of every route.
//! Locally: `cargo run --bin openapi-json` (Vercel protocol on :3000) or `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::OPENAPI_JSON)
}

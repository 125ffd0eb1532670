//! `GET /api/health`: liveness, touches no database.
//! Locally: `cargo run --bin health` (Vercel protocol on :3000) or `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::HEALTH)
}

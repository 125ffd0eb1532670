//! `GET /api/tasks` (a page of the caller's tasks) and `POST /api/tasks`
//! (create one; `Idempotency-Key` makes retries safe). Locally: `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::TASKS)
}

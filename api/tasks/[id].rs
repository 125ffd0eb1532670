//! `GET`, `PATCH` (with `If-Match`) and `DELETE /api/tasks/[id]`: one of the
//! caller's tasks; another's answers 404. Locally: `gatehouse dev`.

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&gatehouse_app::routes::TASKS_ID)
}

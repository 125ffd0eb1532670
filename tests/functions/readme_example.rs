//! README's "Your own function", compiled and driven by the tests
//! (`tests/integration/readme_example.rs`), which also check that README
//! shows this file as it is.
use gatehouse::config::Needs;
use gatehouse::db::Type;
use gatehouse::http::json_response;
use gatehouse::route::{Ctx, HandlerFuture, Route};
use http::{Method, StatusCode};

/// `GET /api/my-tasks/count`: how many tasks the caller has.
static MY_TASK_COUNT: Route = Route {
    pattern: "/api/my-tasks/count",
    methods: &[Method::GET],
    needs: Needs::AUTH_AND_DATABASE,
    handler: count,
};

fn count(ctx: Ctx) -> HandlerFuture {
    Box::pin(async move {
        // A refused credential ends here: 401 with its reason and hint.
        let principal = ctx.principal(None).await?;
        // Postgres unreachable: 503 with the fix (without DATABASE_URL,
        // `needs` has already answered 500 `misconfigured`).
        let db = ctx.state.database()?;
        let owner = principal.identity();
        let row = db
            .query_opt(
                "SELECT count(*) FROM gatehouse_tasks WHERE owner = $1",
                &[(&owner.as_str(), Type::TEXT)],
            )
            .await?;
        let tasks: i64 = row.map_or(0, |row| row.get(0));
        let body = serde_json::json!({ "subject": principal.subject, "tasks": tasks });
        Ok(json_response(StatusCode::OK, &body))
    })
}

fn main() -> std::process::ExitCode {
    gatehouse::host::serve(&MY_TASK_COUNT)
}

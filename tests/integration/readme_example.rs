//! README's "Your own function" is a real function: the file it shows
//! (`tests/functions/readme_example.rs`) is built by `tests/run` and driven
//! here over the Vercel protocol, on the runtime's public API only.

use std::path::Path;

use serde_json::json;

use crate::auth::{bearer, now, start, unique_secret};
use crate::support::db::TestDb;
use crate::support::function::{block_on, readme_example};
use crate::support::http_client::{get, send};
use crate::support::jwks_server::refused_url;
use crate::support::mint::{jose_one, secret_spec};
use crate::tasks::TASKS;

#[test]
fn readme_shows_the_example_function_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("tests/functions/readme_example.rs"))
        .expect("the example function");
    // What README shows: the file without its `//!` header.
    let shown: String = source
        .lines()
        .skip_while(|line| line.starts_with("//!"))
        .map(|line| format!("{line}\n"))
        .collect();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(
        readme.contains(&format!("```rust\n{shown}```")),
        "README's \"Your own function\" must show tests/functions/readme_example.rs (without its //! lines) verbatim"
    );
}

#[test]
fn the_example_function_answers_its_caller_s_task_count() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("readme");
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", secret.as_str()),
    ];
    let token = |sub: &str| {
        jose_one(secret_spec(
            "HS256",
            &secret,
            &json!({ "sub": sub, "exp": now() + 600 }),
        ))
    };
    let (alice, bob) = (token("alice"), token("bob"));
    // Two tasks for alice, through the tasks function.
    let tasks = start(TASKS, &env);
    for title in ["one", "two"] {
        let response = send(
            tasks.addr(),
            "POST",
            "/api/tasks",
            &[
                ("authorization", &bearer(&alice)),
                ("content-type", "application/json"),
            ],
            &json!({ "title": title }).to_string(),
        );
        assert_eq!(response.status, 201, "{response}");
    }

    let example = start(&readme_example().to_string_lossy(), &env);
    let count = |token: &str| {
        get(
            example.addr(),
            "/api/my-tasks/count",
            &[("authorization", &bearer(token))],
        )
    };
    let response = count(&alice);
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(response.json(), json!({ "subject": "alice", "tasks": 2 }));
    assert_eq!(count(&bob).json()["tasks"], 0, "owner-scoped");
    // A refusal is the runtime's: the reason and its hint.
    let refused = get(example.addr(), "/api/my-tasks/count", &[]);
    refused.assert_problem(401, "credentials_missing");
    let wrong = count(&token("alice").replace('.', ".x"));
    assert_eq!(wrong.status, 401, "{wrong}");

    // Without DATABASE_URL the route says what it needs, for every request.
    let unconfigured = start(
        &readme_example().to_string_lossy(),
        &[("JWT_SECRET", secret.as_str())],
    );
    let response = get(
        unconfigured.addr(),
        "/api/my-tasks/count",
        &[("authorization", &bearer(&alice))],
    );
    let problem = response.assert_problem(500, "misconfigured");
    assert!(problem.to_string().contains("DATABASE_URL"), "{response}");

    // Postgres unreachable: a 503 naming the database, never a 401.
    let down = refused_url().replace("http://", "postgres://postgres@") + "/gatehouse";
    let outage = start(
        &readme_example().to_string_lossy(),
        &[
            ("DATABASE_URL", down.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "2"),
            ("JWT_SECRET", secret.as_str()),
        ],
    );
    let response = get(
        outage.addr(),
        "/api/my-tasks/count",
        &[("authorization", &bearer(&alice))],
    );
    assert_eq!(response.status, 503, "{response}");
}

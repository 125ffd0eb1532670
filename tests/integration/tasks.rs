//! The tasks API through its two function binaries (`tasks`, `tasks-id`),
//! over HTTP as Vercel runs them, on a real Postgres: scoping (another
//! user's task is a 404), validation (422 naming the field), cursor
//! pagination, conditional updates (ETag / If-Match, 412 and 428) and
//! `Idempotency-Key`.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::auth::{bearer, now, start, unique_secret};
use crate::support::db::TestDb;
use crate::support::function::{VercelFunction, block_on, run_cli};
use crate::support::http_client::{Response, send};
use crate::support::mint::{jose, jose_one, secret_spec};

pub const TASKS: &str = env!("CARGO_BIN_EXE_tasks");
pub const TASK: &str = env!("CARGO_BIN_EXE_tasks-id");

/// Both task functions on one migrated database, trusting `secret`.
pub struct TasksApi {
    pub db: TestDb,
    pub secret: String,
    pub collection: VercelFunction,
    pub item: VercelFunction,
}

impl TasksApi {
    pub fn start() -> TasksApi {
        let db = block_on(TestDb::create());
        block_on(db.migrate());
        let secret = unique_secret("tasks");
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", secret.as_str()),
        ];
        TasksApi {
            collection: start(TASKS, &env),
            item: start(TASK, &env),
            db,
            secret,
        }
    }

    /// One token per subject, minted by `jose`.
    pub fn tokens(&self, subjects: &[&str]) -> Vec<String> {
        let specs: Vec<Value> = subjects
            .iter()
            .map(|sub| {
                secret_spec(
                    "HS256",
                    &self.secret,
                    &json!({ "sub": sub, "exp": now() + 3600 }),
                )
            })
            .collect();
        jose(&specs)
    }

    /// A request to whichever function serves `path`.
    #[track_caller]
    pub fn call(
        &self,
        method: &str,
        path: &str,
        credential: &str,
        extra: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let function = if path
            .trim_start_matches("/api/tasks")
            .trim_matches('/')
            .is_empty()
            || path.starts_with("/api/tasks?")
        {
            &self.collection
        } else {
            &self.item
        };
        let auth = if credential.starts_with("gk_") {
            ("x-api-key", credential.to_owned())
        } else {
            ("authorization", bearer(credential))
        };
        let mut headers: Vec<(&str, &str)> = vec![(auth.0, auth.1.as_str())];
        let text = body.map(Value::to_string).unwrap_or_default();
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        headers.extend_from_slice(extra);
        send(function.addr(), method, path, &headers, &text)
    }

    #[track_caller]
    pub fn create(&self, token: &str, title: &str) -> Value {
        let response = self.call(
            "POST",
            "/api/tasks",
            token,
            &[],
            Some(&json!({ "title": title })),
        );
        assert_eq!(response.status, 201, "{response}");
        response.json()
    }
}

#[track_caller]
fn assert_invalid(response: &Response, field: &str) {
    let body = response.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors list: {response}"))
        .iter()
        .filter_map(|error| error["field"].as_str())
        .collect();
    assert!(fields.contains(&field), "{field} not named: {response}");
    assert!(
        body["detail"].as_str().unwrap().contains(field),
        "{response}"
    );
}

#[test]
fn tasks_are_created_read_updated_and_deleted_by_their_owner_only() {
    let api = TasksApi::start();
    let tokens = api.tokens(&["ada", "grace"]);
    let (ada, grace) = (&tokens[0], &tokens[1]);

    let created = api.call(
        "POST",
        "/api/tasks",
        ada,
        &[],
        Some(&json!({ "title": "  Write the report ", "done": false })),
    );
    assert_eq!(created.status, 201, "{created}");
    let task = created.json();
    let id = task["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{task}");
    assert_eq!(task["title"], "Write the report");
    assert_eq!(task["done"], false);
    assert_eq!(task["created_at"], task["updated_at"]);
    assert_eq!(
        created.header("location"),
        Some(format!("/api/tasks/{id}").as_str())
    );
    let etag = created.header("etag").unwrap().to_owned();
    assert_eq!(task["etag"], etag.as_str());
    let path = format!("/api/tasks/{id}");

    // Its owner reads it; anyone else gets the same 404 as for no task.
    let read = api.call("GET", &path, ada, &[], None);
    assert_eq!(read.status, 200, "{read}");
    assert_eq!(read.json(), task);
    let other = api.call("GET", &path, grace, &[], None);
    let missing = api.call(
        "GET",
        &format!("/api/tasks/{}", uuid::Uuid::new_v4()),
        grace,
        &[],
        None,
    );
    for response in [&other, &missing] {
        let body = response.assert_problem(404, "not_found");
        assert!(!response.text().contains("Write the report"));
        assert_eq!(body["detail"], "no task with this id belongs to you");
    }
    api.call("GET", "/api/tasks/not-a-uuid", ada, &[], None)
        .assert_problem(404, "not_found");
    let patch = json!({ "done": true });
    api.call("PATCH", &path, grace, &[("if-match", &etag)], Some(&patch))
        .assert_problem(404, "not_found");
    api.call("DELETE", &path, grace, &[], None)
        .assert_problem(404, "not_found");
    let listed = api.call("GET", "/api/tasks", grace, &[], None);
    assert_eq!(listed.json()["items"], json!([]), "{listed}");

    // Updates need If-Match; a stale one is a 412 carrying the current ETag.
    let no_precondition = api.call("PATCH", &path, ada, &[], Some(&patch));
    no_precondition.assert_problem(428, "precondition_required");
    let updated = api.call("PATCH", &path, ada, &[("if-match", &etag)], Some(&patch));
    assert_eq!(updated.status, 200, "{updated}");
    let new_etag = updated.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);
    assert_eq!(updated.json()["done"], true);
    assert_ne!(updated.json()["updated_at"], task["updated_at"]);
    // The second tab, still holding the first ETag, cannot overwrite it.
    let stale = api.call(
        "PATCH",
        &path,
        ada,
        &[("if-match", &etag)],
        Some(&json!({ "title": "Tab two" })),
    );
    stale.assert_problem(412, "precondition_failed");
    assert_eq!(stale.header("etag"), Some(new_etag.as_str()));
    // Even when the stale request asks for what is already there: another
    // request made that change, so the precondition still failed.
    let same_values = api.call("PATCH", &path, ada, &[("if-match", &etag)], Some(&patch));
    same_values.assert_problem(412, "precondition_failed");
    assert_eq!(same_values.header("etag"), Some(new_etag.as_str()));
    assert_eq!(
        api.call("GET", &path, ada, &[], None).json()["title"],
        "Write the report"
    );
    let weak = api.call(
        "PATCH",
        &path,
        ada,
        &[("if-match", &format!("W/{new_etag}"))],
        Some(&patch),
    );
    weak.assert_problem(412, "precondition_failed");

    // Delete, conditionally too.
    api.call("DELETE", &path, ada, &[("if-match", &etag)], None)
        .assert_problem(412, "precondition_failed");
    let deleted = api.call("DELETE", &path, ada, &[("if-match", &new_etag)], None);
    assert_eq!(deleted.status, 204, "{deleted}");
    api.call("GET", &path, ada, &[], None)
        .assert_problem(404, "not_found");
}

#[test]
fn bad_requests_get_a_422_naming_the_field() {
    let api = TasksApi::start();
    let token = &api.tokens(&["ada"])[0];
    let post = |body: &Value| api.call("POST", "/api/tasks", token, &[], Some(body));
    assert_invalid(&post(&json!({})), "title");
    assert_invalid(&post(&json!({ "title": "" })), "title");
    assert_invalid(&post(&json!({ "title": 42 })), "title");
    assert_invalid(&post(&json!({ "title": "x".repeat(501) })), "title");
    assert_invalid(&post(&json!({ "title": "ok", "done": "yes" })), "done");
    assert_invalid(&post(&json!({ "title": "ok", "owner": "grace" })), "owner");
    assert_invalid(&post(&json!(["title"])), "body");
    let not_json = send(
        api.collection.addr(),
        "POST",
        "/api/tasks",
        &[
            ("authorization", &bearer(token)),
            ("content-type", "application/json"),
        ],
        "{\"title\": ",
    );
    assert_invalid(&not_json, "body");
    let form = send(
        api.collection.addr(),
        "POST",
        "/api/tasks",
        &[
            ("authorization", &bearer(token)),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "title=x",
    );
    form.assert_problem(415, "unsupported_media_type");
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "cursor=forged",
        "sort=title",
    ] {
        let field = query.split('=').next().unwrap();
        assert_invalid(
            &api.call("GET", &format!("/api/tasks?{query}"), token, &[], None),
            field,
        );
    }
    // SQL-looking text is stored and returned as text.
    let title = "'); DROP TABLE gatehouse_tasks; --";
    let task = api.create(token, title);
    assert_eq!(task["title"], title);
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    assert_invalid(
        &api.call(
            "PATCH",
            &path,
            token,
            &[("if-match", "*")],
            Some(&json!({})),
        ),
        "body",
    );
    assert_eq!(
        api.call("GET", "/api/tasks", token, &[], None).json()["items"][0]["title"],
        title
    );
}

#[test]
fn listing_pages_through_every_task_once_in_a_stable_order() {
    let api = TasksApi::start();
    let token = &api.tokens(&["ada"])[0];
    let titles: Vec<String> = (0..7).map(|n| format!("task {n}")).collect();
    for title in &titles {
        api.create(token, title);
    }
    let mut seen = Vec::new();
    let mut path = "/api/tasks?limit=3".to_owned();
    for _page in 0..10 {
        let page = api.call("GET", &path, token, &[], None);
        assert_eq!(page.status, 200, "{page}");
        let body = page.json();
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 3, "{page}");
        seen.extend(
            items
                .iter()
                .map(|item| item["title"].as_str().unwrap().to_owned()),
        );
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/tasks?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, titles, "every task once, oldest first");
    let all = api
        .call("GET", "/api/tasks?limit=100", token, &[], None)
        .json();
    assert_eq!(all["items"].as_array().unwrap().len(), 7);
    assert_eq!(all["next_cursor"], Value::Null);
}

/// Keys are remembered for 24 hours: a keyed POST deletes a bounded number
/// of older ledger rows, so the ledger never grows without end.
#[test]
fn idempotency_keys_older_than_a_day_are_purged() {
    let api = TasksApi::start();
    let token = &api.tokens(&["ada"])[0];
    block_on(api.db.execute(
        "INSERT INTO gatehouse_idempotency_keys (owner, key, request_hash, task_id, created_at)
         SELECT 'old-' || i, 'k', '\\x00', gen_random_uuid(), now() - interval '25 hours'
           FROM generate_series(1, 20) i;
         INSERT INTO gatehouse_idempotency_keys (owner, key, request_hash, task_id, created_at)
         VALUES ('recent', 'k', '\\x00', gen_random_uuid(), now() - interval '23 hours')",
    ));
    let count = |sql: &str| block_on(api.db.count(sql));
    for _ in 0..2 {
        let key = uuid::Uuid::new_v4().to_string();
        let created = api.call(
            "POST",
            "/api/tasks",
            token,
            &[("idempotency-key", &key)],
            Some(&json!({ "title": "x" })),
        );
        assert_eq!(created.status, 201, "{created}");
    }
    assert_eq!(
        count("SELECT count(*) FROM gatehouse_idempotency_keys WHERE owner LIKE 'old-%'"),
        0,
        "16 per keyed POST: two POSTs purge all 20"
    );
    assert_eq!(
        count("SELECT count(*) FROM gatehouse_idempotency_keys WHERE owner = 'recent'"),
        1
    );
}

#[test]
fn a_retried_post_with_the_same_idempotency_key_creates_one_task() {
    let api = TasksApi::start();
    let token = &api.tokens(&["ada"])[0];
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({ "title": "Pay the invoice" });
    let first = api.call(
        "POST",
        "/api/tasks",
        token,
        &[("idempotency-key", &key)],
        Some(&body),
    );
    assert_eq!(first.status, 201, "{first}");
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = api.call(
        "POST",
        "/api/tasks",
        token,
        &[("idempotency-key", &key)],
        Some(&body),
    );
    assert_eq!(retry.status, 201, "{retry}");
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json()["id"], first.json()["id"]);
    // The same key with another body is a client bug, named.
    let other = api.call(
        "POST",
        "/api/tasks",
        token,
        &[("idempotency-key", &key)],
        Some(&json!({ "title": "Something else" })),
    );
    other.assert_problem(422, "idempotency_key_reused");
    // Keys are per principal: another user's identical key is theirs.
    let grace = &api.tokens(&["grace"])[0];
    let theirs = api.call(
        "POST",
        "/api/tasks",
        grace,
        &[("idempotency-key", &key)],
        Some(&body),
    );
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.json()["id"], first.json()["id"]);
    let count = block_on(
        api.db
            .count("SELECT count(*) FROM gatehouse_tasks WHERE owner = 'shared-secret:ada'"),
    );
    assert_eq!(count, 1);
    assert_invalid(
        &api.call(
            "POST",
            "/api/tasks",
            token,
            &[("idempotency-key", &"k".repeat(256))],
            Some(&body),
        ),
        "Idempotency-Key",
    );

    // Concurrent retries of one request: still one task.
    let key = uuid::Uuid::new_v4().to_string();
    let (addr, authorization) = (api.collection.addr(), bearer(token));
    let ids: HashSet<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let response = send(
                        addr,
                        "POST",
                        "/api/tasks",
                        &[
                            ("authorization", &authorization),
                            ("content-type", "application/json"),
                            ("idempotency-key", &key),
                        ],
                        r#"{"title":"Once"}"#,
                    );
                    match response.status {
                        201 => Some(response.json()["id"].as_str().unwrap().to_owned()),
                        409 => {
                            // The first request with the key is still running.
                            response.assert_problem(409, "idempotency_key_in_use");
                            assert_eq!(response.header("retry-after"), Some("1"), "{response}");
                            None
                        }
                        _ => panic!("{response}"),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(ids.len(), 1, "{ids:?}");
    let count = block_on(
        api.db
            .count("SELECT count(*) FROM gatehouse_tasks WHERE title = 'Once'"),
    );
    assert_eq!(count, 1);
}

#[test]
fn api_keys_need_task_scopes_and_own_their_tasks_apart_from_users() {
    let api = TasksApi::start();
    let create = |scopes: &[&str]| {
        let mut args = vec!["api-keys", "create", "--name", "sync-job"];
        for scope in scopes {
            args.extend(["--scope", scope]);
        }
        let output = run_cli(&args, &[("DATABASE_URL", &api.db.url)], "");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let reader = create(&["tasks:read"]);
    let writer = create(&["tasks:read", "tasks:write"]);
    let listed = api.call("GET", "/api/tasks", &reader, &[], None);
    assert_eq!(listed.status, 200, "{listed}");
    let refused = api.call(
        "POST",
        "/api/tasks",
        &reader,
        &[],
        Some(&json!({ "title": "x" })),
    );
    let body = refused.assert_problem(403, "insufficient_scope");
    assert!(
        body["detail"].as_str().unwrap().contains("tasks:write"),
        "{refused}"
    );
    let task = api.create(&writer, "Nightly sync");
    let ada = &api.tokens(&["ada"])[0];
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    api.call("GET", &path, ada, &[], None)
        .assert_problem(404, "not_found");

    // An API key is a server's credential: in a cookie (which a browser
    // sends on its own) it is refused, even under a cookie name this API reads.
    let in_cookie = send(
        api.collection.addr(),
        "GET",
        "/api/tasks",
        &[("cookie", &format!("better-auth.session_token={writer}"))],
        "",
    );
    let body = in_cookie.assert_problem(401, "api_key_invalid");
    assert!(
        body["detail"].as_str().unwrap().contains("cookie"),
        "{in_cookie}"
    );
}

/// On a host that delivers the path, a query parameter of the same name does
/// not pick another resource: `/api/tasks/<B>?id=<A>` acts on B (here: a
/// task of another user's, so 404), never on A.
#[test]
fn the_path_not_the_query_names_the_task() {
    let api = TasksApi::start();
    let tokens = api.tokens(&["ada", "grace"]);
    let (ada, grace) = (&tokens[0], &tokens[1]);
    let mine = api.create(ada, "Mine");
    let theirs = api.create(grace, "Theirs");
    let path = format!(
        "/api/tasks/{}?id={}",
        theirs["id"].as_str().unwrap(),
        mine["id"].as_str().unwrap()
    );
    for method in ["GET", "DELETE"] {
        api.call(method, &path, ada, &[("if-match", "*")], None)
            .assert_problem(404, "not_found");
    }
    let own = format!("/api/tasks/{}", mine["id"].as_str().unwrap());
    assert_eq!(api.call("GET", &own, ada, &[], None).status, 200);
}

#[test]
fn a_revoked_token_is_refused_by_the_tasks_routes_at_once_and_writes_nothing() {
    // The revocation check rides in the tasks statements: still at once,
    // from another process, and before anything is written.
    let api = TasksApi::start();
    let tokens = api.tokens(&["ada", "grace"]);
    let (ada, grace) = (&tokens[0], &tokens[1]);
    api.create(ada, "Before");
    let revoker = start(
        crate::auth::sessions::AUTH_REVOKE,
        &[("DATABASE_URL", &api.db.url), ("JWT_SECRET", &api.secret)],
    );
    let revoke = |token: &str, body: &str| {
        let response = send(
            revoker.addr(),
            "POST",
            "/api/auth/revoke",
            &[
                ("authorization", &bearer(token)),
                ("content-type", "application/json"),
            ],
            body,
        );
        assert_eq!(response.status, 200, "{response}");
        response.json()
    };
    revoke(ada, "{}");
    for (method, body) in [("GET", None), ("POST", Some(json!({ "title": "After" })))] {
        let response = api.call(method, "/api/tasks", ada, &[], body.as_ref());
        let problem = response.assert_problem(401, "token_revoked");
        assert!(
            problem["detail"].as_str().unwrap().contains("revoked at"),
            "{response}"
        );
    }
    assert_eq!(
        block_on(
            api.db
                .count("SELECT count(*) FROM gatehouse_tasks WHERE owner = 'shared-secret:ada'")
        ),
        1
    );
    // Another user is untouched; then signs out everywhere.
    api.create(grace, "Mine");
    let cutoff = revoke(grace, r#"{"all":true}"#)["not_before"]
        .as_str()
        .unwrap()
        .to_owned();
    api.call(
        "POST",
        "/api/tasks",
        grace,
        &[],
        Some(&json!({ "title": "x" })),
    )
    .assert_problem(401, "token_revoked");
    api.call("GET", "/api/tasks?limit=5", grace, &[], None)
        .assert_problem(401, "token_revoked");
    // Signing straight back in works: a token minted right after the cutoff,
    // with a whole-second `iat` as every issuer writes it, possibly in the
    // cutoff's own second. The statement applies the authenticator's rule.
    let cutoff_second = (now() - 5..=now())
        .find(|second| gatehouse::clock::rfc3339(*second) == cutoff)
        .unwrap_or_else(|| panic!("the cutoff {cutoff} is a whole second of the last five"));
    let fresh = jose_one(secret_spec(
        "HS256",
        &api.secret,
        &json!({ "sub": "grace", "iat": cutoff_second, "exp": now() + 600 }),
    ));
    let listed = api.call("GET", "/api/tasks", &fresh, &[], None);
    assert_eq!(listed.status, 200, "{listed}");
    assert_eq!(listed.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        block_on(
            api.db
                .count("SELECT count(*) FROM gatehouse_tasks WHERE owner = 'shared-secret:grace'")
        ),
        1
    );
}

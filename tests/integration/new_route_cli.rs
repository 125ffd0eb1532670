//! `gatehouse new route`, run on a copy of this repository: it writes every
//! part of a route (handler, static, binary, `[[bin]]`, rows, OpenAPI path,
//! test), refuses a second run and bad input with the fix and without
//! changing a byte, and what it writes builds, passes its own test and
//! answers over the Vercel protocol, through the Lambda Runtime API and
//! under `gatehouse dev`, with no file of the runtime crate changed.

use std::collections::BTreeMap;
use std::io::{Read, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::lambda_host::http_api_v2;
use crate::support::db::TestDb;
use crate::support::function::{
    HEALTH, Process, READY_TIMEOUT, TempDir, VercelFunction, block_on, gatehouse_cli,
};
use crate::support::http_client::get;
use crate::support::lambda_emulator::LambdaEmulator;
use crate::support::source_tree::root;

/// How long one run of the CLI may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// How long building the copy may take: the dependencies come from the
/// shared scratch target directory, so only the workspace's crates compile
/// (the first run on a machine builds the dependencies too).
const BUILD_TIMEOUT: Duration = Duration::from_secs(25 * 60);
/// How long the copy's `cargo test` (compiling its integration tests) may
/// take.
const TEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

const PATTERN: &str = "/api/orders/[id]";

/// What a command printed, once it exited or was killed at its deadline.
struct Ran {
    /// `None` when the deadline passed and it was killed.
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `command` with `input` on its stdin; kills it, with its whole
/// process group (cargo and every rustc it started), at the deadline.
fn run_bounded(command: &mut Command, input: &[u8], timeout: Duration) -> Ran {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let read = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read(child.stdout.take().map(|s| Box::new(s) as Box<_>));
    let err = read(child.stderr.take().map(|s| Box::new(s) as Box<_>));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = writer.join();
    Ran {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

fn succeeded(finished: &Ran) -> bool {
    finished.status.is_some_and(|status| status.success())
}

/// This repository's files as they are on disk, tracked or not yet, minus
/// what git ignores (`target/`, `node_modules/`), copied into a new
/// temporary directory with their modification times, so that Cargo finds
/// the copied crates as fresh as the ones it built before.
fn copy_of_the_repository() -> TempDir {
    let listed = run_bounded(
        Command::new("git")
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(root()),
        b"",
        CLI_TIMEOUT,
    );
    assert!(succeeded(&listed), "git ls-files: {}", listed.stderr);
    let copy = TempDir::new();
    for file in listed.stdout.split('\0').filter(|file| !file.is_empty()) {
        let from = root().join(file);
        // Deleted but still in the index: not part of the tree.
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let to = copy.path().join(file);
        std::fs::create_dir_all(to.parent().expect("a file's folder")).unwrap();
        std::fs::copy(&from, &to).unwrap_or_else(|err| panic!("copy {file}: {err}"));
        let modified = meta.modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&to)
            .and_then(|file| file.set_modified(modified))
            .unwrap_or_else(|err| panic!("set the time of {file}: {err}"));
    }
    assert!(copy.path().join("src/routes/mod.rs").is_file());
    copy
}

/// Every file under `dir` (`.git` aside), with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|name| name == ".git") {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(dir).unwrap().to_owned(), bytes);
            }
        }
    }
    files
}

/// `gatehouse new route <args>`, run in `cwd`.
fn new_route_in(cwd: &Path, args: &[&str]) -> Ran {
    run_bounded(
        Command::new(gatehouse_cli())
            .args(["new", "route"])
            .args(args)
            .env_clear()
            .current_dir(cwd),
        b"",
        CLI_TIMEOUT,
    )
}

/// `gatehouse new route <args> --root <root>`, run from an empty folder.
fn new_route(root: &Path, args: &[&str]) -> Ran {
    let cwd = TempDir::new();
    let root = root.to_string_lossy();
    let args: Vec<&str> = args.iter().copied().chain(["--root", &root]).collect();
    new_route_in(cwd.path(), &args)
}

fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"))
}

/// The generated route as its full options ask for it.
fn add_orders_route(root: &Path) -> Ran {
    let added = new_route(
        root,
        &[
            PATTERN,
            "--methods",
            "GET,PATCH",
            "--needs",
            "auth,database",
        ],
    );
    assert!(
        succeeded(&added),
        "gatehouse new route failed:\n{}{}",
        added.stdout,
        added.stderr
    );
    added
}

/// `new` has the lines of `old` in order, with only lines inserted (one
/// block, whose first line may be `old`'s line there with a comma added).
fn only_inserted(old: &str, new: &str) -> usize {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    assert_eq!(
        prefix + suffix,
        old.len(),
        "lines other than the new ones changed (first difference at line {})",
        prefix + 1
    );
    new.len() - old.len()
}

#[test]
fn new_route_writes_every_part_then_refuses_to_write_it_twice() {
    let copy = copy_of_the_repository();
    let root = copy.path();
    let before = snapshot(root);
    let added = add_orders_route(root);

    // What it says it wrote, and what to run next.
    for line in [
        "created  src/routes/orders_id.rs",
        "created  api/orders/[id].rs",
        "changed  src/routes/mod.rs",
        "changed  Cargo.toml",
        "changed  openapi.json",
        "changed  docs/routes.md",
        "changed  README.md",
        "changed  tests/integration/main.rs",
        "created  tests/integration/routes/mod.rs",
        "created  tests/integration/routes/orders_id.rs",
        "cargo build --bins",
        "cargo run -q -p gatehouse-cli -- dev",
        "cargo run -q -p gatehouse-cli -- sam-template --write",
        "cargo test --test integration routes::orders_id",
    ] {
        assert!(
            added.stdout.contains(line),
            "{line:?} in:\n{}",
            added.stdout
        );
    }

    // Exactly those files changed; nothing under crates/.
    let after = snapshot(root);
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(bytes))
        .map(|(path, _)| path.to_string_lossy().into_owned())
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            "Cargo.toml",
            "README.md",
            "api/orders/[id].rs",
            "docs/routes.md",
            "openapi.json",
            "src/routes/mod.rs",
            "src/routes/orders_id.rs",
            "tests/integration/main.rs",
            "tests/integration/routes/mod.rs",
            "tests/integration/routes/orders_id.rs",
        ]
    );
    assert!(before.keys().all(|path| after.contains_key(path)));

    // The handlers, on the runtime's public API.
    let handler = read(root, "src/routes/orders_id.rs");
    for part in [
        "pub(super) fn handle(ctx: Ctx) -> HandlerFuture {",
        "Method::PATCH => patch(&ctx).await,",
        "_ => get(&ctx).await,",
        "let principal = ctx.principal(None).await?;",
        "let db = ctx.state.database()?;",
        "db.query_opt(APP_SCHEMA_VERSION, &[]).await?",
        "require_json(ctx)?;",
    ] {
        assert!(handler.contains(part), "{part:?} in:\n{handler}");
    }
    assert!(!handler.contains("unwrap()") && !handler.contains("expect("));

    // The route table: module, static, entry.
    let routes = read(root, "src/routes/mod.rs");
    assert!(
        routes.contains("mod openapi;\nmod orders_id;\nmod sessions;\n"),
        "{routes}"
    );
    assert!(
        routes.contains(
            "pub static ORDERS_ID: Route = Route {\n    pattern: \"/api/orders/[id]\",\n    methods: &[Method::GET, Method::PATCH],\n    needs: Needs::AUTH_AND_DATABASE,\n    handler: orders_id::handle,\n};\n\n/// Every route"
        ),
        "{routes}"
    );
    assert!(
        routes.contains("    &OPENAPI_JSON,\n    &ORDERS_ID,\n];"),
        "{routes}"
    );

    // The binary and its [[bin]], after the last function's.
    let binary = read(root, "api/orders/[id].rs");
    assert!(
        binary.starts_with("//! `/api/orders/[id]` (GET, PATCH)"),
        "{binary}"
    );
    assert!(
        binary.contains(
            "fn main() -> std::process::ExitCode {\n    gatehouse::host::serve(&gatehouse_app::routes::ORDERS_ID)\n}\n"
        ),
        "{binary}"
    );
    let manifest = read(root, "Cargo.toml");
    assert!(
        manifest.contains(
            "path = \"api/openapi.json.rs\"\n\n[[bin]]\nname = \"orders-id\"\npath = \"api/orders/[id].rs\"\n"
        ),
        "{manifest}"
    );

    // A row in both route tables.
    for page in ["docs/routes.md", "README.md"] {
        let text = read(root, page);
        assert_eq!(
            text.lines()
                .filter(|line| line.starts_with("| `/api/orders/[id]` | GET, PATCH | TODO: "))
                .count(),
            1,
            "{page}"
        );
        only_inserted(&String::from_utf8_lossy(&before[Path::new(page)]), &text);
    }

    // The OpenAPI path, in the document's own layout: only lines added.
    let old_document = String::from_utf8_lossy(&before[Path::new("openapi.json")]).into_owned();
    let document_text = read(root, "openapi.json");
    let added_lines = only_inserted(&old_document, &document_text);
    assert!(added_lines > 50, "{added_lines} lines");
    let document: Value = serde_json::from_str(&document_text).unwrap();
    let path = &document["paths"]["/api/orders/{id}"];
    assert_eq!(
        path["parameters"],
        json!([{
            "name": "id",
            "in": "path",
            "required": true,
            "description": "The path's `[id]` segment, as the handler reads it.",
            "schema": { "type": "string" }
        }])
    );
    let tasks = &document["paths"]["/api/tasks/{id}"];
    for (method, id) in [("get", "getOrdersId"), ("patch", "patchOrdersId")] {
        let operation = &path[method];
        assert_eq!(operation["operationId"], id);
        assert_eq!(operation["security"], tasks["get"]["security"], "{method}");
        let responses = &operation["responses"];
        assert_eq!(
            responses["401"],
            json!({ "$ref": "#/components/responses/Unauthorized" })
        );
        assert_eq!(
            responses["503"],
            json!({ "$ref": "#/components/responses/Unavailable" })
        );
        assert_eq!(
            responses["500"],
            json!({ "$ref": "#/components/responses/ServerError" })
        );
    }
    assert_eq!(
        path["patch"]["responses"]["403"]["content"]["application/problem+json"]["schema"]["allOf"]
            [1]["properties"]["reason"],
        json!({ "enum": ["origin_not_allowed"] })
    );
    assert_eq!(path["patch"]["requestBody"]["required"], true);
    assert!(path["get"].get("requestBody").is_none());

    // The test, declared where the integration tests are.
    let main = read(root, "tests/integration/main.rs");
    assert!(
        main.contains("mod route_table;\nmod routes;\nmod sam_template;\n"),
        "{main}"
    );
    assert!(read(root, "tests/integration/routes/mod.rs").ends_with("\nmod orders_id;\n"));
    let test = read(root, "tests/integration/routes/orders_id.rs");
    assert!(test.contains("env!(\"CARGO_BIN_EXE_orders-id\")"), "{test}");
    assert!(
        test.contains("VercelFunction::start(BINARY, &env)"),
        "{test}"
    );
    assert!(
        test.contains(".assert_problem(401, \"credentials_missing\")"),
        "{test}"
    );

    // As rustfmt writes it (each file alone, through stdin: rustfmt would
    // otherwise follow its `mod` lines).
    for file in [
        "src/routes/orders_id.rs",
        "src/routes/mod.rs",
        "api/orders/[id].rs",
        "tests/integration/main.rs",
        "tests/integration/routes/mod.rs",
        "tests/integration/routes/orders_id.rs",
    ] {
        let text = read(root, file);
        let formatted = run_bounded(
            Command::new("rustfmt").args(["--edition", "2024", "--emit", "stdout"]),
            text.as_bytes(),
            CLI_TIMEOUT,
        );
        assert!(
            succeeded(&formatted),
            "rustfmt {file}: {}",
            formatted.stderr
        );
        assert!(
            formatted.stdout == text,
            "{file} is not as rustfmt writes it:\n{}",
            formatted.stdout
        );
    }

    // Twice: refused, naming what exists and the fix, and not a byte
    // changed.
    let again = new_route(
        root,
        &[
            PATTERN,
            "--methods",
            "GET,PATCH",
            "--needs",
            "auth,database",
        ],
    );
    assert_eq!(
        again.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        again.stderr
    );
    for part in [
        "gatehouse: /api/orders/[id] was not added; nothing was changed:",
        "/api/orders/[id] exists already: it is ORDERS_ID in src/routes/mod.rs",
        "api/orders/[id].rs exists already",
        "Cargo.toml has a [[bin]] `orders-id` already",
        "openapi.json describes /api/orders/{id} already",
        "docs/routes.md's route table lists /api/orders/[id] already",
        "fix: choose another path for the new route",
    ] {
        assert!(
            again.stderr.contains(part),
            "{part:?} in:\n{}",
            again.stderr
        );
    }
    assert!(again.stdout.is_empty(), "{}", again.stdout);
    assert!(snapshot(root) == after, "the refused run changed files");
}

#[test]
fn bad_input_and_unexpected_files_are_refused_without_a_change() {
    let copy = copy_of_the_repository();
    let root = copy.path();
    let before = snapshot(root);
    // (arguments, the exit code, what the message names)
    let cases: [(&[&str], i32, &[&str]); 11] = [
        (
            &["/orders"],
            2,
            &["`/orders` does not start with /api/", "e.g. /api/orders"],
        ),
        (
            &["/api/Orders"],
            2,
            &["`Orders` in `/api/Orders` is not a lowercase path segment"],
        ),
        (
            &["/api/a/[id"],
            2,
            &["`[id` in `/api/a/[id` is not a `[param]` segment"],
        ),
        (
            &["/api/a/[id]/b/[id]"],
            2,
            &["names the parameter `[id]` twice"],
        ),
        (
            &["/api/orders", "--methods", "GET,FETCH"],
            2,
            &["`FETCH` is not a method", "GET, POST, PUT, PATCH, DELETE"],
        ),
        (
            &["/api/orders", "--methods", "HEAD"],
            2,
            &["`HEAD` is not a method"],
        ),
        (
            &["/api/orders", "--needs", "auth,cache"],
            2,
            &["`cache` is not a need; choose from none, auth, database"],
        ),
        (
            &["/api/orders", "--needs", "none,auth"],
            2,
            &["cannot be combined"],
        ),
        (
            &["/api/tasks/[id]"],
            1,
            &["/api/tasks/[id] exists already: it is TASKS_ID"],
        ),
        (
            &["/api/tasks/[task]"],
            1,
            &[
                "/api/tasks/[id] (TASKS_ID in src/routes/mod.rs) serves the same paths as /api/tasks/[task]",
            ],
        ),
        (
            &["/api/health"],
            1,
            &["/api/health exists already: it is HEALTH"],
        ),
    ];
    for (args, code, parts) in cases {
        let refused = new_route(root, args);
        assert_eq!(
            refused.status.and_then(|s| s.code()),
            Some(code),
            "{args:?}:\n{}{}",
            refused.stdout,
            refused.stderr
        );
        for part in parts {
            assert!(
                refused.stderr.contains(part),
                "{args:?}: {part:?} in:\n{}",
                refused.stderr
            );
        }
        assert!(snapshot(root) == before, "{args:?} changed files");
    }

    // Not a project.
    let elsewhere = TempDir::new();
    let refused = new_route(elsewhere.path(), &["/api/orders"]);
    assert_eq!(refused.status.and_then(|s| s.code()), Some(1));
    assert!(
        refused.stderr.contains("is not a Gatehouse project") && refused.stderr.contains("fix: "),
        "{}",
        refused.stderr
    );
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none()
    );

    // A file not of the shape it edits: refused, naming the file, the shape
    // and the fix, and nothing written (not even the new files).
    for (file, from, to, says) in [
        (
            "src/routes/mod.rs",
            "pub static ROUTES: &[&Route] = &[",
            "pub static ALL: &[&Route] = &[",
            "src/routes/mod.rs does not have the shape `gatehouse new route` edits: no line `pub static ROUTES",
        ),
        (
            "openapi.json",
            "\"paths\": {",
            "\"paths\": {{",
            "openapi.json is not valid JSON",
        ),
        (
            "docs/routes.md",
            "| route | methods | what it answers |",
            "| path | verbs | what it answers |",
            "docs/routes.md does not have the shape `gatehouse new route` edits: its route table must start with the header",
        ),
    ] {
        let original = read(root, file);
        assert!(original.contains(from), "{file} has {from:?}");
        std::fs::write(root.join(file), original.replacen(from, to, 1)).unwrap();
        let broken = snapshot(root);
        let refused = new_route(
            root,
            &["/api/orders", "--methods", "GET,POST", "--needs", "auth"],
        );
        assert_eq!(
            refused.status.and_then(|s| s.code()),
            Some(1),
            "{file}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains(says),
            "{file}: {says:?} in:\n{}",
            refused.stderr
        );
        assert!(refused.stderr.contains("fix: "), "{}", refused.stderr);
        assert!(
            snapshot(root) == broken,
            "{file}: a refused run changed files"
        );
        std::fs::write(root.join(file), original).unwrap();
    }
    assert!(snapshot(root) == before);
}

#[test]
fn without_root_it_finds_the_project_around_the_current_folder() {
    let copy = copy_of_the_repository();
    let root = copy.path();
    let added = new_route_in(&root.join("tests/integration"), &["/api/ping"]);
    assert!(succeeded(&added), "{}{}", added.stdout, added.stderr);
    assert!(
        added.stdout.starts_with(&format!(
            "gatehouse: added /api/ping (GET; needs none) to {}:",
            root.display()
        )),
        "{}",
        added.stdout
    );
    assert!(
        added.stdout.contains("curl http://127.0.0.1:3000/api/ping"),
        "{}",
        added.stdout
    );
    let handler = read(root, "src/routes/ping.rs");
    assert!(
        handler.contains("Box::pin(async move { get(&ctx).await })"),
        "{handler}"
    );
    assert!(
        !handler.contains("principal") && !handler.contains("database"),
        "{handler}"
    );
    assert!(read(root, "api/ping.rs").contains("gatehouse_app::routes::PING"));

    // Outside any project, it says how to name one.
    let elsewhere = TempDir::new();
    let refused = new_route_in(elsewhere.path(), &["/api/ping"]);
    assert_eq!(refused.status.and_then(|s| s.code()), Some(1));
    assert!(
        refused.stderr.contains("no Gatehouse project around")
            && refused
                .stderr
                .contains("fix: run it inside the project, or pass --root DIR"),
        "{}",
        refused.stderr
    );
}

/// A JWT for `subject`, signed with `secret` (HS256), as the route's
/// generated test mints them.
fn token(secret: &str, subject: &str) -> String {
    use aws_lc_rs::hmac;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = crate::auth::now();
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "HS256", "typ": "JWT" }).to_string());
    let claims =
        URL_SAFE_NO_PAD.encode(json!({ "sub": subject, "iat": now, "exp": now + 600 }).to_string());
    let signing_input = format!("{header}.{claims}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(hmac::sign(&key, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// `git <args>` in `dir`, which must succeed.
fn git(dir: &Path, args: &[&str]) -> String {
    let finished = run_bounded(
        Command::new("git")
            .args([
                "-c",
                "user.name=gatehouse-test",
                "-c",
                "user.email=test@gatehouse.invalid",
            ])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir),
        b"",
        CLI_TIMEOUT,
    );
    assert!(
        succeeded(&finished),
        "git {args:?}: {}{}",
        finished.stdout,
        finished.stderr
    );
    finished.stdout
}

/// `cargo <args>` in the copy, with its own target directory beside ours
/// (`target/scratch-route`): the dependencies built there are reused from
/// run to run, and nothing collides with the suite's own binaries.
fn cargo(copy: &Path, target: &Path, args: &[&str], timeout: Duration) -> (Ran, Duration) {
    let started = Instant::now();
    let finished = run_bounded(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(args)
            .env("CARGO_TARGET_DIR", target)
            .env_remove("CARGO_MAKEFLAGS")
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .current_dir(copy),
        b"",
        timeout,
    );
    let elapsed = started.elapsed();
    assert!(
        succeeded(&finished),
        "cargo {args:?} in the copy failed{} after {elapsed:.0?}:\n{}",
        if finished.status.is_none() {
            " (killed at its deadline)"
        } else {
            ""
        },
        tail(&finished.stderr)
    );
    (finished, elapsed)
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(8000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    &text[start..]
}

/// The body of a Lambda proxy response, as JSON.
fn lambda_body(response: &Value) -> Value {
    let body = response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no body: {response}"));
    serde_json::from_str(body).unwrap_or_else(|err| panic!("body is not JSON ({err}): {response}"))
}

/// The issue's "done when": after `gatehouse new route /api/orders/[id]
/// --methods GET,PATCH --needs auth,database` in a copy of the repository,
/// the copy builds, its generated test passes, the new binary answers over
/// the Vercel protocol and through the Lambda Runtime API, the copy's
/// `gatehouse dev` serves the route, and no file under crates/gatehouse
/// changed.
#[test]
fn a_new_route_builds_passes_its_test_and_answers_on_every_host() {
    let started = Instant::now();
    let copy = copy_of_the_repository();
    let root = copy.path();
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(
        root,
        &["commit", "-q", "-m", "the repository, before the route"],
    );
    add_orders_route(root);
    assert_eq!(git(root, &["diff", "--stat", "--", "crates/gatehouse"]), "");
    assert_eq!(
        git(root, &["status", "--porcelain", "--", "crates/gatehouse"]),
        ""
    );
    let generated = started.elapsed();

    let target = Path::new(HEALTH)
        .parent()
        .and_then(Path::parent)
        .expect("the target directory")
        .join("scratch-route");
    let (_, build) = cargo(
        root,
        &target,
        &[
            "build",
            "--locked",
            "--bins",
            "-p",
            "gatehouse-functions",
            "-p",
            "gatehouse-cli",
        ],
        BUILD_TIMEOUT,
    );
    // The generated test, in the copy's own integration tests.
    let (tested, test) = cargo(
        root,
        &target,
        &["test", "--locked", "--test", "integration", "routes::"],
        TEST_TIMEOUT,
    );
    assert!(
        tested
            .stdout
            .contains("test routes::orders_id::answers_each_method_as_scaffolded ... ok"),
        "{}",
        tested.stdout
    );
    assert!(
        tested.stdout.contains("test result: ok. 1 passed"),
        "{}",
        tested.stdout
    );

    let binary = target.join("debug/orders-id");
    let binary = binary.to_string_lossy();
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = crate::auth::unique_secret("new-route");
    let authorization = format!("Bearer {}", token(&secret, "alice"));
    let expected = json!({
        "route": "/api/orders/[id]",
        "params": { "id": "42" },
        "subject": "alice",
        "database": { "app_schema_version": gatehouse_app::migrations::APP.latest_version() },
    });
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", secret.as_str()),
    ];

    // Vercel.
    let function = VercelFunction::start(&binary, &env);
    let response = get(
        function.addr(),
        "/api/orders/42",
        &[("authorization", authorization.as_str())],
    );
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(response.json(), expected, "{response}");
    get(function.addr(), "/api/orders/42", &[]).assert_problem(401, "credentials_missing");
    drop(function);

    // Lambda, through the Runtime API emulator.
    let mut emulator = LambdaEmulator::start();
    let mut lambda_env = emulator.function_env();
    lambda_env.push(("ENVIRONMENT".into(), "development".into()));
    let mut env_pairs: Vec<(&str, &str)> = lambda_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env_pairs.extend_from_slice(&env);
    let mut lambda = Process::spawn(&binary, &[], &env_pairs);
    let mut event = http_api_v2("GET", "/api/orders/42", None);
    event["headers"]["authorization"] = json!(authorization);
    let id = emulator.invoke(event);
    let response = emulator.response(&id, &mut lambda);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(lambda_body(&response), expected, "{response}");
    let mut event = http_api_v2("PATCH", "/api/orders/42", Some(r#"{"status":"shipped"}"#));
    event["headers"]["authorization"] = json!(authorization);
    event["headers"]["content-type"] = json!("application/json");
    let id = emulator.invoke(event);
    let response = emulator.response(&id, &mut lambda);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        lambda_body(&response)["received"],
        json!({ "status": "shipped" })
    );
    lambda.assert_running();
    drop(lambda);

    // The copy's `gatehouse dev`, with every route and the new one.
    let dev_cli = target.join("debug/gatehouse");
    let mut dev = Process::spawn_at(
        root,
        &dev_cli.to_string_lossy(),
        &["dev", "--port", "0"],
        &env,
    );
    let line = dev.wait_stdout_line("gatehouse dev: listening on http://", READY_TIMEOUT);
    let addr: std::net::SocketAddr = line
        .rsplit("http://")
        .next()
        .and_then(|addr| addr.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    dev.wait_stdout_line("/api/orders/[id]", READY_TIMEOUT);
    let response = get(
        addr,
        "/api/orders/42",
        &[("authorization", authorization.as_str())],
    );
    assert_eq!(response.status, 200, "{response}\n{}", dev.report());
    assert_eq!(response.json(), expected, "{response}");
    get(addr, "/api/tasks", &[]).assert_problem(401, "credentials_missing");
    dev.assert_running();
    drop(dev);

    // Still nothing of the runtime changed (the build wrote only target/).
    assert_eq!(
        git(root, &["status", "--porcelain", "--", "crates/gatehouse"]),
        ""
    );
    eprintln!(
        "new route end to end: generated in {generated:.1?}, built in {build:.1?}, its test (compiling the copy's integration tests) in {test:.1?}, all in {:.1?}",
        started.elapsed()
    );
}

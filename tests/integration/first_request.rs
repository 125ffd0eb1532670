//! A newcomer's first authenticated request, as README's "Your first
//! request" gives it: `.env.example` as `.env`, `gatehouse dev`, a token
//! from `gatehouse token`, then 200s from `/api/auth/session` and
//! `/api/tasks`. And the token's limits: only `gatehouse dev` in
//! development trusts it.

use std::path::Path;
use std::time::Duration;

use crate::support::db::TestDb;
use crate::support::function::{Process, TempDir, block_on, gatehouse_cli, start_dev_at};
use crate::support::http_client::get;

/// `gatehouse token <args>` in `dir`: exit code, stdout, stderr.
fn token(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut full = vec!["token"];
    full.extend_from_slice(args);
    let mut process = Process::spawn_at(dir, &gatehouse_cli().to_string_lossy(), &full, env);
    let status = process.wait_exit(Duration::from_secs(30));
    (
        status.code(),
        process.stdout().trim().to_owned(),
        process.stderr(),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn env_example_gatehouse_dev_and_a_development_token_give_a_200() {
    let db = block_on(TestDb::create());
    let dir = TempDir::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example");
    std::fs::copy(&example, dir.path().join(".env")).expect("copy .env.example");
    // The test's own database instead of gatehouse_dev: process variables
    // win over .env, as README says.
    let env = [("DATABASE_URL", db.url.as_str())];

    let (code, minted, said) = token(
        dir.path(),
        &["--sub", "alice", "--claims", r#"{"role":"admin"}"#],
        &env,
    );
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(
        minted.split('.').count(),
        3,
        "one JWT alone on stdout: {minted}"
    );
    assert!(
        said.contains("curl -H \"Authorization: Bearer $TOKEN\""),
        "{said}"
    );
    assert!(
        !said.contains(&minted),
        "the token is printed once, on stdout"
    );
    // The key stays on this machine: private, and ignored by git.
    let key = dir.path().join(".gatehouse/dev-signing-key.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key)
            .expect("the key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gatehouse/.gitignore")).unwrap(),
        "*\n"
    );

    let (dev, addr) = start_dev_at(dir.path(), &env);
    let auth = bearer(&minted);
    let response = get(addr, "/api/auth/session", &[("authorization", &auth)]);
    assert_eq!(response.status, 200, "{response}");
    let principal = &response.json()["principal"];
    assert_eq!(principal["subject"], "alice", "{response}");
    assert_eq!(principal["issuer"], "gatehouse-dev", "{response}");
    assert_eq!(principal["claims"]["role"], "admin", "{response}");
    let response = get(addr, "/api/tasks", &[("authorization", &auth)]);
    assert_eq!(response.status, 200, "{response}");
    assert!(!dev.stderr().contains(&minted), "the token reached the log");

    // A second token from the same key: one key per directory, kept.
    let (code, again, said) = token(dir.path(), &["--sub", "bob", "--expires-in", "5m"], &env);
    assert_eq!(code, Some(0), "{said}");
    let response = get(
        addr,
        "/api/auth/session",
        &[("authorization", &bearer(&again))],
    );
    assert_eq!(response.json()["principal"]["subject"], "bob", "{response}");
    drop(dev);

    // Outside development: no token is minted, and the dev server does not
    // trust the key.
    for environment in ["production", "preview"] {
        let (code, out, said) = token(
            dir.path(),
            &["--sub", "alice"],
            &[
                ("ENVIRONMENT", environment),
                ("DATABASE_URL", db.url.as_str()),
            ],
        );
        assert_eq!(code, Some(2), "{said}");
        assert!(out.is_empty(), "{out}");
        assert!(
            said.contains(&format!("ENVIRONMENT is {environment}")),
            "{said}"
        );
    }
    let (_preview, addr) = start_dev_at(
        dir.path(),
        &[
            ("ENVIRONMENT", "preview"),
            ("DATABASE_URL", db.url.as_str()),
        ],
    );
    let response = get(addr, "/api/auth/session", &[("authorization", &auth)]);
    assert_eq!(response.status, 401, "{response}");
}

#[test]
fn token_arguments_are_checked() {
    let dir = TempDir::new();
    for (args, says) in [
        (&["--sub", "a", "--claims", "[1]"][..], "a JSON object"),
        (&["--sub", "a", "--claims", r#"{"sub":"b"}"#][..], "`sub`"),
        (&["--sub", "a", "--expires-in", "31d"][..], "from 1s to 30d"),
        (&["--claims", "{}"][..], "--sub <SUBJECT>"),
    ] {
        let (code, out, said) = token(dir.path(), args, &[]);
        assert_ne!(code, Some(0), "{args:?}: {said}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(said.contains(says), "{args:?}: {said}");
    }
}

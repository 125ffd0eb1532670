//! The build settings the platforms' own tools read, which nothing else in the
//! suite would notice breaking: Vercel's Rust builder crashes on a
//! `.cargo/config.toml` without a `[build]` table, and cargo-lambda turns
//! the release profile's panic strategy into `abort` unless it is written.
//! `vercel.json`'s `functions` is read here with Vercel's own code (its
//! schema, and which entry applies to each function: the first that
//! matches, so a route's own entry must come before `api/**/*.rs`).
//! `deploy/vercel/check` and `deploy/aws/check` run the real tools.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::function::{TempDir, finish_within};
use crate::support::mint::{interop_dir, node};
use crate::support::source_tree::{root, rust_files};

fn root_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The `key = value` lines of one TOML table, comments dropped; `None` when
/// the table is absent.
fn table(toml: &str, header: &str) -> Option<Vec<(String, String)>> {
    let mut lines = toml
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim());
    lines.find(|line| *line == header)?;
    Some(
        lines
            .take_while(|line| !line.starts_with('['))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
            .collect(),
    )
}

#[test]
fn cargo_config_has_the_build_table_vercels_builder_reads() {
    let config = root_file(".cargo/config.toml");
    assert!(
        table(&config, "[build]").is_some(),
        "@vercel/rust reads build.target and crashes when .cargo/config.toml has no [build] table:\n{config}"
    );
}

#[test]
fn release_profile_unwinds_on_panic_explicitly() {
    let manifest = root_file("Cargo.toml");
    let release = table(&manifest, "[profile.release]").expect("a [profile.release] table");
    assert!(
        release.contains(&("panic".to_owned(), "\"unwind\"".to_owned())),
        "[profile.release] must say panic = \"unwind\": cargo-lambda injects \"abort\" otherwise, and one panicking request would kill a warm instance: {release:?}"
    );
}

#[test]
fn the_table_reader_sees_what_is_there_and_only_that() {
    let toml = "[a]\nx = 1 # note\n[b]\n# panic = \"abort\"\n";
    assert_eq!(table(toml, "[a]"), Some(vec![("x".into(), "1".into())]));
    assert_eq!(table(toml, "[b]"), Some(vec![]));
    assert_eq!(table(toml, "[c]"), None);
}

/// Every function Vercel builds: `api/**/*.rs`, relative to the root.
fn api_sources() -> Vec<String> {
    rust_files(&root().join("api"))
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(root()).expect("under the root");
            relative.to_string_lossy().replace('\\', "/")
        })
        .collect()
}

/// `tests/interop/vercel-functions.mjs` on a vercel.json: Vercel's schema
/// errors, and the entry and options each function gets.
fn vercel_reads(vercel_json: &Path) -> Value {
    let fix = "run tests/run (it installs them), or by hand: npm ci --prefix tests/interop";
    let manifest = interop_dir().join("node_modules/@vercel/build-utils/package.json");
    assert!(
        manifest.is_file(),
        "@vercel/build-utils is missing from tests/interop/node_modules: {fix}"
    );
    let child = Command::new(node())
        .arg(interop_dir().join("vercel-functions.mjs"))
        .arg(vercel_json)
        .args(api_sources())
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let finished = finish_within(child, None, Duration::from_secs(30));
    assert!(
        finished.status.is_some_and(|status| status.success()),
        "vercel-functions.mjs failed: {}{}",
        finished.stdout,
        finished.stderr
    );
    serde_json::from_str(&finished.stdout).unwrap_or_else(|err| {
        panic!(
            "vercel-functions.mjs printed no JSON ({err}): {}",
            finished.stdout
        )
    })
}

/// What Vercel makes of a vercel.json's text. Text, not a `Value`: the order
/// of the entries decides, and serde_json's map sorts its keys.
fn vercel_reads_text(text: &str) -> Value {
    let dir = TempDir::new();
    let path = dir.path().join("vercel.json");
    std::fs::write(&path, text).unwrap();
    vercel_reads(&path)
}

/// The problems of a vercel.json: schema errors, functions no entry
/// applies to, entries that apply to no function (shadowed by an earlier
/// pattern, or matching nothing), and keys the Rust builder cannot honour.
fn problems(text: &str) -> Vec<String> {
    let config: Value = serde_json::from_str(text).expect("JSON");
    let read = vercel_reads_text(text);
    let mut problems: Vec<String> = read["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| format!("schema: {} {}", error["instancePath"], error["message"]))
        .collect();
    let mut used = BTreeSet::new();
    for (source, applied) in read["applied"].as_object().expect("applied") {
        match applied["pattern"].as_str() {
            Some(pattern) => {
                used.insert(pattern.to_owned());
            }
            None => problems.push(format!("{source}: no entry of `functions` applies")),
        }
    }
    let entries = config["functions"].as_object().expect("functions");
    for (pattern, options) in entries {
        if !used.contains(pattern) {
            problems.push(format!(
                "`{pattern}` applies to no function: an earlier pattern matches all it does (Vercel takes the first match), or it matches no api/ file"
            ));
        }
        // @vercel/rust builds x86_64 binaries: another architecture would
        // not run them.
        if options
            .get("architecture")
            .is_some_and(|arch| arch != "x86_64")
        {
            problems.push(format!(
                "`{pattern}`: architecture {} (the Rust builder builds x86_64)",
                options["architecture"]
            ));
        }
    }
    problems
}

#[test]
fn vercel_json_functions_are_valid_and_each_entry_applies() {
    assert_eq!(
        problems(&root_file("vercel.json")),
        Vec::<String>::new(),
        "vercel.json, as Vercel's own code reads it"
    );
}

#[test]
fn a_route_gets_its_own_memory_duration_and_region_when_listed_first() {
    // The documented recipe (docs/deploying.md): the route's entry first,
    // whole (entries are not merged), then the default for the others.
    let recipe = r#"{ "functions": {
        "api/tasks.rs": { "memory": 2048, "maxDuration": 30, "regions": ["fra1"] },
        "api/tasks/[id].rs": { "memory": 1536, "maxDuration": 20, "regions": ["fra1"] },
        "api/**/*.rs": { "memory": 1024, "maxDuration": 10 }
    }}"#;
    assert_eq!(problems(recipe), Vec::<String>::new());
    let read = vercel_reads_text(recipe);
    assert_eq!(
        read["applied"]["api/tasks.rs"],
        json!({ "pattern": "api/tasks.rs", "options": { "memory": 2048, "maxDuration": 30, "regions": ["fra1"] } })
    );
    // A file's own path applies to it, brackets and all.
    assert_eq!(
        read["applied"]["api/tasks/[id].rs"],
        json!({ "pattern": "api/tasks/[id].rs", "options": { "memory": 1536, "maxDuration": 20, "regions": ["fra1"] } })
    );
    // The others get the default, without a region.
    assert_eq!(
        read["applied"]["api/health.rs"],
        json!({ "pattern": "api/**/*.rs", "options": { "memory": 1024, "maxDuration": 10 } })
    );

    // The same entry after the glob never applies.
    let shadowed = r#"{ "functions": {
        "api/**/*.rs": { "memory": 1024, "maxDuration": 10 },
        "api/tasks.rs": { "memory": 2048 }
    }}"#;
    let found = problems(shadowed);
    assert!(
        found.len() == 1 && found[0].starts_with("`api/tasks.rs` applies to no function"),
        "{found:?}"
    );
    // What Vercel's schema refuses, and a route left without an entry.
    let invalid = r#"{ "functions": {
        "api/health.rs": { "memory": 64, "maxDuration": 0, "memorySize": 512 }
    }}"#;
    let found = problems(invalid);
    for expected in [
        "must be >= 128",
        "must be >= 1",
        "must NOT have additional properties",
        "api/tasks.rs: no entry of `functions` applies",
    ] {
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{expected}: {found:?}"
        );
    }
    let arm = problems(r#"{ "functions": { "api/**/*.rs": { "architecture": "arm64" } } }"#);
    assert!(
        arm.iter()
            .any(|p| p.contains("the Rust builder builds x86_64")),
        "{arm:?}"
    );
}

/// The schema read here is the one the pinned Vercel CLI validates with.
#[test]
fn the_schema_is_the_pinned_vercel_cli_s() {
    let version = |lock: &str| {
        let lock: Value = serde_json::from_str(&root_file(lock)).expect("a lock file");
        lock["packages"]["node_modules/@vercel/build-utils"]["version"]
            .as_str()
            .unwrap_or_else(|| panic!("{lock:?}: no @vercel/build-utils"))
            .to_owned()
    };
    assert_eq!(
        version("tests/interop/package-lock.json"),
        version("deploy/vercel/package-lock.json"),
        "tests/interop pins another @vercel/build-utils than the Vercel CLI of deploy/vercel uses: pin the CLI's (npm install --prefix tests/interop --save-exact @vercel/build-utils@<version>)"
    );
}

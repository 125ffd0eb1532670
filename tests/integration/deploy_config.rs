//! The build settings the platforms' own tools read, which nothing else in the
//! suite would notice breaking: Vercel's Rust builder crashes on a
//! `.cargo/config.toml` without a `[build]` table, and cargo-lambda turns
//! the release profile's panic strategy into `abort` unless it is written.
//! `deploy/vercel/check` and `deploy/aws/check` run the real tools.

use std::path::Path;

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

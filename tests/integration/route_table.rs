//! `api/`, the root `Cargo.toml` `[[bin]]` list and `gatehouse_app::routes::ROUTES`
//! must describe the same functions: Vercel builds every `api/**/*.rs`, Cargo
//! needs a `[[bin]]` per file, and the dev server and tests use the table.
//! The one binary for all routes (`lambda/all-routes.rs`) serves that table.

use std::collections::BTreeSet;

use gatehouse_app::routes::ROUTES;

use crate::support::source_tree::{root, rust_files};

/// Every `.rs` file under `api/`, relative to the root, `/`-separated.
fn api_files() -> BTreeSet<String> {
    rust_files(&root().join("api"))
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(root()).expect("under the root");
            relative.to_string_lossy().replace('\\', "/")
        })
        .collect()
}

/// A `[[bin]]` of the root `Cargo.toml`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Bin {
    name: String,
    path: String,
    /// Set for test-only binaries (`required-features = [...]`).
    required_features: bool,
}

/// Every `[[bin]]` in the root `Cargo.toml`.
fn cargo_bins() -> Vec<Bin> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("root Cargo.toml");
    let mut bins = Vec::new();
    let mut current: Option<(Option<String>, Option<String>, bool)> = None;
    let mut finish = |current: &mut Option<(Option<String>, Option<String>, bool)>| {
        if let Some((name, path, required_features)) = current.take() {
            bins.push(Bin {
                name: name.expect("a [[bin]] without a name"),
                path: path.expect("a [[bin]] without a path"),
                required_features,
            });
        }
    };
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            finish(&mut current);
            if line == "[[bin]]" {
                current = Some((None, None, false));
            }
            continue;
        }
        let Some((name, path, required_features)) = current.as_mut() else {
            continue;
        };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_owned();
        match key.trim() {
            "name" => *name = Some(value),
            "path" => *path = Some(value),
            "required-features" => *required_features = true,
            _ => {}
        }
    }
    finish(&mut current);
    bins
}

/// The one function for all routes: built by default (cargo-lambda builds
/// it with the others), never by Vercel (it is outside `api/`).
const ALL_ROUTES: (&str, &str) = ("all-routes", "lambda/all-routes.rs");

/// Binaries outside `api/` are test-only, but for the one function for all
/// routes: Vercel never builds them (it builds `api/**`), and cargo-lambda
/// skips them unless their feature is on.
#[test]
fn only_api_binaries_build_without_a_feature() {
    let bins = cargo_bins();
    for bin in &bins {
        let all_routes = (bin.name.as_str(), bin.path.as_str()) == ALL_ROUTES;
        assert_eq!(
            bin.path.starts_with("api/") || all_routes,
            !bin.required_features,
            "{bin:?}: a [[bin]] outside api/ must be test-only (required-features), but for {ALL_ROUTES:?}, and a function under api/ must build by default"
        );
    }
    assert!(
        bins.iter()
            .any(|bin| (bin.name.as_str(), bin.path.as_str()) == ALL_ROUTES),
        "the one function for all routes {ALL_ROUTES:?} is missing from Cargo.toml: {bins:?}"
    );
    assert!(
        bins.iter()
            .any(|bin| bin.name == "panic-probe" && bin.required_features),
        "the panic-probe test function is missing from Cargo.toml: {bins:?}"
    );
}

#[test]
fn api_files_bins_and_routes_agree() {
    let files = api_files();
    let bins = cargo_bins();
    assert!(!files.is_empty() && !bins.is_empty());

    let route_files: BTreeSet<String> = ROUTES.iter().map(|route| route.source_file()).collect();
    assert_eq!(route_files.len(), ROUTES.len(), "two routes share a file");
    let no_route: Vec<_> = files.difference(&route_files).collect();
    assert!(
        no_route.is_empty(),
        "api files without a route in ROUTES: {no_route:?}"
    );
    let no_file: Vec<_> = route_files.difference(&files).collect();
    assert!(
        no_file.is_empty(),
        "routes without a file under api/: {no_file:?}"
    );

    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|route| (route.binary_name(), route.source_file()))
        .collect();
    let functions: Vec<&Bin> = bins
        .iter()
        .filter(|bin| !bin.required_features && bin.path.starts_with("api/"))
        .collect();
    let actual: BTreeSet<(String, String)> = functions
        .iter()
        .map(|bin| (bin.name.clone(), bin.path.clone()))
        .collect();
    assert_eq!(
        actual.len(),
        functions.len(),
        "duplicate [[bin]] entries: {functions:?}"
    );
    assert_eq!(
        actual, expected,
        "the [[bin]] list (name, path) must be one entry per route, named Route::binary_name()"
    );
}

#[test]
fn each_api_file_serves_its_own_route() {
    for route in ROUTES {
        let file = route.source_file();
        let source = std::fs::read_to_string(root().join(&file))
            .unwrap_or_else(|err| panic!("{file}: {err}"));
        // The convention: the route static is the binary name in capitals.
        let name = route.binary_name().to_uppercase().replace('-', "_");
        let call = format!("gatehouse::host::serve(&gatehouse_app::routes::{name})");
        let compact: String = source.split_whitespace().collect();
        assert!(
            compact.contains(&call),
            "{file} must call `{call}` (the static for {})",
            route.pattern
        );
        assert_eq!(
            compact.matches("host::serve(").count(),
            1,
            "{file} must serve exactly one route"
        );
        assert!(
            source.starts_with("//!"),
            "{file} starts with a //! line saying what it serves"
        );
    }
}

#[test]
fn the_function_for_all_routes_serves_the_whole_table() {
    let file = ALL_ROUTES.1;
    let source =
        std::fs::read_to_string(root().join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
    let compact: String = source.split_whitespace().collect();
    assert!(
        compact.contains("gatehouse::host::serve_routes(gatehouse_app::routes::ROUTES)"),
        "{file} must call `gatehouse::host::serve_routes(gatehouse_app::routes::ROUTES)`: the table `gatehouse dev` serves"
    );
    assert!(
        source.starts_with("//!"),
        "{file} starts with a //! line saying what it serves"
    );
}

//! `gatehouse new route /api/orders/[id] --methods GET,PATCH --needs
//! auth,database`: adds a route to the project as the project's own routes
//! are written, all of it or nothing.
//!
//! - `src/routes/<module>.rs`: a handler per method, on the runtime's public
//!   API; `GET` answers the route's parameters (and the caller, and a
//!   database round trip), the others change nothing and say so;
//! - its `pub static` in `src/routes/mod.rs`, listed in `ROUTES`;
//! - `api/<path>.rs` and its `[[bin]]` in the root `Cargo.toml`;
//! - its rows in the route tables of `docs/routes.md` and README.md, and its
//!   path in `openapi.json`;
//! - `tests/integration/routes/<module>.rs`, which starts the binary.
//!
//! Everything is computed and checked first (the route must be new by every
//! one of those files); then the files are written together
//! ([`files::apply`]). The texts come from the templates in
//! `new_route/templates/`.

mod edits;
mod files;
mod openapi;
mod problem;
mod scaffold;
pub mod spec;
mod template;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use self::files::Change;
use self::problem::Problem;
use self::scaffold::NewRoute;
use self::spec::{Methods, RouteMethod, RouteNeeds, RoutePattern};

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub pattern: RoutePattern,
    pub methods: Methods,
    pub needs: RouteNeeds,
    /// The project; by default the nearest folder, from the current one up,
    /// holding `Cargo.toml` and `src/routes/mod.rs`.
    pub root: Option<PathBuf>,
}

pub fn run(request: &Request) -> ExitCode {
    let root = match project_root(request.root.as_deref()) {
        Ok(root) => root,
        Err(problem) => return refuse(&request.pattern, &[problem]),
    };
    let (route, changes) = match plan(&root, request) {
        Ok(plan) => plan,
        Err(problems) => return refuse(&request.pattern, &problems),
    };
    if let Err(message) = files::apply(&root, &changes) {
        eprintln!("gatehouse: could not add {}: {message}", request.pattern);
        return ExitCode::FAILURE;
    }
    report(&root, &route, &changes);
    ExitCode::SUCCESS
}

/// Every problem, each run of problems with the same fix followed by it.
fn refuse(pattern: &RoutePattern, problems: &[Problem]) -> ExitCode {
    eprintln!("gatehouse: {pattern} was not added; nothing was changed:");
    for (index, problem) in problems.iter().enumerate() {
        eprintln!("  - {}", problem.problem);
        if problems
            .get(index + 1)
            .is_none_or(|next| next.fix != problem.fix)
        {
            eprintln!("    fix: {}", problem.fix);
        }
    }
    ExitCode::FAILURE
}

/// Whether `dir` holds a project this command can add routes to.
fn is_project(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file() && dir.join("src/routes/mod.rs").is_file()
}

/// `--root`, or the nearest project from the current folder up.
fn project_root(explicit: Option<&Path>) -> Result<PathBuf, Problem> {
    if let Some(root) = explicit {
        if is_project(root) {
            return Ok(root.to_owned());
        }
        return Err(Problem::new(
            format!(
                "--root {} is not a Gatehouse project: it has no Cargo.toml and src/routes/mod.rs",
                root.display()
            ),
            "pass the folder holding the root Cargo.toml (the one with api/ and src/routes/)",
        ));
    }
    let current = std::env::current_dir().map_err(|err| {
        Problem::new(
            format!("the current folder cannot be read: {err}"),
            "pass --root DIR",
        )
    })?;
    current
        .ancestors()
        .find(|dir| is_project(dir))
        .map(Path::to_owned)
        .ok_or_else(|| {
            Problem::new(
                format!(
                    "no Gatehouse project around {}: no folder from here up has Cargo.toml and src/routes/mod.rs",
                    current.display()
                ),
                "run it inside the project, or pass --root DIR",
            )
        })
}

/// A file of the project, with its path for messages.
fn read(root: &Path, path: &str) -> Result<String, Problem> {
    std::fs::read_to_string(root.join(path)).map_err(|err| {
        Problem::new(
            format!("{path} cannot be read: {err}"),
            format!("`gatehouse new route` edits {path}; restore it (`git checkout -- {path}`)"),
        )
    })
}

/// The app library's crate name: `[lib]`'s `name`, else the package's
/// name with `_`.
fn library_name(manifest: &str) -> Option<String> {
    let mut section = "";
    let mut lib = None;
    let mut package = None;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "name" {
            continue;
        }
        let value = value.trim().trim_matches('"').to_owned();
        match section {
            "[lib]" => lib = Some(value),
            "[package]" => package = Some(value.replace('-', "_")),
            _ => {}
        }
    }
    lib.or(package)
}

/// The project's files the command reads, as they are now.
#[derive(Debug)]
struct Project {
    routes_mod: String,
    manifest: String,
    openapi: String,
    routes_md: String,
    /// README.md, when there is one.
    readme: Option<String>,
    tests_main: String,
    /// `tests/integration/routes/mod.rs`, once a route was added.
    test_modules: Option<String>,
}

const TEST_DIR: &str = "tests/integration/routes";
const TEST_MODULES: &str = "tests/integration/routes/mod.rs";
const ANOTHER_PATH: &str = "choose another path for the new route, or remove what is there first (each route has one file, one [[bin]], one row and one OpenAPI path)";

impl Project {
    fn read(root: &Path) -> Result<Project, Problem> {
        Ok(Project {
            routes_mod: read(root, "src/routes/mod.rs")?,
            manifest: read(root, "Cargo.toml")?,
            openapi: read(root, "openapi.json")?,
            routes_md: read(root, "docs/routes.md")?,
            readme: std::fs::read_to_string(root.join("README.md")).ok(),
            tests_main: read(root, "tests/integration/main.rs")?,
            test_modules: std::fs::read_to_string(root.join(TEST_MODULES)).ok(),
        })
    }
}

/// Every change, or every reason there can be none.
fn plan(root: &Path, request: &Request) -> Result<(NewRoute, Vec<Change>), Vec<Problem>> {
    let project = Project::read(root).map_err(|problem| vec![problem])?;
    let table = edits::RouteTable::read(&project.routes_mod);
    let mut problems = conflicts(root, &project, &table, &request.pattern);
    let module_taken = |name: &str| {
        root.join(format!("src/routes/{name}.rs")).exists()
            || root.join(format!("src/routes/{name}")).exists()
            || table.modules.iter().any(|module| module == name)
            || root.join(format!("{TEST_DIR}/{name}.rs")).exists()
            || project
                .test_modules
                .as_deref()
                .is_some_and(|text| edits::declares_module(text, name))
    };
    let stem = request.pattern.module_stem();
    let module = spec::module_name(&stem, module_taken);
    if module.is_none() {
        problems.push(Problem::new(
            format!(
                "the modules {stem} and {stem}_route are both taken in src/routes/ or {TEST_DIR}/"
            ),
            ANOTHER_PATH,
        ));
    }
    let library = library_name(&project.manifest);
    if library.is_none() {
        problems.push(Problem::new(
            "Cargo.toml names no [lib] and no [package]",
            "run it in the project whose root Cargo.toml has the app library (src/lib.rs)",
        ));
    }
    let (Some(module), Some(library)) = (module, library) else {
        return Err(problems);
    };
    let route = NewRoute {
        pattern: request.pattern.clone(),
        methods: request.methods.clone(),
        needs: request.needs,
        module,
        library,
    };
    match changes(&project, &route) {
        Ok(changes) if problems.is_empty() => Ok((route, changes)),
        Ok(_) => Err(problems),
        Err(more) => {
            problems.extend(more);
            Err(problems)
        }
    }
}

/// What exists already by the route's pattern, static, file, `[[bin]]`,
/// OpenAPI path or table rows, and what the route's test needs that is
/// missing.
fn conflicts(
    root: &Path,
    project: &Project,
    table: &edits::RouteTable,
    pattern: &RoutePattern,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut taken = |what: String| problems.push(Problem::new(what, ANOTHER_PATH));
    if let Some((name, existing)) = table.same_paths(pattern.as_str()) {
        taken(if existing == pattern.as_str() {
            format!("{pattern} exists already: it is {name} in src/routes/mod.rs")
        } else {
            format!("{existing} ({name} in src/routes/mod.rs) serves the same paths as {pattern}")
        });
    }
    let static_name = pattern.static_name();
    // Another pattern with the same static (`/api/orders/id`, `/api/orders/[id]`).
    if let Some((_, other)) = table
        .routes
        .iter()
        .find(|(name, other)| *name == static_name && other != pattern.as_str())
    {
        taken(format!(
            "the static {static_name} is taken by {other} in src/routes/mod.rs"
        ));
    }
    let source_file = pattern.source_file();
    if root.join(&source_file).exists() {
        taken(format!("{source_file} exists already"));
    }
    let binary = pattern.binary_name();
    if let Some(bin) = edits::existing_bin(&project.manifest, &binary, &source_file) {
        taken(format!(
            "Cargo.toml has a [[bin]] `{bin}` already, named `{binary}` or built from {source_file}"
        ));
    }
    if let Ok(document) = openapi::parse(&project.openapi)
        && let Some(existing) = openapi::same_paths(&document, &pattern.openapi_path())
    {
        taken(format!("openapi.json describes {existing} already"));
    }
    for (page, text) in [
        ("docs/routes.md", Some(&project.routes_md)),
        ("README.md", project.readme.as_ref()),
    ] {
        let listed = text.is_some_and(|text| {
            edits::table_routes(text)
                .iter()
                .any(|route| route == pattern.as_str())
        });
        if listed {
            taken(format!("{page}'s route table lists {pattern} already"));
        }
    }
    for support in ["function.rs", "http_client.rs", "db.rs"] {
        let path = format!("tests/integration/support/{support}");
        if !root.join(&path).is_file() {
            problems.push(Problem::new(
                format!("{path} is missing; the route's test starts its binary with it"),
                "restore tests/integration/support/ (`git checkout -- tests/integration/support`)",
            ));
        }
    }
    problems
}

fn template_failed(err: String) -> Problem {
    Problem::new(
        format!("a template of gatehouse new route failed: {err}"),
        "this is a bug in the gatehouse CLI; add the route by hand meanwhile (README.md, \"Your own function\")",
    )
}

/// The files to create and the new text of those to change, in the order
/// they are reported; every edit that cannot be made is a problem.
fn changes(project: &Project, route: &NewRoute) -> Result<Vec<Change>, Vec<Problem>> {
    let pattern = &route.pattern;
    let module = &route.module;
    let source_file = pattern.source_file();
    let mut problems = Vec::new();
    let mut edited = |result: Result<Option<String>, Problem>| match result {
        Ok(after) => after,
        Err(problem) => {
            problems.push(problem);
            None
        }
    };

    let handler = route.handler_module().map_err(template_failed);
    let binary = route.binary().map_err(template_failed);
    let test = route.test_module().map_err(template_failed);
    let routes_mod = edited(
        route
            .route_static()
            .map_err(template_failed)
            .and_then(|block| {
                edits::add_to_route_table(
                    &project.routes_mod,
                    module,
                    &block,
                    &pattern.static_name(),
                )
                .map(Some)
            }),
    );
    let manifest =
        edited(edits::add_bin(&project.manifest, &pattern.binary_name(), &source_file).map(Some));
    let openapi = edited(openapi::parse(&project.openapi).and_then(|document| {
        let security = if route.needs.auth {
            openapi::authenticated_security(&document)?
        } else {
            "[]".to_owned()
        };
        let item = route
            .openapi_path_item(&security)
            .map_err(template_failed)?;
        openapi::add_path_item(&project.openapi, &pattern.openapi_path(), &item).map(Some)
    }));
    let routes_md = edited(
        edits::add_table_row(&project.routes_md, "docs/routes.md", &route.routes_md_row())
            .and_then(|after| {
                after.map(Some).ok_or_else(|| {
                    Problem::new(
                        "docs/routes.md has no route table (rows starting with | `/api/)",
                        "restore docs/routes.md's table (`git checkout -- docs/routes.md`); tests/integration/docs_tables.rs needs the route listed there",
                    )
                })
            }),
    );
    let readme = match &project.readme {
        Some(text) => edited(edits::add_table_row(text, "README.md", &route.readme_row())),
        None => None,
    };
    let tests_main = edited(edits::add_routes_module(&project.tests_main));
    let test_modules = match &project.test_modules {
        Some(text) => edited(edits::add_module_line(text, module).map(Some).ok_or_else(|| {
            Problem::new(
                format!("{TEST_MODULES} has no `mod x;` lines to add the route's test to"),
                format!(
                    "declare the route tests there (`mod <route>;`), or remove {TEST_MODULES} to have it created"
                ),
            )
        })),
        None => Some(format!("{}mod {module};\n", scaffold::test_modules_head())),
    };
    let (handler, binary, test) = match (handler, binary, test) {
        (Ok(handler), Ok(binary), Ok(test)) if problems.is_empty() => (handler, binary, test),
        (handler, binary, test) => {
            problems.extend(
                [handler.err(), binary.err(), test.err()]
                    .into_iter()
                    .flatten(),
            );
            return Err(problems);
        }
    };

    let mut changes = vec![
        Change::Create {
            path: format!("src/routes/{module}.rs"),
            text: handler,
        },
        Change::Create {
            path: source_file,
            text: binary,
        },
    ];
    let mut modify = |path: &str, before: &str, after: Option<String>| {
        if let Some(after) = after {
            changes.push(Change::Modify {
                path: path.to_owned(),
                before: before.to_owned(),
                after,
            });
        }
    };
    modify("src/routes/mod.rs", &project.routes_mod, routes_mod);
    modify("Cargo.toml", &project.manifest, manifest);
    modify("openapi.json", &project.openapi, openapi);
    modify("docs/routes.md", &project.routes_md, routes_md);
    if let Some(before) = &project.readme {
        modify("README.md", before, readme);
    }
    modify("tests/integration/main.rs", &project.tests_main, tests_main);
    match (&project.test_modules, test_modules) {
        (Some(before), after) => modify(TEST_MODULES, before, after),
        (None, Some(text)) => changes.push(Change::Create {
            path: TEST_MODULES.to_owned(),
            text,
        }),
        (None, None) => {}
    }
    changes.push(Change::Create {
        path: format!("{TEST_DIR}/{module}.rs"),
        text: test,
    });
    Ok(changes)
}

/// What was written, and what to run next.
fn report(root: &Path, route: &NewRoute, changes: &[Change]) {
    println!(
        "gatehouse: added {} ({}; needs {}) to {}:",
        route.pattern,
        route.methods.listed(),
        route.needs.listed(),
        root.display()
    );
    for change in changes {
        let (verb, note) = match change {
            Change::Create { path, .. } if path.starts_with("src/routes/") => {
                ("created", "the handlers: write them here (TODO)")
            }
            Change::Create { path, .. } if path.starts_with("api/") => {
                ("created", "the function's binary")
            }
            Change::Create { path, .. } if path.ends_with("/mod.rs") => {
                ("created", "the route tests' module")
            }
            Change::Create { .. } => ("created", "its test"),
            Change::Modify { path, .. } => (
                "changed",
                match path.as_str() {
                    "src/routes/mod.rs" => "its static, in ROUTES",
                    "Cargo.toml" => "its [[bin]]",
                    "openapi.json" => "its path and operations",
                    "docs/routes.md" | "README.md" => "its row in the route table (TODO)",
                    _ => "declares the route's test",
                },
            ),
        };
        println!("  {verb}  {:<44} {note}", change.path());
    }
    let sample = route.sample_path();
    let test_filter = format!("routes::{}", route.module);
    println!("next:");
    println!(
        "  cargo build --bins                                 # the new function, {}",
        route.pattern.binary_name()
    );
    println!(
        "  cargo run -q -p gatehouse-cli -- dev               # serves it with the others on http://127.0.0.1:3000"
    );
    println!(
        "  cargo run -q -p gatehouse-cli -- sam-template --write   # its function in deploy/aws's SAM templates"
    );
    if route.needs.auth {
        println!(
            "  curl -H \"Authorization: Bearer $(cargo run -q -p gatehouse-cli -- token --sub alice)\" http://127.0.0.1:3000{sample}"
        );
    } else {
        println!("  curl http://127.0.0.1:3000{sample}");
    }
    println!(
        "  cargo test --test integration {test_filter}   # its test{}",
        if route.needs.database {
            " (PostgreSQL, as for the other tests)"
        } else {
            ""
        }
    );
    let methods: Vec<&str> = route
        .methods
        .iter()
        .filter(|method| *method != RouteMethod::Get)
        .map(RouteMethod::as_str)
        .collect();
    if !methods.is_empty() {
        println!(
            "then write {} in src/routes/{}.rs: until then {} 200 with a `todo` and {} nothing.",
            methods.join(", "),
            route.module,
            if methods.len() == 1 {
                "it answers"
            } else {
                "they answer"
            },
            if methods.len() == 1 {
                "changes"
            } else {
                "change"
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_named_by_lib_or_package() {
        assert_eq!(
            library_name("[package]\nname = \"gatehouse-functions\"\n\n[lib]\nname = \"gatehouse_app\"\npath = \"src/lib.rs\"\n").as_deref(),
            Some("gatehouse_app")
        );
        assert_eq!(
            library_name("[package]\nname = \"my-api\"\n\n[[bin]]\nname = \"health\"\n").as_deref(),
            Some("my_api")
        );
        assert_eq!(library_name("[workspace]\n"), None);
    }
}

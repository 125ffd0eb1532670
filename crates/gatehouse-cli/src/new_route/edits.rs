//! The edits `gatehouse new route` makes to files that exist, each found by
//! its anchor in the file's text and refused, with what was expected, when
//! the file does not have that shape. Every edit returns the whole new text;
//! nothing is written here.

use super::problem::Problem;
use super::spec::shape_of;

/// What `src/routes/mod.rs` declares already.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// `(static name, pattern)` of each `pub static X: Route`.
    pub routes: Vec<(String, String)>,
    /// Every module it declares (`mod x;`, `pub mod x;`).
    pub modules: Vec<String>,
}

/// `mod x;` / `pub mod x;` / `pub(crate) mod x;`: the module's name.
fn declared_module(line: &str) -> Option<&str> {
    let line = line.trim();
    let rest = line
        .strip_prefix("pub ")
        .or_else(|| line.strip_prefix("pub(crate) "))
        .or_else(|| line.strip_prefix("pub(super) "))
        .unwrap_or(line);
    let name = rest.strip_prefix("mod ")?.strip_suffix(';')?.trim();
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        .then_some(name)
}

/// A private `mod x;` line exactly as rustfmt writes it.
fn private_module(line: &str) -> Option<&str> {
    declared_module(line).filter(|_| line.starts_with("mod "))
}

impl RouteTable {
    pub fn read(text: &str) -> RouteTable {
        let mut table = RouteTable::default();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(name) = declared_module(line) {
                table.modules.push(name.to_owned());
            }
            let trimmed = line.trim();
            if let Some(rest) = trimmed.strip_prefix("pub static ")
                && let Some((name, kind)) = rest.split_once(':')
                && kind.trim_start().starts_with("Route ")
            {
                current = Some(name.trim().to_owned());
            }
            if let Some(pattern) = trimmed
                .strip_prefix("pattern: \"")
                .and_then(|rest| rest.split_once('"'))
                .map(|(pattern, _)| pattern)
                && let Some(name) = current.take()
            {
                table.routes.push((name, pattern.to_owned()));
            }
        }
        table
    }

    /// The route serving the same paths as `pattern`, if any.
    pub fn same_paths(&self, pattern: &str) -> Option<&(String, String)> {
        let shape = shape_of(pattern);
        self.routes
            .iter()
            .find(|(_, existing)| shape_of(existing) == shape)
    }
}

fn shape_problem(file: &str, expected: &str) -> Problem {
    Problem::new(
        format!("{file} does not have the shape `gatehouse new route` edits: {expected}"),
        format!(
            "add the route by hand (README.md, \"Your own function\"), or restore {file}'s shape (`git diff {file}`)"
        ),
    )
}

/// `text` with `line` inserted into its first block of private `mod x;`
/// lines, in the order rustfmt keeps them (byte order).
fn insert_module_line(text: &str, module: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|line| private_module(line).is_some())?;
    let end = lines[start..]
        .iter()
        .position(|line| private_module(line).is_none())
        .map_or(lines.len(), |offset| start + offset);
    let at = lines[start..end]
        .iter()
        .position(|line| private_module(line).is_some_and(|name| name > module))
        .map_or(end, |offset| start + offset);
    Some(with_lines_at(text, at, &format!("mod {module};\n")))
}

/// `text` with `insert` (whole lines) before line `at` (0-based; the line
/// count appends).
fn with_lines_at(text: &str, at: usize, insert: &str) -> String {
    let mut out = String::with_capacity(text.len() + insert.len());
    let mut inserted = false;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if index == at {
            out.push_str(insert);
            inserted = true;
        }
        out.push_str(line);
    }
    if !inserted {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(insert);
    }
    out
}

/// `src/routes/mod.rs` with the module declared, the static added before
/// `ROUTES` and the route appended to `ROUTES`.
pub fn add_to_route_table(
    text: &str,
    module: &str,
    static_block: &str,
    static_name: &str,
) -> Result<String, Problem> {
    const FILE: &str = "src/routes/mod.rs";
    let lines: Vec<&str> = text.lines().collect();
    for (word, import) in [
        ("Route", "gatehouse::route::Route"),
        ("Needs", "gatehouse::config::Needs"),
        ("Method", "http::Method"),
    ] {
        let imported = lines.iter().any(|line| {
            line.starts_with("use ")
                && line
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|token| token == word)
        });
        if !imported {
            return Err(shape_problem(
                FILE,
                &format!("it must import `{import}`, which the routes' statics use"),
            ));
        }
    }
    let Some(routes) = lines
        .iter()
        .position(|line| line.starts_with("pub static ROUTES: &[&Route] = &["))
    else {
        return Err(shape_problem(
            FILE,
            "no line `pub static ROUTES: &[&Route] = &[` (the list, one `&ROUTE,` a line)",
        ));
    };
    let Some(close) = lines[routes..]
        .iter()
        .position(|line| *line == "];")
        .map(|offset| routes + offset)
    else {
        return Err(shape_problem(FILE, "`ROUTES` is not closed by a line `];`"));
    };
    let entries_are_lines = lines[routes + 1..close].iter().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with("//") || (line.starts_with('&') && line.ends_with(','))
    });
    if !entries_are_lines {
        return Err(shape_problem(
            FILE,
            "`ROUTES` must list one `&ROUTE,` a line",
        ));
    }
    // The static goes above ROUTES' doc comment and attributes.
    let mut above = routes;
    while above > 0 {
        let line = lines[above - 1].trim_start();
        if line.starts_with("///") || line.starts_with("#[") {
            above -= 1;
        } else {
            break;
        }
    }
    let mut out = with_lines_at(text, close, &format!("    &{static_name},\n"));
    out = with_lines_at(&out, above, static_block);
    insert_module_line(&out, module).ok_or_else(|| {
        shape_problem(
            FILE,
            "no block of `mod x;` lines declaring the route handlers' modules",
        )
    })
}

/// A `[[bin]]` table of the root `Cargo.toml`: its name, its path, and the
/// index of its last line.
#[derive(Debug)]
struct Bin {
    name: Option<String>,
    path: Option<String>,
    last_line: usize,
}

fn bins(text: &str) -> Vec<Bin> {
    let mut bins: Vec<Bin> = Vec::new();
    let mut inside = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = trimmed == "[[bin]]";
            if inside {
                bins.push(Bin {
                    name: None,
                    path: None,
                    last_line: index,
                });
            }
            continue;
        }
        if !inside || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some(bin) = bins.last_mut() else {
            continue;
        };
        bin.last_line = index;
        if let Some((key, value)) = trimmed.split_once('=') {
            let value = value.trim().trim_matches('"').to_owned();
            match key.trim() {
                "name" => bin.name = Some(value),
                "path" => bin.path = Some(value),
                _ => {}
            }
        }
    }
    bins
}

/// The `[[bin]]` of the root `Cargo.toml` named `name` or built from
/// `path`, if there is one: its name.
pub fn existing_bin(text: &str, name: &str, path: &str) -> Option<String> {
    bins(text)
        .into_iter()
        .find(|bin| bin.name.as_deref() == Some(name) || bin.path.as_deref() == Some(path))
        .map(|bin| bin.name.unwrap_or_default())
}

/// The root `Cargo.toml` with a `[[bin]]` for the route after the last one
/// built from `api/`.
pub fn add_bin(text: &str, name: &str, path: &str) -> Result<String, Problem> {
    let Some(last) = bins(text)
        .into_iter()
        .rfind(|bin| bin.path.as_deref().is_some_and(|p| p.starts_with("api/")))
    else {
        return Err(shape_problem(
            "Cargo.toml",
            "no `[[bin]]` with a `path` under api/ (the functions' binaries)",
        ));
    };
    Ok(with_lines_at(
        text,
        last.last_line + 1,
        &format!("\n[[bin]]\nname = \"{name}\"\npath = \"{path}\"\n"),
    ))
}

/// The patterns of a page's route table (its rows `` | `/api/...` | ``).
pub fn table_routes(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("| `/api/"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(route, _)| format!("/api/{route}"))
        .collect()
}

/// A page with `row` appended to its route table (the table whose rows
/// start with `` | `/api/ ``, under a header `| route | methods | ...`).
/// `None` when the page has no such table.
pub fn add_table_row(text: &str, page: &str, row: &str) -> Result<Option<String>, Problem> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = lines.iter().position(|line| line.starts_with("| `/api/")) else {
        return Ok(None);
    };
    let header_ok = first >= 2
        && lines[first - 1].starts_with("|---")
        && lines[first - 2]
            .split('|')
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .take(2)
            .eq(["route", "methods"]);
    if !header_ok {
        return Err(shape_problem(
            page,
            "its route table must start with the header `| route | methods | ... |` and its `|---|` line",
        ));
    }
    let columns = lines[first - 2].matches('|').count();
    if row.matches('|').count() != columns {
        return Err(shape_problem(
            page,
            &format!(
                "its route table has {} columns; the new row has 3",
                columns.saturating_sub(1)
            ),
        ));
    }
    let end = lines[first..]
        .iter()
        .position(|line| !line.starts_with('|'))
        .map_or(lines.len(), |offset| first + offset);
    Ok(Some(with_lines_at(text, end, &format!("{row}\n"))))
}

/// A Rust source with `mod <module>;` added to its block of `mod` lines;
/// `None` when it has none.
pub fn add_module_line(text: &str, module: &str) -> Option<String> {
    insert_module_line(text, module)
}

/// Whether a Rust source declares `module`.
pub fn declares_module(text: &str, module: &str) -> bool {
    text.lines()
        .any(|line| declared_module(line) == Some(module))
}

/// `tests/integration/main.rs` with `mod routes;` among its test modules
/// (the last block of `mod` lines, after `mod support;`), unless declared.
pub fn add_routes_module(text: &str) -> Result<Option<String>, Problem> {
    if declares_module(text, "routes") {
        return Ok(None);
    }
    let lines: Vec<&str> = text.lines().collect();
    let Some(last) = lines
        .iter()
        .rposition(|line| private_module(line).is_some())
    else {
        return Err(shape_problem(
            "tests/integration/main.rs",
            "no `mod x;` lines declaring the test modules",
        ));
    };
    let start = lines[..=last]
        .iter()
        .rposition(|line| private_module(line).is_none())
        .map_or(0, |index| index + 1);
    let at = lines[start..=last]
        .iter()
        .position(|line| private_module(line).is_some_and(|name| name > "routes"))
        .map_or(last + 1, |offset| start + offset);
    Ok(Some(with_lines_at(text, at, "mod routes;\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES_MOD: &str = "//! Routes.\n\nmod auth;\nmod tasks;\n\nuse gatehouse::config::Needs;\nuse gatehouse::route::Route;\nuse http::Method;\n\npub static TASKS: Route = Route {\n    pattern: \"/api/tasks/[id]\",\n    methods: &[Method::GET],\n    needs: Needs::NONE,\n    handler: tasks::item,\n};\n\n/// Every route.\npub static ROUTES: &[&Route] = &[\n    &TASKS,\n];\n\n#[cfg(test)]\nmod tests {}\n";

    #[test]
    fn the_route_table_gets_module_static_and_entry() {
        let table = RouteTable::read(ROUTES_MOD);
        assert_eq!(
            table.routes,
            vec![("TASKS".to_owned(), "/api/tasks/[id]".to_owned())]
        );
        assert_eq!(table.modules, vec!["auth", "tasks"]);
        assert_eq!(
            table.same_paths("/api/tasks/[task]").map(|r| r.0.as_str()),
            Some("TASKS")
        );
        assert!(table.same_paths("/api/tasks").is_none());

        let block = "pub static ORDERS: Route = Route {\n    pattern: \"/api/orders\",\n};\n\n";
        let out = add_to_route_table(ROUTES_MOD, "orders", block, "ORDERS").unwrap();
        assert!(
            out.contains("mod auth;\nmod orders;\nmod tasks;\n"),
            "{out}"
        );
        assert!(
            out.contains("};\n\npub static ORDERS: Route = Route {\n    pattern: \"/api/orders\",\n};\n\n/// Every route.\npub static ROUTES"),
            "{out}"
        );
        assert!(out.contains("    &TASKS,\n    &ORDERS,\n];\n"), "{out}");
        assert_eq!(RouteTable::read(&out).routes.len(), 2);
    }

    #[test]
    fn a_route_table_of_another_shape_is_refused() {
        let one_line = ROUTES_MOD.replace("&[\n    &TASKS,\n];", "&[&TASKS];");
        let err = add_to_route_table(&one_line, "x", "", "X").unwrap_err();
        assert!(
            err.to_string().contains("is not closed by a line `];`"),
            "{err}"
        );
        let renamed = ROUTES_MOD.replace("pub static ROUTES", "pub static ALL");
        let err = add_to_route_table(&renamed, "x", "", "X").unwrap_err();
        assert!(err.to_string().contains("pub static ROUTES"), "{err}");
        assert!(
            err.to_string().contains("fix: add the route by hand"),
            "{err}"
        );
        let unimported = ROUTES_MOD.replace("use http::Method;\n", "");
        let err = add_to_route_table(&unimported, "x", "", "X").unwrap_err();
        assert!(err.to_string().contains("http::Method"), "{err}");
    }

    #[test]
    fn bins_are_found_and_added_after_the_last_function() {
        let manifest = "[package]\nname = \"x\"\n\n[[bin]]\nname = \"probe\"\npath = \"tests/probe.rs\"\n\n[[bin]]\nname = \"health\"\npath = \"api/health.rs\"\n\n[[bin]]\nname = \"tasks-id\"\npath = \"api/tasks/[id].rs\"\n\n# The library.\n[lib]\nname = \"app\"\n";
        assert_eq!(
            existing_bin(manifest, "tasks-id", "api/x.rs").as_deref(),
            Some("tasks-id")
        );
        assert_eq!(
            existing_bin(manifest, "x", "api/health.rs").as_deref(),
            Some("health")
        );
        assert!(existing_bin(manifest, "orders", "api/orders.rs").is_none());
        let out = add_bin(manifest, "orders", "api/orders.rs").unwrap();
        assert!(
            out.contains("path = \"api/tasks/[id].rs\"\n\n[[bin]]\nname = \"orders\"\npath = \"api/orders.rs\"\n\n# The library."),
            "{out}"
        );
        assert!(add_bin("[package]\n", "a", "api/a.rs").is_err());
    }

    #[test]
    fn table_rows_go_after_the_last_route() {
        let page = "# Routes\n\n| route | methods | what |\n|---|---|---|\n| `/api/a` | GET | A. |\n| `/api/b` | POST | B. |\n\nMore.\n";
        assert_eq!(table_routes(page), vec!["/api/a", "/api/b"]);
        let out = add_table_row(page, "p.md", "| `/api/c` | GET | C. |")
            .unwrap()
            .unwrap();
        assert!(
            out.contains("| `/api/b` | POST | B. |\n| `/api/c` | GET | C. |\n\nMore.\n"),
            "{out}"
        );
        assert_eq!(add_table_row("# Nothing\n", "p.md", "| x |").unwrap(), None);
        let headless = page.replace("| route | methods | what |\n", "");
        assert!(add_table_row(&headless, "p.md", "| `/api/c` | GET | C. |").is_err());
        assert!(add_table_row(page, "p.md", "| `/api/c` | GET |").is_err());
    }

    #[test]
    fn module_lines_keep_rustfmt_s_order() {
        let main = "//! Tests.\n\nmod support;\n\nmod api;\nmod route_table;\nmod scenarios;\n";
        let out = add_routes_module(main).unwrap().unwrap();
        assert!(
            out.ends_with("mod api;\nmod route_table;\nmod routes;\nmod scenarios;\n"),
            "{out}"
        );
        assert_eq!(add_routes_module(&out).unwrap(), None);
        let appended = add_module_line("//! R.\n\nmod a;\nmod b;\n", "c").unwrap();
        assert_eq!(appended, "//! R.\n\nmod a;\nmod b;\nmod c;\n");
        assert!(declares_module(&appended, "c"));
        assert_eq!(add_module_line("//! Nothing.\n", "c"), None);
    }
}

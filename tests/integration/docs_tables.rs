//! The pages in `docs/` and the README against the code they describe:
//! `docs/configuration.md` has a row for every environment variable the
//! runtime and the CLI read, and no other; the route tables name exactly the
//! routes and methods of `gatehouse_app::routes::ROUTES`; every relative link
//! leads to a file and heading that exist; every table row has its header's
//! columns. (`docs/reasons.md`'s table is generated and checked by
//! `crates/gatehouse/tests/docs_reasons.rs`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gatehouse_app::routes::ROUTES;

use crate::support::source_tree::{read, root, rust_files};

/// Every `.rs` file under `dir` (relative to the root), with its text.
fn rust_sources(dir: &str) -> Vec<(PathBuf, String)> {
    let out: Vec<(PathBuf, String)> = rust_files(&root().join(dir))
        .into_iter()
        .map(|path| {
            let text = read(&path);
            (path, text)
        })
        .collect();
    assert!(!out.is_empty(), "no Rust sources under {dir}");
    out
}

/// `ENVIRONMENT`, `DATABASE_URL`: how a variable's name looks.
fn variable_shaped(text: &str) -> bool {
    text.len() >= 3
        && text.starts_with(|c: char| c.is_ascii_uppercase())
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// What precedes a variable's name in a call that reads it: the config
/// reader's methods (`r.get("X")`, `r.seconds("X", ..)`, `r.bool`,
/// `r.secret`, `r.millis`), `Env::get` (`env.get("X")`), `std::env::var`, and the
/// settings helpers that take the reader first (`names(r, "X", ..)`).
const READERS: [&str; 9] = [
    ".get(",
    ".bool(",
    ".secret(",
    ".seconds(",
    ".millis(",
    ".require(",
    "var(",
    "var_os(",
    "(r,",
];

/// The variables one source file reads: names passed to a reader, and the
/// names held by a `const` (`const REQUIRED: [&str; 4] = [..]`) that is
/// passed to a reader or iterated (`REQUIRED.into_iter()`). Unit tests and comments are left out:
/// names there are inputs and prose, not reads.
fn variables_read(text: &str) -> BTreeSet<String> {
    let text = text
        .find("#[cfg(test)]\nmod ")
        .map_or(text, |at| &text[..at]);
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    // Calls and method chains may span lines: `REQUIRED\n    .into_iter()`.
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let mut found = BTreeSet::new();
    let quotes: Vec<usize> = code.match_indices('"').map(|(at, _)| at).collect();
    for pair in quotes.windows(2) {
        let literal = &code[pair[0] + 1..pair[1]];
        let before = code[..pair[0]].trim_end();
        if variable_shaped(literal) && READERS.iter().any(|reader| before.ends_with(reader)) {
            found.insert(literal.to_owned());
        }
    }
    for (at, _) in code.match_indices("const ") {
        let item = &code[at + "const ".len()..];
        let Some((name, rest)) = item.split_once(':') else {
            continue;
        };
        let Some((kind, value)) = rest.split_once('=') else {
            continue;
        };
        let kind = kind.trim();
        if !(kind == "&str" || kind == "&'static str" || kind.starts_with("[&str;")) {
            continue;
        }
        let value = value.split_once(';').map_or(value, |(value, _)| value);
        let name = name.trim();
        let used = READERS
            .iter()
            .map(|reader| format!("{reader}{name})"))
            .chain([format!("{name}.into_iter()"), format!("{name}.iter()")])
            .any(|usage| compact.contains(&usage));
        if !used {
            continue;
        }
        let literals = value.split('"').skip(1).step_by(2);
        found.extend(literals.filter(|l| variable_shaped(l)).map(str::to_owned));
    }
    found
}

fn variables_read_under(dirs: &[&str]) -> BTreeSet<String> {
    dirs.iter()
        .flat_map(|dir| rust_sources(dir))
        .flat_map(|(_, text)| variables_read(&text))
        .collect()
}

/// A Markdown table row's cells, trimmed; `\|` stays inside its cell.
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let inner = row.strip_prefix('|').unwrap_or(row);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '|' if !escaped => out.push(String::new()),
            _ => out.last_mut().expect("one cell at least").push(c),
        }
        escaped = c == '\\';
    }
    out.iter().map(|cell| cell.trim().to_owned()).collect()
}

/// The variables documented in `docs/configuration.md`'s tables: the
/// first cell of each row, one `` `NAME` `` per row.
fn documented_variables() -> BTreeSet<String> {
    let path = root().join("docs/configuration.md");
    let mut documented = BTreeSet::new();
    for line in read(&path).lines().filter(|line| line.starts_with("| `")) {
        let first = cells(line).swap_remove(0);
        let name = first
            .strip_prefix('`')
            .and_then(|cell| cell.strip_suffix('`'))
            .filter(|name| variable_shaped(name))
            .unwrap_or_else(|| {
                panic!("docs/configuration.md: a row names one variable, as `NAME`: {line}")
            });
        assert!(
            documented.insert(name.to_owned()),
            "docs/configuration.md documents {name} twice"
        );
    }
    documented
}

#[test]
fn configuration_md_documents_every_variable_the_code_reads() {
    let read_by_code = variables_read_under(&["crates/gatehouse/src", "crates/gatehouse-cli/src"]);
    // The scan finds each way the code reads a variable.
    for (name, how) in [
        ("DATABASE_URL", "r.get"),
        ("JWT_LEEWAY_SECS", "r.seconds"),
        ("AUTH_COOKIE_NAMES", "names(r, ..)"),
        ("CORS_ORIGINS", "a const passed to r.get"),
        ("AWS_LAMBDA_FUNCTION_NAME", "an iterated const array"),
        ("AWS_LAMBDA_MAX_CONCURRENCY", "env.get on its own line"),
        ("VERCEL_PROJECT_PRODUCTION_URL", "the CLI's env.get"),
    ] {
        assert!(
            read_by_code.contains(name),
            "the scan missed {name}, read with {how}: {read_by_code:?}"
        );
    }
    assert!(
        read_by_code.len() > 40,
        "the scan found only {} variables: {read_by_code:?}",
        read_by_code.len()
    );

    let documented = documented_variables();
    let undocumented: Vec<&String> = read_by_code.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "the code reads {undocumented:?}, which docs/configuration.md does not document: add a row `| `NAME` | default | meaning |` to its tables"
    );

    // Test-only variables are documented too; they are read by the tests.
    let read_by_tests = variables_read_under(&["tests/integration", "crates/gatehouse/tests"]);
    let unread: Vec<&String> = documented
        .iter()
        .filter(|name| !read_by_code.contains(*name) && !read_by_tests.contains(*name))
        .collect();
    assert!(
        unread.is_empty(),
        "docs/configuration.md documents {unread:?}, which nothing reads: remove the rows, or read the variables"
    );
}

/// The route tables of a page: route pattern to its methods, as written.
fn route_rows(path: &Path) -> BTreeMap<String, String> {
    let mut rows = BTreeMap::new();
    for line in read(path)
        .lines()
        .filter(|line| line.starts_with("| `/api/"))
    {
        let cells = cells(line);
        let route = cells[0].trim_matches('`').to_owned();
        assert!(
            rows.insert(route.clone(), cells[1].clone()).is_none(),
            "{} lists {route} twice",
            path.display()
        );
    }
    rows
}

#[test]
fn route_tables_name_every_route_and_its_methods() {
    let expected: BTreeMap<String, String> = ROUTES
        .iter()
        .map(|route| {
            let methods: Vec<&str> = route.methods.iter().map(|m| m.as_str()).collect();
            (route.pattern.to_owned(), methods.join(", "))
        })
        .collect();
    for page in ["README.md", "docs/routes.md"] {
        assert_eq!(
            route_rows(&root().join(page)),
            expected,
            "{page}'s route table must list exactly the routes of gatehouse_app::routes::ROUTES, with their methods"
        );
    }
}

/// README.md and every page under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let docs = std::fs::read_dir(root().join("docs")).expect("docs/");
    for entry in docs {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// A page's lines outside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The anchors GitHub gives a page's headings: lower case, punctuation
/// dropped, spaces as hyphens.
fn anchors(text: &str) -> BTreeSet<String> {
    prose_lines(text)
        .into_iter()
        .filter(|line| line.starts_with('#'))
        .map(|line| {
            line.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

#[test]
fn relative_links_of_readme_and_docs_resolve() {
    let mut checked = 0;
    for page in pages() {
        let text = read(&page);
        for line in prose_lines(&text) {
            for (at, _) in line.match_indices("](") {
                let target = &line[at + 2..];
                let Some(end) = target.find(')') else {
                    continue;
                };
                let target = &target[..end];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let linked = if file.is_empty() {
                    page.clone()
                } else {
                    page.parent().expect("a page's folder").join(file)
                };
                assert!(
                    linked.exists(),
                    "{}: the link to {target} leads nowhere",
                    page.display()
                );
                if !anchor.is_empty() {
                    assert!(
                        anchors(&read(&linked)).contains(anchor),
                        "{}: the link to {target} names no heading of {}",
                        page.display(),
                        linked.display()
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} links were found");
}

#[test]
fn markdown_tables_keep_their_columns() {
    for page in pages() {
        let text = read(&page);
        let lines = prose_lines(&text);
        let mut columns = None;
        for (index, line) in lines.iter().enumerate() {
            if !line.starts_with('|') {
                columns = None;
                continue;
            }
            let header = lines
                .get(index + 1)
                .is_some_and(|next| next.starts_with("|---"));
            match columns {
                None if header => columns = Some(cells(line).len()),
                None => {}
                Some(count) => assert_eq!(
                    cells(line).len(),
                    count,
                    "{}: a row without its header's {count} columns (a `|` in a cell is written `\\|`): {line}",
                    page.display()
                ),
            }
        }
    }
}

//! No import cycles between modules, in any crate of the workspace: each
//! module's `crate::`, `super::` and child paths are edges, and every
//! strongly connected component must be a single module. A cycle fails with
//! the modules in it and what each imports of the others; the fix is to move
//! the shared words down (as `clock.rs`, `reason.rs`, `config/env.rs` are).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::source_tree::{read, root, rust_files};

/// The crates checked, by source root: the root package's and every one
/// under `crates/`, so a new crate is checked without a change here.
fn roots() -> Vec<String> {
    let mut roots = vec!["src".to_owned()];
    let mut crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().to_string_lossy().into_owned();
            root()
                .join("crates")
                .join(&name)
                .join("src")
                .is_dir()
                .then(|| format!("crates/{name}/src"))
        })
        .collect();
    crates.sort();
    roots.extend(crates);
    roots
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn modules(root: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for path in rust_files(root) {
        let relative = path.strip_prefix(root).expect("under the root");
        let mut parts: Vec<String> = relative
            .with_extension("")
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        found.insert(parts.join("::"), code_only(&read(&path)));
    }
    found
}

/// The non-test code, without comments.
fn code_only(source: &str) -> String {
    let code = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or(source);
    code.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Each `prefix` path in `code`, as its lower-case segments.
fn paths_after<'c>(code: &'c str, prefix: &str) -> Vec<Vec<&'c str>> {
    let mut paths = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        if at > 0 && is_ident(code.as_bytes()[at - 1]) {
            continue;
        }
        let mut segments = Vec::new();
        let mut rest = &code[at + prefix.len()..];
        loop {
            let end = rest
                .bytes()
                .position(|b| !is_ident(b))
                .unwrap_or(rest.len());
            let segment = &rest[..end];
            if segment.is_empty() || !segment.starts_with(|c: char| c.is_ascii_lowercase()) {
                break;
            }
            segments.push(segment);
            match rest[end..].strip_prefix("::") {
                Some(next) => rest = next,
                None => break,
            }
        }
        paths.push(segments);
    }
    paths
}

fn graph(root: &Path) -> Graph {
    let modules = modules(root);
    let resolve = |base: &[&str], path: &[&str]| -> Option<String> {
        (1..=path.len()).rev().find_map(|len| {
            let candidate: Vec<&str> = base.iter().chain(&path[..len]).copied().collect();
            let name = candidate.join("::");
            modules.contains_key(&name).then_some(name)
        })
    };
    let mut edges = Graph::new();
    for (module, code) in &modules {
        let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let mut targets = BTreeSet::new();
        for path in paths_after(code, "crate::") {
            targets.extend(resolve(&[], &path));
        }
        if let Some((_, parent)) = own.split_last() {
            for path in paths_after(code, "super::") {
                if path.is_empty() {
                    // `use super::*`: the parent itself.
                    targets.insert(parent.join("::"));
                }
                targets.extend(resolve(parent, &path));
            }
        }
        for path in paths_after(code, "self::") {
            targets.extend(resolve(&own, &path));
        }
        // A parent's uses of its own children, by their bare names.
        for line in code.lines() {
            let line = line
                .trim_start()
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            if let Some(child) = line
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
            {
                let uses = code.match_indices(&format!("{child}::")).any(|(at, _)| {
                    at == 0 || !is_ident(code.as_bytes()[at - 1]) && code.as_bytes()[at - 1] != b':'
                });
                if uses {
                    targets.extend(resolve(&own, &[child]));
                }
            }
        }
        targets.retain(|target| target != module && !target.is_empty());
        edges.insert(module.clone(), targets);
    }
    edges
}

/// Tarjan's strongly connected components with more than one module.
fn cycles(edges: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        edges: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        for target in state.edges.get(node).into_iter().flatten() {
            let target = target.as_str();
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[node].min(state.low[target]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.low[node].min(state.index[target]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

#[test]
fn no_module_imports_itself_through_others() {
    let workspace = root();
    let mut report = String::new();
    let mut seen = 0;
    let roots = roots();
    assert!(
        roots.len() >= 5,
        "the runtime, app, CLI, bench and launcher: {roots:?}"
    );
    for root in &roots {
        let edges = graph(&workspace.join(root));
        seen += edges.values().map(BTreeSet::len).sum::<usize>();
        for cycle in cycles(&edges) {
            report.push_str(&format!("\n{root}: a cycle through {}", cycle.join(", ")));
            for module in &cycle {
                let inside: Vec<&str> = edges[module]
                    .iter()
                    .filter(|target| cycle.contains(target))
                    .map(String::as_str)
                    .collect();
                report.push_str(&format!("\n  {module} imports {}", inside.join(", ")));
            }
        }
    }
    // The graph is real: the runtime alone has well over a hundred edges.
    assert!(
        seen > 150,
        "only {seen} import edges found: the scan is broken"
    );
    assert!(report.is_empty(), "module import cycles:{report}");
}

#[test]
fn the_scan_finds_a_cycle_when_there_is_one() {
    let mut edges = Graph::new();
    edges.insert("a".into(), ["b".into()].into());
    edges.insert("b".into(), ["c".into()].into());
    edges.insert("c".into(), ["a".into()].into());
    edges.insert("d".into(), ["a".into()].into());
    assert_eq!(cycles(&edges), vec![vec!["a", "b", "c"]]);
}

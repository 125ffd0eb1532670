//! `openapi.json`, edited as text so that its hand-kept layout stays as it
//! is: the new path item goes after the last one, in the document's
//! indentation, and the result is checked to be the old document plus that
//! one path, with every `$ref` resolving.

use serde_json::Value;

use super::problem::Problem;
use super::spec::shape_of;

const FILE: &str = "openapi.json";

fn not_editable(problem: impl Into<String>) -> Problem {
    Problem::new(
        problem,
        "add the route's path to openapi.json by hand (copy an existing path), or restore its shape (`git diff openapi.json`)",
    )
}

/// The document, parsed.
pub fn parse(text: &str) -> Result<Value, Problem> {
    let document: Value = serde_json::from_str(text).map_err(|err| {
        Problem::new(
            format!("{FILE} is not valid JSON: {err}"),
            "fix the document first (`git diff openapi.json`), then add the route",
        )
    })?;
    if !document["paths"].is_object() {
        return Err(not_editable(format!("{FILE} has no `paths` object")));
    }
    Ok(document)
}

/// The documented path serving the same URLs as `path` (`{id}` and `{x}`
/// alike), if any.
pub fn same_paths<'d>(document: &'d Value, path: &str) -> Option<&'d str> {
    let shape = |path: &str| shape_of(&path.replace('{', "[").replace('}', "]"));
    let wanted = shape(path);
    document["paths"]
        .as_object()?
        .keys()
        .find(|existing| shape(existing) == wanted)
        .map(String::as_str)
}

/// The `security` of the document's authenticated operations, as written
/// in one line (`[{"bearer": []}, ...]`): the first operation's that asks
/// for a credential and accepts no anonymous call.
pub fn authenticated_security(document: &Value) -> Result<String, Problem> {
    let found = document["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|operation| operation.get("security")?.as_array())
        .find(|security| {
            !security.is_empty()
                && security
                    .iter()
                    .all(|item| item.as_object().is_some_and(|item| !item.is_empty()))
        });
    match found {
        Some(security) => Ok(inline(&Value::Array(security.clone()))),
        None => Err(not_editable(format!(
            "{FILE} has no authenticated operation whose `security` the route could copy"
        ))),
    }
}

/// A JSON value on one line, as the document writes small values:
/// `{"key": value}`, `[a, b]`.
fn inline(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{}: {}", Value::String(key.clone()), inline(value)))
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        other => other.to_string(),
    }
}

/// Where the `paths` object opens and closes (byte offsets of `{` and `}`).
fn paths_span(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut index = 0;
    let mut opened = None;
    let mut last_key_at_depth_1: Option<(usize, usize)> = None;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => {
                let start = index;
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' {
                    if bytes[index] == b'\\' {
                        index += 1;
                    }
                    index += 1;
                }
                if depth == 1 {
                    last_key_at_depth_1 = Some((start + 1, index));
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 2
                    && bytes[index] == b'{'
                    && opened.is_none()
                    && last_key_at_depth_1.is_some_and(|(from, to)| &text[from..to] == "paths")
                {
                    opened = Some(index);
                }
            }
            b'}' | b']' => {
                if depth == 2
                    && let Some(open) = opened
                {
                    return Some((open, index));
                }
                depth = depth.checked_sub(1)?;
            }
            b',' if depth == 1 => last_key_at_depth_1 = None,
            _ => {}
        }
        index += 1;
    }
    None
}

/// `item` (indented two spaces a level, its first line at four) in the
/// indentation of the document's path items, `member`.
fn reindent(item: &str, member: &str) -> String {
    if member == "    " || member.is_empty() || !member.len().is_multiple_of(2) {
        return item.to_owned();
    }
    let unit = &member[..member.len() / 2];
    if unit.repeat(2) != member {
        return item.to_owned();
    }
    item.lines()
        .map(|line| {
            let content = line.trim_start_matches(' ');
            let levels = (line.len() - content.len()) / 2;
            format!("{}{content}", unit.repeat(levels))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The document with `item` (a `"path": {...}` member, four spaces in,
/// without a trailing newline) added as the last member of `paths`.
pub fn add_path_item(text: &str, path: &str, item: &str) -> Result<String, Problem> {
    let before = parse(text)?;
    let Some((open, close)) = paths_span(text) else {
        return Err(not_editable(format!(
            "the `paths` object of {FILE} was not found"
        )));
    };
    let inside = &text[open + 1..close];
    let new_text = match inside.trim_end().len() {
        0 => {
            // An empty `paths`: the closing brace's line tells the indent.
            let closing_indent: String = text[..close]
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .take_while(|c| c.is_whitespace())
                .collect();
            format!(
                "{}\n{item}\n{closing_indent}{}",
                &text[..=open],
                &text[close..]
            )
        }
        last => {
            let member: String = inside
                .trim_start_matches(['\r', '\n'])
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            let end = open + 1 + last;
            format!(
                "{},\n{}{}",
                &text[..end],
                reindent(item, &member),
                &text[end..]
            )
        }
    };
    let after: Value = serde_json::from_str(&new_text).map_err(|err| {
        not_editable(format!(
            "{FILE}: the new path did not fit in the document as written ({err})"
        ))
    })?;
    // The result is the old document with this one path more.
    let item_value: Value = serde_json::from_str(&format!("{{{item}}}"))
        .map_err(|err| not_editable(format!("the new path item is not JSON: {err}")))?;
    let mut expected = before;
    if let (Some(paths), Some(new)) = (expected["paths"].as_object_mut(), item_value.get(path)) {
        paths.insert(path.to_owned(), new.clone());
    }
    if after != expected {
        return Err(not_editable(format!(
            "{FILE}: adding {path} changed more than that path"
        )));
    }
    check_references(&after, path)?;
    Ok(new_text)
}

/// Every `$ref` under `paths[path]` resolves, and no operation id is used
/// twice in the document.
fn check_references(document: &Value, path: &str) -> Result<(), Problem> {
    let mut references = Vec::new();
    collect_references(&document["paths"][path], &mut references);
    for reference in references {
        let target = reference
            .strip_prefix('#')
            .and_then(|pointer| document.pointer(pointer));
        if target.is_none() {
            return Err(not_editable(format!(
                "{FILE} has no {reference}, which the new path uses (as the other paths do)"
            )));
        }
    }
    let mut ids = std::collections::BTreeSet::new();
    for item in document["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|item| item.values()) {
            if let Some(id) = operation.get("operationId").and_then(Value::as_str)
                && !ids.insert(id)
            {
                return Err(not_editable(format!(
                    "{FILE} would use the operationId `{id}` twice"
                )));
            }
        }
    }
    Ok(())
}

fn collect_references(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => out.push(reference.clone()),
                    _ => collect_references(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_references(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "{\n  \"openapi\": \"3.1.0\",\n  \"paths\": {\n    \"/api/a\": {\n      \"get\": {\"operationId\": \"getA\", \"security\": [{}, {\"bearer\": []}]}\n    },\n    \"/api/b/{id}\": {\n      \"get\": {\"operationId\": \"getB\", \"security\": [{\"bearer\": []}, {\"apiKey\": []}]}\n    }\n  },\n  \"components\": {\"responses\": {\"Bad\": {\"description\": \"x\"}}}\n}\n";

    #[test]
    fn the_path_goes_last_in_the_document_s_layout() {
        let item = "    \"/api/c\": {\n      \"get\": {\"operationId\": \"getC\", \"responses\": {\"400\": {\"$ref\": \"#/components/responses/Bad\"}}}\n    }";
        let out = add_path_item(DOCUMENT, "/api/c", item).unwrap();
        assert!(
            out.contains(
                "{\"bearer\": []}, {\"apiKey\": []}]}\n    },\n    \"/api/c\": {\n      \"get\""
            ),
            "{out}"
        );
        assert!(out.ends_with("}}}\n    }\n  },\n  \"components\": {\"responses\": {\"Bad\": {\"description\": \"x\"}}}\n}\n"), "{out}");
        // Only the new lines differ.
        let added = out.lines().count() - DOCUMENT.lines().count();
        assert_eq!(added, 3);

        let missing = item.replace("Bad", "Missing");
        let err = add_path_item(DOCUMENT, "/api/c", &missing).unwrap_err();
        assert!(
            err.problem.contains("#/components/responses/Missing"),
            "{err}"
        );
        let twice = item.replace("getC", "getA");
        assert!(
            add_path_item(DOCUMENT, "/api/c", &twice)
                .unwrap_err()
                .problem
                .contains("getA")
        );
    }

    #[test]
    fn security_and_shapes_come_from_the_document() {
        let document = parse(DOCUMENT).unwrap();
        assert_eq!(
            authenticated_security(&document).unwrap(),
            r#"[{"bearer": []}, {"apiKey": []}]"#
        );
        assert_eq!(same_paths(&document, "/api/b/{other}"), Some("/api/b/{id}"));
        assert_eq!(same_paths(&document, "/api/b"), None);
        assert!(parse("{\"paths\": 1}").is_err());
        assert!(parse("{").unwrap_err().problem.contains("not valid JSON"));
    }

    #[test]
    fn an_empty_paths_object_and_another_indentation() {
        let empty = "{\n  \"paths\": {\n  }\n}\n";
        let out = add_path_item(empty, "/api/c", "    \"/api/c\": {}").unwrap();
        assert_eq!(out, "{\n  \"paths\": {\n    \"/api/c\": {}\n  }\n}\n");
        let wide = "{\n    \"paths\": {\n        \"/api/a\": {}\n    }\n}\n";
        let out = add_path_item(
            wide,
            "/api/c",
            "    \"/api/c\": {\n      \"get\": {}\n    }",
        )
        .unwrap();
        assert_eq!(
            out,
            "{\n    \"paths\": {\n        \"/api/a\": {},\n        \"/api/c\": {\n            \"get\": {}\n        }\n    }\n}\n"
        );
    }
}

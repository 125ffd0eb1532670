//! The scaffold's templates: real files under `new_route/templates/`, read
//! as they will be written, with two kinds of marks.
//!
//! - `{{NAME}}` is replaced by a value; a value of several lines stands
//!   alone on its line.
//! - A line holding only `{{#flag}}` keeps the lines up to `{{/flag}}` when
//!   the flag is set; `{{^flag}}` keeps them when it is not. Marker lines
//!   are dropped.
//!
//! A mark left over or a flag not given is an error: the templates are
//! rendered with every combination of flags in the unit tests.

/// The template files, compiled in.
pub mod files {
    pub const HANDLER: &str = include_str!("templates/handler.rs.tmpl");
    pub const HANDLER_GET: &str = include_str!("templates/handler_get.rs.tmpl");
    pub const HANDLER_WITH_BODY: &str = include_str!("templates/handler_with_body.rs.tmpl");
    pub const HANDLER_DELETE: &str = include_str!("templates/handler_delete.rs.tmpl");
    pub const ROUTE_STATIC: &str = include_str!("templates/route_static.rs.tmpl");
    pub const BINARY: &str = include_str!("templates/binary.rs.tmpl");
    pub const TEST: &str = include_str!("templates/test.rs.tmpl");
    pub const TEST_GET: &str = include_str!("templates/test_get.rs.tmpl");
    pub const TEST_WITH_BODY: &str = include_str!("templates/test_with_body.rs.tmpl");
    pub const TEST_DELETE: &str = include_str!("templates/test_delete.rs.tmpl");
    pub const TEST_REFUSED: &str = include_str!("templates/test_refused.rs.tmpl");
    pub const TEST_MODULES: &str = include_str!("templates/test_modules.rs.tmpl");
    pub const OPENAPI_PATH: &str = include_str!("templates/openapi_path.json.tmpl");
    pub const OPENAPI_PARAMETER: &str = include_str!("templates/openapi_parameter.json.tmpl");
    pub const OPENAPI_OPERATION: &str = include_str!("templates/openapi_operation.json.tmpl");
}

/// `template` with `values` filled in and the blocks of `flags` kept or
/// dropped. `name` names the template in errors.
pub fn render(
    name: &str,
    template: &str,
    values: &[(&str, &str)],
    flags: &[(&str, bool)],
) -> Result<String, String> {
    let flag = |line_number: usize, flag: &str| {
        flags
            .iter()
            .find(|(key, _)| *key == flag)
            .map(|(_, value)| *value)
            .ok_or_else(|| format!("{name}:{line_number}: the flag `{flag}` is not given"))
    };
    // The open blocks: (flag, whether its lines are kept).
    let mut open: Vec<(&str, bool)> = Vec::new();
    let mut out = String::with_capacity(template.len());
    for (index, line) in template.lines().enumerate() {
        let number = index + 1;
        let mark = line
            .trim()
            .strip_prefix("{{")
            .and_then(|rest| rest.strip_suffix("}}"));
        if let Some(mark) = mark {
            if let Some(key) = mark.strip_prefix('#') {
                open.push((key, flag(number, key)?));
                continue;
            }
            if let Some(key) = mark.strip_prefix('^') {
                open.push((key, !flag(number, key)?));
                continue;
            }
            if let Some(key) = mark.strip_prefix('/') {
                match open.pop() {
                    Some((opened, _)) if opened == key => continue,
                    Some((opened, _)) => {
                        return Err(format!(
                            "{name}:{number}: `{{{{/{key}}}}}` closes `{opened}`"
                        ));
                    }
                    None => {
                        return Err(format!("{name}:{number}: `{{{{/{key}}}}}` closes nothing"));
                    }
                }
            }
        }
        if open.iter().all(|(_, kept)| *kept) {
            out.push_str(&fill(name, number, line, values)?);
            out.push('\n');
        }
    }
    if let Some((key, _)) = open.last() {
        return Err(format!("{name}: `{{{{#{key}}}}}` is never closed"));
    }
    Ok(out)
}

fn fill(name: &str, number: usize, line: &str, values: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("{name}:{number}: `{{{{` without `}}}}`"));
        };
        let key = &after[..end];
        let value = values
            .iter()
            .find(|(candidate, _)| *candidate == key)
            .map(|(_, value)| *value)
            .ok_or_else(|| format!("{name}:{number}: no value for `{{{{{key}}}}}`"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    // A multi-line value ends with its own newline; the line adds one.
    Ok(out.strip_suffix('\n').map(str::to_owned).unwrap_or(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_values_and_keeps_or_drops_blocks() {
        let template = "a {{X}} b\n{{#on}}\nkept {{X}}\n{{^off}}\nnested\n{{/off}}\n{{/on}}\n{{#off}}\ndropped\n{{/off}}\n{{^on}}\ndropped too\n{{/on}}\n{{LINES}}\nend\n";
        let out = render(
            "t",
            template,
            &[("X", "x"), ("LINES", "one\ntwo\n")],
            &[("on", true), ("off", false)],
        )
        .unwrap();
        assert_eq!(out, "a x b\nkept x\nnested\none\ntwo\nend\n");
    }

    #[test]
    fn leftovers_are_errors() {
        let flags = [("on", true)];
        assert!(
            render("t", "{{Y}}\n", &[], &flags)
                .unwrap_err()
                .contains("t:1: no value for `{{Y}}`")
        );
        assert!(
            render("t", "{{#x}}\n{{/x}}\n", &[], &flags)
                .unwrap_err()
                .contains("flag `x`")
        );
        assert!(
            render("t", "{{#on}}\n", &[], &flags)
                .unwrap_err()
                .contains("never closed")
        );
        assert!(
            render("t", "{{/on}}\n", &[], &flags)
                .unwrap_err()
                .contains("closes nothing")
        );
        assert!(
            render("t", "a {{X\n", &[("X", "")], &flags)
                .unwrap_err()
                .contains("without")
        );
    }
}

//! `docs/reasons.md`'s table is generated from the code: every reason of
//! `Reason::ALL` with its status and title (`error.rs`) and its meaning,
//! usual cause and fix (`reason.rs`), between the two marker
//! comments. The test fails when the file is stale;
//! `GATEHOUSE_WRITE_DOCS=1 cargo test -p gatehouse --test docs_reasons`
//! rewrites the table instead.

// Test code may unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use gatehouse::Reason;

const BEGIN: &str = "<!-- reasons:begin: generated from crates/gatehouse/src/error.rs by crates/gatehouse/tests/docs_reasons.rs; do not edit -->";
const END: &str = "<!-- reasons:end -->";
const REGENERATE: &str = "GATEHOUSE_WRITE_DOCS=1 cargo test -p gatehouse --test docs_reasons";

fn reasons_md() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/reasons.md")
}

/// One Markdown table cell: a `|` would end the cell early, a line break the row.
fn cell(text: &str) -> String {
    assert!(
        !text.contains('\n'),
        "a table cell must be one line: {text:?}"
    );
    text.replace('|', "\\|")
}

/// The table, one row per reason in `Reason::ALL`'s order.
fn table() -> String {
    let mut out = String::from(
        "| reason | status | title | meaning | usual cause | fix |\n|---|---|---|---|---|---|\n",
    );
    for reason in Reason::ALL {
        let doc = reason.doc();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            reason.as_str(),
            reason.status().as_u16(),
            cell(reason.title()),
            cell(doc.meaning),
            cell(doc.usual_cause),
            cell(doc.fix),
        ));
    }
    out
}

#[test]
fn every_reason_is_documented() {
    let mut codes = BTreeSet::new();
    for reason in Reason::ALL {
        let code = reason.as_str();
        assert!(codes.insert(code), "{code} is listed twice in Reason::ALL");
        let doc = reason.doc();
        for (column, text) in [
            ("title", reason.title()),
            ("meaning", doc.meaning),
            ("usual_cause", doc.usual_cause),
            ("fix", doc.fix),
        ] {
            assert!(
                !text.trim().is_empty(),
                "{code} has no {column}: write it in crates/gatehouse/src/reason.rs"
            );
        }
        assert!(
            doc.meaning.ends_with('.') && doc.fix.ends_with('.'),
            "{code}: the meaning and the fix are sentences ending with a period"
        );
    }
    assert!(Reason::ALL.len() > 40, "the taxonomy lost reasons");
}

#[test]
fn reasons_md_table_is_generated_from_the_code() {
    let path = reasons_md();
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let (before, rest) = text.split_once(BEGIN).unwrap_or_else(|| {
        panic!(
            "{} lacks the line {BEGIN}\nthat starts the generated table",
            path.display()
        )
    });
    let (current, after) = rest.split_once(END).unwrap_or_else(|| {
        panic!(
            "{} lacks the line {END} that ends the generated table",
            path.display()
        )
    });
    let expected = format!("\n{}", table());
    if current == expected {
        return;
    }
    if std::env::var_os("GATEHOUSE_WRITE_DOCS").is_some_and(|value| value == "1") {
        std::fs::write(&path, format!("{before}{BEGIN}{expected}{END}{after}"))
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        eprintln!("rewrote the reasons table in {}", path.display());
        return;
    }
    let first_difference = current
        .lines()
        .zip(expected.lines())
        .find(|(found, wanted)| found != wanted)
        .map(|(found, wanted)| format!("\n  found:    {found}\n  expected: {wanted}"))
        .unwrap_or_else(|| "\n  (one has more rows than the other)".to_owned());
    panic!(
        "docs/reasons.md is stale: its reasons table differs from Reason::ALL and Reason::doc (crates/gatehouse/src/reason.rs).{first_difference}\nEdit the texts in the code, not the table, then regenerate it with:\n  {REGENERATE}"
    );
}

//! `CORS_ORIGINS`: the browser origins allowed to call with credentials.

use crate::auth::pattern::PatternList;
use crate::config::env::{Environment, Reader};

/// The Vercel system variables a `CORS_ORIGINS` entry may name, in braces
/// (`https://{VERCEL_BRANCH_URL}`): this deployment's own exact hosts, the
/// safe way to let a preview's own frontend call it.
pub(super) const ORIGIN_PLACEHOLDERS: [&str; 3] = [
    "VERCEL_URL",
    "VERCEL_BRANCH_URL",
    "VERCEL_PROJECT_PRODUCTION_URL",
];

/// The opt-in that keeps a wildcard directly under a public suffix (the old
/// `https://myapp-*-acme.vercel.app`) outside production. Loud on purpose.
pub(super) const UNSAFE_WILDCARDS: &str = "CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS";

/// `CORS_ORIGINS`: origins allowed to call with the user's credentials.
/// Placeholders are expanded first; a wildcard that strangers can match (one
/// directly under a public suffix such as `vercel.app`, where anyone names a
/// project `myapp-pwn-acme`) is refused, and in production even with
/// `CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS`.
pub(super) fn read_cors_origins(r: &mut Reader<'_>, environment: Environment) -> PatternList {
    const VARIABLE: &str = "CORS_ORIGINS";
    let Some(raw) = r.get(VARIABLE) else {
        return PatternList::default();
    };
    let mut entries = Vec::new();
    let mut refused = false;
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut expanded = entry.to_owned();
        let mut usable = true;
        while let Some(open) = expanded.find('{') {
            let Some(close) = expanded[open..].find('}').map(|at| open + at) else {
                break;
            };
            let written = expanded[open + 1..close].to_owned();
            let Some(name) = ORIGIN_PLACEHOLDERS.into_iter().find(|n| *n == written) else {
                let name = written;
                r.error(
                    VARIABLE,
                    format!("entry `{entry}` names {{{name}}}, which is not one of {}", ORIGIN_PLACEHOLDERS.map(|n| format!("{{{n}}}")).join(", ")),
                    "use {VERCEL_URL}, {VERCEL_BRANCH_URL} or {VERCEL_PROJECT_PRODUCTION_URL} (this deployment's own hosts), or write the origin out",
                );
                refused = true;
                usable = false;
                break;
            };
            match r.get(name) {
                Some(host) => expanded.replace_range(open..=close, host.trim()),
                None => {
                    r.warn(
                        VARIABLE,
                        format!("entry `{entry}` names {{{name}}}, which is not set here, so the entry is left out"),
                        format!("on Vercel, enable \"Automatically expose System Environment Variables\" so {name} is set; elsewhere write the origin out"),
                    );
                    usable = false;
                    break;
                }
            }
        }
        if usable {
            entries.push(expanded);
        }
    }
    let list = match PatternList::parse(&entries.join(",")) {
        Ok(list) => list,
        Err(problem) => {
            r.error(
                VARIABLE,
                problem.0,
                "set CORS_ORIGINS to exact origins (https://app.example.com), this deployment's own hosts (https://{VERCEL_BRANCH_URL}), or patterns under a domain you own (https://*.preview.example.com), comma-separated",
            );
            return PatternList::default();
        }
    };
    let opted_in = r.bool(UNSAFE_WILDCARDS);
    for pattern in &list.0 {
        let Some(suffix) = pattern.open_to_strangers() else {
            continue;
        };
        let problem = if suffix.is_empty() {
            format!("`{}` leaves the whole domain to its `*`", pattern.as_str())
        } else {
            format!(
                "`{}` puts its `*` directly under {suffix}, a public suffix: anyone can register a matching host (a project or subdomain of their own there) and call this API with your users' credentials",
                pattern.as_str()
            )
        };
        let fix = "list exact origins instead (https://app.example.com), this deployment's own hosts ({VERCEL_URL}, {VERCEL_BRANCH_URL}, {VERCEL_PROJECT_PRODUCTION_URL} in braces), or a pattern under a domain you own (https://*.preview.example.com)";
        if environment == Environment::Production {
            refused = true;
            r.error(
                VARIABLE,
                format!("{problem}; refused in production even with {UNSAFE_WILDCARDS}"),
                fix,
            );
        } else if opted_in && !suffix.is_empty() {
            r.warn(
                VARIABLE,
                format!("{problem}; allowed outside production because {UNSAFE_WILDCARDS} is set"),
                fix,
            );
        } else {
            refused = true;
            r.error(
                VARIABLE,
                problem,
                format!("{fix}; outside production only, {UNSAFE_WILDCARDS}=true keeps such a pattern (never in production)"),
            );
        }
    }
    if r.get(UNSAFE_WILDCARDS).is_some() && environment == Environment::Production {
        r.error(
            UNSAFE_WILDCARDS,
            "is set in production",
            format!("unset {UNSAFE_WILDCARDS} in production; wildcards under a public suffix are never allowed there"),
        );
    }
    if refused {
        return PatternList::default();
    }
    list
}

//! The Public Suffix List: which domains anyone can register names under
//! (`com`, `co.uk`, and hosting suffixes such as `vercel.app`), so which
//! hosts are one site, and which wildcard origins a stranger could claim.
//!
//! The list is a vendored, dated copy (`public_suffix_list.txt`, its header
//! says from where and when). It is read into a set on first use, which only
//! configuration checks (`CORS_ORIGINS` wildcards, `SESSION_COOKIE_DOMAIN`)
//! and the CLI's browser rules make: never a request.

use std::collections::HashSet;
use std::sync::LazyLock;

const LIST: &str = include_str!("public_suffix_list.txt");

struct Rules {
    /// Plain rules (`co.uk`) and wildcard rules without their `*.` (`ck` for
    /// `*.ck`), each in its own set; exceptions without their `!`.
    plain: HashSet<&'static str>,
    wildcard: HashSet<&'static str>,
    exception: HashSet<&'static str>,
}

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let mut rules = Rules {
        plain: HashSet::with_capacity(10_500),
        wildcard: HashSet::new(),
        exception: HashSet::new(),
    };
    for line in LIST.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if let Some(rule) = line.strip_prefix("*.") {
            rules.wildcard.insert(rule);
        } else if let Some(rule) = line.strip_prefix('!') {
            rules.exception.insert(rule);
        } else {
            rules.plain.insert(line);
        }
    }
    rules
});

/// The public suffix of `host` (lower-case ASCII, no trailing dot), as the
/// list's algorithm defines it: the longest matching rule, an exception rule
/// winning, and an unlisted TLD being its own suffix. A slice of `host`.
pub fn public_suffix(host: &str) -> &str {
    let rules = &*RULES;
    let host = host.trim_end_matches('.');
    // No DNS name is longer; the work below grows with the square of it.
    if host.len() > 253 {
        return host.rsplit('.').next().unwrap_or(host);
    }
    // Every suffix of `host` on a label boundary, longest first.
    let suffixes: Vec<&str> = std::iter::once(host)
        .chain(host.match_indices('.').map(|(at, _)| &host[at + 1..]))
        .collect();
    for (index, suffix) in suffixes.iter().enumerate() {
        if rules.exception.contains(suffix) {
            // `!www.ck`: the suffix is the rule minus its first label.
            return suffixes.get(index + 1).copied().unwrap_or(suffix);
        }
    }
    for (index, suffix) in suffixes.iter().enumerate() {
        if rules.plain.contains(suffix) {
            return suffix;
        }
        // `*.ck` matches `<any label>.ck`: here, when the rest after this
        // suffix's first label is a wildcard rule.
        if let Some(next) = suffixes.get(index + 1)
            && rules.wildcard.contains(next)
        {
            return suffix;
        }
    }
    suffixes.last().copied().unwrap_or(host)
}

/// Whether anyone can register names directly under `domain`: it is a
/// public suffix itself (`vercel.app`, `co.uk`, `com`).
pub fn is_public_suffix(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    !domain.is_empty() && public_suffix(domain) == domain
}

/// The registrable domain (public suffix plus one label) of `host`, or
/// `None` when `host` is itself a public suffix.
pub fn registrable_domain(host: &str) -> Option<&str> {
    let host = host.trim_end_matches('.');
    let suffix = public_suffix(host);
    if suffix.len() >= host.len() {
        return None;
    }
    let before = &host[..host.len() - suffix.len() - 1];
    let start = before.rfind('.').map_or(0, |dot| dot + 1);
    Some(&host[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_list_is_dated_and_holds_what_deployments_sit_under() {
        assert!(
            LIST.lines()
                .take(5)
                .any(|line| line.contains("vendored on 20")),
            "the header says when the copy was taken"
        );
        for suffix in [
            "com",
            "co.uk",
            "vercel.app",
            "netlify.app",
            "github.io",
            "pages.dev",
            "web.app",
        ] {
            assert!(is_public_suffix(suffix), "{suffix}");
        }
        assert!(RULES.plain.len() > 9_000, "{}", RULES.plain.len());
    }

    #[test]
    fn suffixes_and_registrable_domains_follow_the_list_algorithm() {
        assert_eq!(public_suffix("myapp-pwn-acme.vercel.app"), "vercel.app");
        assert_eq!(public_suffix("a.b.example.co.uk"), "co.uk");
        assert_eq!(public_suffix("example.com"), "com");
        // Unlisted TLD: its own suffix.
        assert_eq!(public_suffix("host.internal-tld"), "internal-tld");
        // `*.ck` and its exception `!www.ck`.
        assert_eq!(public_suffix("shop.foo.ck"), "foo.ck");
        assert_eq!(public_suffix("www.ck"), "ck");
        assert_eq!(
            registrable_domain("myapp-git-main-acme.vercel.app"),
            Some("myapp-git-main-acme.vercel.app")
        );
        assert_eq!(
            registrable_domain("a.preview.example.com"),
            Some("example.com")
        );
        assert_eq!(registrable_domain("vercel.app"), None);
        assert_eq!(registrable_domain("co.uk"), None);
        assert!(!is_public_suffix("example.com"));
        assert!(!is_public_suffix("preview.example.com"));
        assert!(!is_public_suffix(""));
    }
}

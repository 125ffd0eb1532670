//! How the settings' values are read, whatever the credential kind: lists,
//! patterns and origins.

use crate::auth::pattern::PatternList;
use crate::config::env::{Environment, Reader};

pub(super) fn names(r: &mut Reader<'_>, variable: &'static str, defaults: &[&str]) -> Vec<String> {
    match r.get(variable) {
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
        None => defaults.iter().map(|name| (*name).to_owned()).collect(),
    }
}

/// A comma-separated list of plain values (client ids, domains), trimmed,
/// blanks dropped.
pub(super) fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `host` is a DNS name (`a-z`, `0-9`, `-`, `.`, at least one dot),
/// with an optional port: what a provider's domain must be before it is put
/// into an issuer and a URL.
pub(super) fn is_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    (3..=253).contains(&name.len())
        && name.contains('.')
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

pub(super) fn patterns(r: &mut Reader<'_>, variable: &'static str) -> Option<PatternList> {
    let raw = r.get(variable)?;
    match PatternList::parse(&raw) {
        Ok(list) => Some(list),
        Err(problem) => {
            r.error(
                variable,
                problem.0,
                format!("set {variable} to exact values or patterns such as https://myapp-*-team.vercel.app, comma-separated"),
            );
            None
        }
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL, lower-cased, default
/// port dropped; what Better Auth puts in `iss` and `aud`.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') || authority.contains(' ') {
        return None;
    }
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_owned(),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

pub(super) fn is_local_origin(origin: &str) -> bool {
    let host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let host = host.rsplit_once(':').map_or(host, |(host, _)| host);
    host == "localhost" || host == "127.0.0.1" || host == "[::1]"
}

/// An http(s) URL for fetching keys; https required in production.
pub(super) fn key_url(
    r: &mut Reader<'_>,
    variable: &'static str,
    url: &str,
    environment: Environment,
) -> bool {
    let Some(origin) = origin(url) else {
        r.error(
            variable,
            "is not an absolute http(s) URL",
            format!(
                "set {variable} to a URL such as https://auth.example.com/.well-known/jwks.json"
            ),
        );
        return false;
    };
    if environment == Environment::Production
        && origin.starts_with("http://")
        && !is_local_origin(&origin)
    {
        r.error(
            variable,
            "uses http:// in production, so anyone on the path could swap the keys",
            format!("use the https:// URL in {variable}"),
        );
        return false;
    }
    true
}

//! Finding the credential in a request: `Authorization: Bearer`,
//! `Authorization: ApiKey`, `X-API-Key`, or a cookie.
//!
//! **Precedence:** an `Authorization` header wins over everything else, then
//! `X-API-Key`, then cookies. Headers are explicit (the client chose to send
//! them) while cookies are ambient (the browser sends whatever it holds), and
//! Better Auth's bearer plugin sends the same session in both. Among cookies,
//! the configured names are tried in order; a cookie too large for one
//! `Set-Cookie` arrives as `<name>.0`, `<name>.1`, … chunks (Auth.js), which
//! are joined in order.

use std::fmt;

use http::HeaderMap;

use crate::secret::fingerprint;

/// A presented token. Never printed: `Debug` shows its fingerprint.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into())
    }

    /// The raw value, for verification only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits of its SHA-256: safe to log, enough to
    /// correlate one token across services.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.0.as_bytes())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(sha256:{})", self.fingerprint())
    }
}

/// Where the credential came from: a header kind or a cookie name, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: ApiKey <key>`.
    ApiKeyScheme,
    /// `X-API-Key: <key>`.
    ApiKeyHeader,
    /// The cookie's name; for a chunked cookie, the name without `.0`.
    Cookie(String),
}

impl Source {
    /// Whether the client said this is an API key (rather than a token
    /// whose kind is recognised from its shape).
    pub fn is_api_key(&self) -> bool {
        matches!(self, Source::ApiKeyScheme | Source::ApiKeyHeader)
    }

    pub fn cookie_name(&self) -> Option<&str> {
        match self {
            Source::Cookie(name) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bearer => f.write_str("authorization_header"),
            Source::ApiKeyScheme => f.write_str("authorization_header:apikey"),
            Source::ApiKeyHeader => f.write_str("x-api-key_header"),
            Source::Cookie(name) => write!(f, "cookie:{name}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub source: Source,
    pub token: Token,
    /// Beside a Better Auth session cookie (`<prefix>.session_token`), its
    /// cookie cache (`<prefix>.session_data`, chunks joined), when the
    /// request carries one: a signed copy of the session that
    /// `BETTER_AUTH_COOKIE_CACHE` reads instead of the database.
    pub cookie_cache: Option<Token>,
}

/// Why no usable credential could be taken from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractError {
    /// Nothing that looks like a credential.
    Missing,
    /// An `Authorization` or `X-API-Key` header we cannot use; the message
    /// says why.
    Unusable(String),
}

/// At most this many `.N` chunks are joined: Auth.js splits at ~4 KB, and
/// tokens over 16 KiB are refused anyway.
const MAX_COOKIE_CHUNKS: usize = 8;

/// Finds the credential: `Authorization`, then `X-API-Key`, then the named
/// cookies in order. Cookies are parsed only when no header carries one.
pub fn extract(headers: &HeaderMap, cookie_names: &[String]) -> Result<Credential, ExtractError> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default().trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let source = if scheme.eq_ignore_ascii_case("bearer") {
            Source::Bearer
        } else if scheme.eq_ignore_ascii_case("apikey") {
            Source::ApiKeyScheme
        } else {
            return Err(ExtractError::Unusable(format!(
                "the Authorization header uses the `{scheme}` scheme; send `Authorization: Bearer <token>` (or `ApiKey <key>` for an API key)"
            )));
        };
        return usable(source, scheme, rest.trim());
    }
    if let Some(value) = headers.get("x-api-key") {
        let value = value.to_str().unwrap_or_default().trim();
        return usable(Source::ApiKeyHeader, "X-API-Key", value);
    }
    let cookies = parse_cookies(headers);
    for wanted in cookie_names {
        if let Some(value) = cookie_value(&cookies, wanted) {
            let cookie_cache = cookie_cache_name(wanted)
                .and_then(|name| cookie_value(&cookies, &name))
                .map(Token::new);
            return Ok(Credential {
                source: Source::Cookie(wanted.clone()),
                token: Token::new(value),
                cookie_cache,
            });
        }
    }
    Err(ExtractError::Missing)
}

fn usable(source: Source, carrier: &str, value: &str) -> Result<Credential, ExtractError> {
    if value.is_empty() {
        return Err(ExtractError::Unusable(format!(
            "the {carrier} header carries no credential"
        )));
    }
    if value.eq_ignore_ascii_case("undefined") || value.eq_ignore_ascii_case("null") {
        return Err(ExtractError::Unusable(format!(
            "the {carrier} credential is the text `{value}`: the client sent a variable that was never set"
        )));
    }
    Ok(Credential {
        source,
        token: Token::new(value),
        cookie_cache: None,
    })
}

/// The name of Better Auth's cookie cache beside the session cookie
/// `session_cookie`: `[__Secure-]<prefix>.session_data` for
/// `[__Secure-]<prefix>.session_token` (Better Auth's `getCookies`); none
/// for other cookies.
pub fn cookie_cache_name(session_cookie: &str) -> Option<String> {
    let prefix = session_cookie.strip_suffix(".session_token")?;
    Some(format!("{prefix}.session_data"))
}

/// The cookie's value, or its `.0`, `.1`, … chunks joined in order.
fn cookie_value(cookies: &[(&str, &str)], wanted: &str) -> Option<String> {
    let find = |name: &str| {
        cookies
            .iter()
            .find(|(n, value)| *n == name && !value.is_empty())
            .map(|(_, value)| *value)
    };
    if let Some(value) = find(wanted) {
        return Some(value.to_owned());
    }
    let mut joined = String::new();
    for index in 0..MAX_COOKIE_CHUNKS {
        match find(&format!("{wanted}.{index}")) {
            Some(chunk) => joined.push_str(chunk),
            None => break,
        }
    }
    (!joined.is_empty()).then_some(joined)
}

/// The names of the cookies a request carried, never their values: what a
/// refusal reports, since "the browser dropped the cookie" is the usual story.
pub fn cookie_names(headers: &HeaderMap) -> Vec<String> {
    parse_cookies(headers)
        .into_iter()
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// `name=value` pairs from every `Cookie` header. Pairs without `=` or with
/// an empty name are skipped: one broken cookie must not hide the others.
pub fn parse_cookies(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            let value = value.trim().trim_matches('"');
            (!name.is_empty()).then_some((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn names() -> Vec<String> {
        vec![
            "__Secure-better-auth.session_token".into(),
            "better-auth.session_token".into(),
        ]
    }

    #[test]
    fn the_header_wins_over_cookies() {
        let h = headers(&[
            ("authorization", "Bearer abc.def.ghi"),
            ("cookie", "better-auth.session_token=xyz"),
        ]);
        let credential = extract(&h, &names()).unwrap();
        assert_eq!(credential.source, Source::Bearer);
        assert_eq!(credential.token.expose(), "abc.def.ghi");
        assert_eq!(cookie_names(&h), ["better-auth.session_token"]);
    }

    #[test]
    fn cookies_are_tried_in_configured_order() {
        let h = headers(&[(
            "cookie",
            "theme=dark; better-auth.session_token=plain; __Secure-better-auth.session_token=secure",
        )]);
        let credential = extract(&h, &names()).unwrap();
        assert_eq!(
            credential.source,
            Source::Cookie("__Secure-better-auth.session_token".into())
        );
        assert_eq!(credential.token.expose(), "secure");
    }

    #[test]
    fn broken_cookies_do_not_hide_good_ones() {
        let h = headers(&[(
            "cookie",
            "garbage; =novalue; ;;better-auth.session_token=ok",
        )]);
        assert_eq!(extract(&h, &names()).unwrap().token.expose(), "ok");
    }

    #[test]
    fn unusable_authorization_headers_say_why() {
        for (value, expected) in [
            ("Basic dXNlcjpwYXNz", "Basic"),
            ("Bearer", "no credential"),
            ("Bearer   ", "no credential"),
            ("Bearer undefined", "never set"),
        ] {
            match extract(&headers(&[("authorization", value)]), &names()) {
                Err(ExtractError::Unusable(message)) => {
                    assert!(message.contains(expected), "{value}: {message}")
                }
                other => panic!("{value}: {other:?}"),
            }
        }
        assert_eq!(
            extract(&HeaderMap::new(), &names()).unwrap_err(),
            ExtractError::Missing
        );
    }

    #[test]
    fn api_keys_arrive_in_either_header_and_authorization_wins() {
        let h = headers(&[("x-api-key", "gk_abc")]);
        let credential = extract(&h, &names()).unwrap();
        assert_eq!(credential.source, Source::ApiKeyHeader);
        assert_eq!(credential.token.expose(), "gk_abc");
        let h = headers(&[("authorization", "ApiKey gk_def"), ("x-api-key", "gk_abc")]);
        let credential = extract(&h, &names()).unwrap();
        assert_eq!(credential.source, Source::ApiKeyScheme);
        assert_eq!(credential.token.expose(), "gk_def");
        assert!(credential.source.is_api_key());
        assert!(matches!(
            extract(&headers(&[("x-api-key", " ")]), &names()),
            Err(ExtractError::Unusable(_))
        ));
    }

    #[test]
    fn chunked_cookies_are_joined_in_order() {
        let names = vec!["authjs.session-token".to_owned()];
        let h = headers(&[(
            "cookie",
            "authjs.session-token.1=BBB; other=x; authjs.session-token.0=AAA; authjs.session-token.3=DDD",
        )]);
        let credential = extract(&h, &names).unwrap();
        assert_eq!(
            credential.source,
            Source::Cookie("authjs.session-token".into())
        );
        // .2 is missing, so .3 is not part of the value.
        assert_eq!(credential.token.expose(), "AAABBB");
    }

    #[test]
    fn better_auths_cookie_cache_comes_with_its_session_cookie() {
        let h = headers(&[(
            "cookie",
            "better-auth.session_data.1=BBB; better-auth.session_token=tok.sig; better-auth.session_data.0=AAA",
        )]);
        let credential = extract(&h, &names()).unwrap();
        assert_eq!(credential.token.expose(), "tok.sig");
        assert_eq!(
            credential.cookie_cache.as_ref().map(Token::expose),
            Some("AAABBB")
        );
        // The __Secure- session cookie goes with the __Secure- cache only.
        let h = headers(&[(
            "cookie",
            "__Secure-better-auth.session_token=tok.sig; better-auth.session_data=plain",
        )]);
        assert!(extract(&h, &names()).unwrap().cookie_cache.is_none());
        let h = headers(&[(
            "cookie",
            "__Secure-better-auth.session_token=tok.sig; __Secure-better-auth.session_data=secure",
        )]);
        assert_eq!(
            extract(&h, &names())
                .unwrap()
                .cookie_cache
                .as_ref()
                .map(Token::expose),
            Some("secure")
        );
        // Never beside a header credential, nor another kind's cookie.
        let h = headers(&[
            ("authorization", "Bearer tok.sig"),
            ("cookie", "better-auth.session_data=x"),
        ]);
        assert!(extract(&h, &names()).unwrap().cookie_cache.is_none());
        assert_eq!(cookie_cache_name("authjs.session-token"), None);
        assert_eq!(
            cookie_cache_name("my-app.session_token").as_deref(),
            Some("my-app.session_data")
        );
    }

    #[test]
    fn tokens_never_print() {
        let token = Token::new("super-secret-token-value");
        assert!(!format!("{token:?}").contains("super-secret"));
    }
}

//! Finding the credential in a request: `Authorization: Bearer`, or a cookie.
//!
//! **Precedence:** an `Authorization` header wins over cookies. It is explicit
//! (the client chose to send it) while cookies are ambient (the browser sends
//! whatever it holds), and Better Auth's bearer plugin sends the same session
//! in both. Among cookies, the configured names are tried in order.

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
    Bearer,
    Cookie(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bearer => f.write_str("authorization_header"),
            Source::Cookie(name) => write!(f, "cookie:{name}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub source: Source,
    pub token: Token,
}

/// Why no usable credential could be taken from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractError {
    /// Nothing that looks like a credential.
    Missing,
    /// An `Authorization` header we cannot use; the message says why.
    Unusable(String),
}

/// Finds the credential, header first, then the named cookies in order.
/// Cookies are parsed only when there is no `Authorization` header.
pub fn extract(headers: &HeaderMap, cookie_names: &[String]) -> Result<Credential, ExtractError> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default().trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ExtractError::Unusable(format!(
                "the Authorization header uses the `{scheme}` scheme; send `Authorization: Bearer <token>`"
            )));
        }
        let token = rest.trim();
        if token.is_empty() {
            return Err(ExtractError::Unusable(
                "the Authorization header says Bearer but carries no token".to_owned(),
            ));
        }
        if token.eq_ignore_ascii_case("undefined") || token.eq_ignore_ascii_case("null") {
            return Err(ExtractError::Unusable(format!(
                "the bearer token is the text `{token}`: the frontend sent a variable that was never set"
            )));
        }
        return Ok(Credential {
            source: Source::Bearer,
            token: Token::new(token),
        });
    }
    let cookies = parse_cookies(headers);
    for wanted in cookie_names {
        if let Some((name, value)) = cookies.iter().find(|(name, _)| name == wanted)
            && !value.is_empty()
        {
            return Ok(Credential {
                source: Source::Cookie((*name).to_owned()),
                token: Token::new(*value),
            });
        }
    }
    Err(ExtractError::Missing)
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
            ("Bearer", "no token"),
            ("Bearer   ", "no token"),
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
    fn tokens_never_print() {
        let token = Token::new("super-secret-token-value");
        assert!(!format!("{token:?}").contains("super-secret"));
    }
}

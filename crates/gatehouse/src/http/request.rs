//! What every request is checked for before any route sees it, and its id.

use std::fmt;

use http::HeaderMap;

use crate::error::RequestError;

/// Sum of header name and value bytes we accept. Browsers cap cookies near
/// 4 KiB each; 32 KiB leaves room for several while refusing header floods.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Largest request body: the routes take small JSON documents.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Refuses what no route should have to handle: oversized or non-UTF-8
/// headers and broken percent-encoding in the path or query.
pub fn check(parts: &http::request::Parts) -> Result<(), RequestError> {
    check_headers(&parts.headers)?;
    let path = parts.uri.path();
    check_percent_encoding("path", path)?;
    if percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .is_err()
    {
        return Err(RequestError::Malformed {
            detail: "the path does not decode to UTF-8 text".to_owned(),
        });
    }
    if let Some(query) = parts.uri.query() {
        check_percent_encoding("query string", query)?;
    }
    Ok(())
}

fn check_headers(headers: &HeaderMap) -> Result<(), RequestError> {
    let mut size = 0;
    for (name, value) in headers {
        size += name.as_str().len() + value.len();
        if std::str::from_utf8(value.as_bytes()).is_err() {
            return Err(RequestError::HeaderInvalid {
                header: name.as_str().to_owned(),
                detail: "is not valid UTF-8",
            });
        }
    }
    if size > MAX_HEADER_BYTES {
        return Err(RequestError::HeadersTooLarge {
            size,
            limit: MAX_HEADER_BYTES,
        });
    }
    Ok(())
}

fn check_percent_encoding(part: &str, text: &str) -> Result<(), RequestError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let valid = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !valid {
                return Err(RequestError::Malformed {
                    detail: format!(
                        "the {part} has a `%` at byte {i} that is not followed by two hex digits"
                    ),
                });
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// A request id: the platform's when it gives one, otherwise generated.
/// Always short printable ASCII, so it is safe in headers and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts a platform id (`x-vercel-id`, the Lambda request id) if it is
    /// plausibly one; anything else is replaced, never echoed.
    pub fn from_platform(candidate: Option<&str>) -> Self {
        match candidate {
            Some(id)
                if !id.is_empty()
                    && id.len() <= 128
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b":._-".contains(&b)) =>
            {
                RequestId(id.to_owned())
            }
            _ => Self::generate(),
        }
    }

    pub fn generate() -> Self {
        RequestId(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> http::request::Parts {
        http::Request::get(uri).body(()).unwrap().into_parts().0
    }

    #[test]
    fn percent_encoding_must_be_complete() {
        assert!(check(&parts("/api/x%20y?q=a%2Fb")).is_ok());
        for bad in [
            "/api/x%",
            "/api/x%2",
            "/api/x%zz",
            "/api/x?q=%g1",
            "/api/%ff%fe",
        ] {
            assert!(
                matches!(check(&parts(bad)), Err(RequestError::Malformed { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn non_utf8_and_oversized_headers_are_refused() {
        let mut p = parts("/");
        p.headers
            .insert("x-a", http::HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert!(matches!(check(&p), Err(RequestError::HeaderInvalid { .. })));
        let mut p = parts("/");
        p.headers.insert(
            "x-a",
            http::HeaderValue::from_str(&"a".repeat(MAX_HEADER_BYTES)).unwrap(),
        );
        assert!(matches!(
            check(&p),
            Err(RequestError::HeadersTooLarge { .. })
        ));
        let mut p = parts("/");
        p.headers
            .insert("x-a", http::HeaderValue::from_str("ünïcode ok").unwrap());
        assert!(check(&p).is_ok());
    }

    #[test]
    fn request_ids_are_taken_only_when_safe() {
        assert_eq!(
            RequestId::from_platform(Some("cdg1::iad1::abc12-1700000000000-deadbeef")).as_str(),
            "cdg1::iad1::abc12-1700000000000-deadbeef"
        );
        let generated = RequestId::from_platform(Some("evil\nid"));
        assert_eq!(generated.as_str().len(), 32);
        assert_eq!(RequestId::from_platform(None).as_str().len(), 32);
    }
}

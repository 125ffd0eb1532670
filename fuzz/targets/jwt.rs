//! A JWT's header and claims: classification, the claims reader on the raw
//! payload, and the whole verifier (shared secret and a public key) on the
//! token as `Authorization: Bearer`.
use gatehouse::auth::jwt::claims::Claims;
use gatehouse::auth::token_kind;
use http::{HeaderMap, HeaderValue};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = Claims::parse(data).map(|claims| {
            let _ = claims.string("sub");
            let _ = claims.number("exp");
            let _ = claims.whole_number("token_version");
            let _ = claims.strings("aud");
            let _ = claims.text("iss");
        });
        let Ok(token) = std::str::from_utf8(data) else {
            return;
        };
        let _ = token_kind::classify(token);
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            let mut headers = HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, value);
            gatehouse_fuzz::authenticate(&headers);
        }
    });
}

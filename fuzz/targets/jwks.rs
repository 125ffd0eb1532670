//! A JWKS document as an issuer's endpoint (or JWT_PUBLIC_KEYS) serves it,
//! and each JWK in it.
use gatehouse::auth::jwt::keys;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = keys::from_jwks(data);
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
            let _ = keys::from_jwk(&value);
        }
    });
}

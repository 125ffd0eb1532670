//! An Auth.js session cookie (compact JWE), decrypted with the keys derived
//! from a secret, for the cookie names of both generations and as a bearer.
use gatehouse::auth::authjs;
use gatehouse::secret::Secret;

fn main() {
    let secrets = [Secret::new(gatehouse_fuzz::SECRET)];
    afl::fuzz!(|data: &[u8]| {
        let Ok(token) = std::str::from_utf8(data) else {
            return;
        };
        for name in [
            Some("authjs.session-token"),
            Some("next-auth.session-token"),
            None,
        ] {
            let _ = authjs::decrypt(&secrets, name, token);
        }
    });
}

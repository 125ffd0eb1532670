//! A Better Auth session cookie or bearer value (`token.signature`,
//! percent-encoded), checked against two rotated secrets.
use gatehouse::auth::better_auth::database::{SessionSecrets, token_part, verify_signed};
use gatehouse::secret::Secret;

fn main() {
    let secrets = SessionSecrets::new(&[
        ("2".to_owned(), Secret::new(gatehouse_fuzz::SECRET)),
        (
            "1".to_owned(),
            Secret::new("an-older-secret-0123456789abcdef-0123456789"),
        ),
    ]);
    afl::fuzz!(|data: &[u8]| {
        let Ok(value) = std::str::from_utf8(data) else {
            return;
        };
        let _ = verify_signed(value, &secrets);
        let _ = token_part(value);
    });
}

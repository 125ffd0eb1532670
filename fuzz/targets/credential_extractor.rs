//! Headers and cookies, as a client sends them, through the credential
//! extractor and on into the whole authenticator.
use gatehouse::auth::credential;

fn main() {
    let names: Vec<String> = [
        "better-auth.session_token",
        "authjs.session-token",
        "__Host-gatehouse_session",
    ]
    .iter()
    .map(|name| (*name).to_owned())
    .collect();
    afl::fuzz!(|data: &[u8]| {
        let headers = gatehouse_fuzz::headers(data);
        let _ = credential::extract(&headers, &names);
        let _ = credential::cookie_names(&headers);
        let _ = credential::parse_cookies(&headers);
        gatehouse_fuzz::authenticate(&headers);
    });
}

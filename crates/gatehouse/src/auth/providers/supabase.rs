//! Supabase Auth: users' access tokens, and nothing else signed by the
//! project.
//!
//! The trap: the project's public `anon` key and its `service_role` key are
//! JWTs signed with the same legacy secret (`iss: "supabase"`, `role`, `ref`,
//! no `sub`, a ten-year `exp`). Neither is a user: a user's token carries
//! `aud: "authenticated"` (the issuer's audience), and a token whose `role`
//! is `anon` or `service_role` is refused as what it is, whatever else it
//! says.

use serde_json::{Map, Value};

use crate::auth::jwt::claims::{Claims, malformed};
use crate::auth::refusal::Refusal;
use crate::reason::Reason;

/// The audience of users' access tokens (GoTrue's `JWT_AUD`).
pub const USER_AUDIENCE: &str = "authenticated";

/// The roles of the project's API keys.
const API_KEY_ROLES: [&str; 2] = ["anon", "service_role"];

/// A token of this project's issuer, signature verified: an API key's role
/// is never a user.
pub(super) fn check(claims: &Claims<'_>) -> Result<(), Refusal> {
    match claims.string("role") {
        Ok(Some(role)) if API_KEY_ROLES.contains(&role.as_ref()) => Err(api_key(&role)),
        Ok(_) => Ok(()),
        Err(_) => Err(malformed("the `role` claim is not a string")),
    }
}

/// The project's `anon` or `service_role` key, recognised by its shape
/// (`iss: "supabase"` or `"supabase-demo"` for `supabase start`, or a `ref`
/// claim, with an API key's role) before any signature is checked: it is
/// refused whatever its signature.
pub(super) fn recognise_api_key(claims: &Claims<'_>) -> Option<Refusal> {
    let role = claims.string("role").ok().flatten()?;
    if !API_KEY_ROLES.contains(&role.as_ref()) {
        return None;
    }
    let iss = claims.string("iss").ok().flatten();
    let supabase_issued = matches!(iss.as_deref(), Some("supabase" | "supabase-demo"))
        || claims.string("ref").ok().flatten().is_some();
    supabase_issued.then(|| api_key(&role))
}

fn api_key(role: &str) -> Refusal {
    let hint = if role == "service_role" {
        "the service_role key bypasses Row Level Security and must never leave your servers: rotate it if a client sent it, and send the signed-in user's access token (supabase.auth.getSession() → session.access_token) in Authorization: Bearer"
    } else {
        "the anon key only says which project a request is for: send the signed-in user's access token (supabase.auth.getSession() → session.access_token) in Authorization: Bearer, not the key supabase-js was created with"
    };
    Refusal::revealing(
        Reason::TokenTypeMismatch,
        format!(
            "this is the Supabase project's `{role}` API key (role {role}), not a user's access token"
        ),
        hint,
    )
}

/// `is_anonymous`: Supabase's anonymous sign-ins are users too, and apps
/// tell them apart by it.
pub(super) fn principal_claims(claims: &Claims<'_>, out: &mut Map<String, Value>) {
    if let Some(anonymous @ Value::Bool(_)) = claims.value("is_anonymous") {
        out.insert("is_anonymous".to_owned(), anonymous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_recognised_by_shape_and_role() {
        let anon = br#"{"iss":"supabase","ref":"abcdefghijklmnopqrst","role":"anon","iat":1700000000,"exp":2015576000}"#;
        let claims = Claims::parse(anon).unwrap();
        let refusal = recognise_api_key(&claims).unwrap();
        assert_eq!(refusal.reason, Reason::TokenTypeMismatch);
        assert!(refusal.texts(true).0.contains("`anon` API key"));
        let demo = br#"{"iss":"supabase-demo","role":"service_role","exp":1983812996}"#;
        let refusal = recognise_api_key(&Claims::parse(demo).unwrap()).unwrap();
        assert!(refusal.texts(true).1.contains("Row Level Security"));
        let user = br#"{"iss":"https://x.supabase.co/auth/v1","role":"authenticated","sub":"u"}"#;
        let claims = Claims::parse(user).unwrap();
        assert!(recognise_api_key(&claims).is_none());
        assert!(check(&claims).is_ok());
        let other = br#"{"iss":"https://other.example","role":"anon"}"#;
        assert!(recognise_api_key(&Claims::parse(other).unwrap()).is_none());
    }
}

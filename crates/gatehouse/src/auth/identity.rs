//! Who a principal is, across issuers and credential kinds: a namespace and
//! the subject within it. Two issuers can both have a `user-42`, and a
//! token can name any `sub` it likes (`api_key:<uuid>` included), so every
//! stored identity (task owners, revocation cutoffs, sessions, profiles) is
//! an [`Identity`], never a bare subject.
//!
//! Namespaces are stable names: the `name` of a `JWT_TRUSTED_ISSUERS` entry,
//! `better-auth` for Better Auth (its JWTs and its sessions name the same
//! user ids), `jwt` for `JWT_JWKS_URL`/`JWT_PUBLIC_KEYS`, `shared-secret`
//! for `JWT_SECRET`, `authjs`, `api-key`, and each provider preset's own
//! name (`clerk`, `supabase`, `auth0`, `cognito`, `firebase`). A session of
//! this API keeps the namespace of the credential it was exchanged for.

use std::fmt;

pub const BETTER_AUTH: &str = "better-auth";
pub const JWT: &str = "jwt";
pub const SHARED_SECRET: &str = "shared-secret";
pub const AUTHJS: &str = "authjs";
pub const API_KEY: &str = "api-key";
/// The provider presets' issuers ([`crate::auth::providers`]).
pub const CLERK: &str = "clerk";
pub const SUPABASE: &str = "supabase";
pub const AUTH0: &str = "auth0";
pub const COGNITO: &str = "cognito";
pub const FIREBASE: &str = "firebase";
/// Rows stored before identities had namespaces, when the migration could
/// not tell whose they were (see migration 4).
pub const LEGACY: &str = "legacy";

/// The names Gatehouse gives its own namespaces: a `JWT_TRUSTED_ISSUERS`
/// entry may not take one, so a preset turned on later can never share its
/// users' namespace with an issuer of another name.
pub const RESERVED: [&str; 11] = [
    BETTER_AUTH,
    JWT,
    SHARED_SECRET,
    AUTHJS,
    API_KEY,
    LEGACY,
    CLERK,
    SUPABASE,
    AUTH0,
    COGNITO,
    FIREBASE,
];

/// Whether `name` can be a namespace: 1 to 63 characters of `a-z`, `0-9`,
/// `-` and `_`, starting with a letter or digit. Never `:`, the separator.
pub fn is_valid_namespace(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `namespace:subject`, as stored. The namespace holds no `:`, so the first
/// `:` splits it unambiguously whatever the subject contains.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    key: String,
    split: usize,
}

impl Identity {
    pub fn new(namespace: &str, subject: &str) -> Identity {
        Identity {
            key: format!("{namespace}:{subject}"),
            split: namespace.len(),
        }
    }

    /// The stored form, `namespace:subject`.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    pub fn namespace(&self) -> &str {
        &self.key[..self.split]
    }

    pub fn subject(&self) -> &str {
        &self.key[self.split + 1..]
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_subject_in_two_namespaces_is_two_identities() {
        let a = Identity::new("issuer-a", "user-42");
        let b = Identity::new("issuer-b", "user-42");
        assert_ne!(a, b);
        assert_eq!(a.as_str(), "issuer-a:user-42");
        // A subject that looks like another namespace's stays in its own.
        let forged = Identity::new(JWT, "api_key:0190a5b2");
        assert_eq!(forged.namespace(), "jwt");
        assert_eq!(forged.subject(), "api_key:0190a5b2");
        assert_ne!(forged, Identity::new(API_KEY, "0190a5b2"));
    }

    #[test]
    fn namespace_names_are_plain_and_never_hold_the_separator() {
        for good in ["acme", "auth0-prod", "issuer_2", "9lives"] {
            assert!(is_valid_namespace(good), "{good}");
        }
        for bad in ["", "Acme", "a:b", "-x", "a b", &"x".repeat(64)] {
            assert!(!is_valid_namespace(bad), "{bad}");
        }
    }
}

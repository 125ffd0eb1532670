//! Presets for the identity providers teams already use, read from each
//! provider's own variables: Clerk, Supabase, Auth0, Amazon Cognito and
//! Firebase Auth. Each module turns its variables into one trusted issuer
//! ([`IssuerSettings`]: issuer, audience rules, algorithms, keys, named after
//! the provider, which is also its users' identity namespace) and holds the
//! checks its provider's own verifier library makes beyond plain JWT rules.
//! The JWT verifier runs those through [`ProviderRules`], in one place, right
//! after the signature verified.
//!
//! Presets sit beside each other and beside `BETTER_AUTH_URL` and
//! `JWT_TRUSTED_ISSUERS`. `JWT_JWKS_URL`, set beside exactly one preset,
//! replaces only that preset's derived JWKS URL (a private mirror, a test
//! server); its issuer, audience and rules stay.

pub mod auth0;
pub mod clerk;
pub mod cognito;
pub mod firebase;
pub mod supabase;

use serde_json::{Map, Value};

use crate::auth::identity;
use crate::auth::jwt::claims::Claims;
use crate::auth::refusal::{Facts, Refusal};
use crate::auth::settings::{IssuerSettings, KeySource, key_url};
use crate::config::env::{Environment, Reader};

/// The providers Gatehouse has a preset for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Clerk,
    Supabase,
    Auth0,
    Cognito,
    Firebase,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::Clerk,
        Provider::Supabase,
        Provider::Auth0,
        Provider::Cognito,
        Provider::Firebase,
    ];

    /// The preset's issuer name: its users' identity namespace.
    pub const fn name(self) -> &'static str {
        match self {
            Provider::Clerk => identity::CLERK,
            Provider::Supabase => identity::SUPABASE,
            Provider::Auth0 => identity::AUTH0,
            Provider::Cognito => identity::COGNITO,
            Provider::Firebase => identity::FIREBASE,
        }
    }

    /// The provider's name as its documentation writes it.
    pub const fn title(self) -> &'static str {
        match self {
            Provider::Clerk => "Clerk",
            Provider::Supabase => "Supabase",
            Provider::Auth0 => "Auth0",
            Provider::Cognito => "Amazon Cognito",
            Provider::Firebase => "Firebase Auth",
        }
    }

    /// The variable that names the provider's instance, and from which the
    /// preset derives its issuer.
    pub const fn main_variable(self) -> &'static str {
        match self {
            Provider::Clerk => "CLERK_PUBLISHABLE_KEY",
            Provider::Supabase => "SUPABASE_URL",
            Provider::Auth0 => "AUTH0_DOMAIN",
            Provider::Cognito => "COGNITO_USER_POOL_ID",
            Provider::Firebase => "FIREBASE_PROJECT_ID",
        }
    }

    /// Every variable of the preset: any of them set turns it on (and
    /// one set without the main variable is an error).
    pub const fn variables(self) -> &'static [&'static str] {
        match self {
            Provider::Clerk => &[
                "CLERK_PUBLISHABLE_KEY",
                "CLERK_JWT_KEY",
                "CLERK_AUTHORIZED_PARTIES",
            ],
            Provider::Supabase => &["SUPABASE_URL", "SUPABASE_JWT_SECRET"],
            Provider::Auth0 => &["AUTH0_DOMAIN", "AUTH0_AUDIENCE"],
            Provider::Cognito => &[
                "COGNITO_USER_POOL_ID",
                "COGNITO_REGION",
                "COGNITO_CLIENT_ID",
                "COGNITO_TOKEN_USE",
            ],
            Provider::Firebase => &["FIREBASE_PROJECT_ID"],
        }
    }

    /// Whether any of the preset's variables is set.
    fn is_set(self, r: &mut Reader<'_>) -> bool {
        self.variables()
            .iter()
            .any(|variable| r.env.get(variable).is_some())
    }
}

/// What a preset checks beyond plain JWT rules, following its provider's
/// own verifier library; attached to the preset's issuer and run by the JWT
/// verifier after the signature, before the audience and the dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderRules {
    /// `@clerk/backend`'s `verifyToken`: `azp` against the authorized
    /// parties (the issuer's), a 5 s clock skew (the issuer's leeway).
    Clerk,
    /// Only users' access tokens: never the project's `anon` or
    /// `service_role` API keys.
    Supabase,
    /// The audience is the API identifier (the issuer's audiences).
    Auth0,
    /// `aws-jwt-verify`'s `CognitoJwtVerifier`: `token_use` and the client id.
    Cognito(cognito::CognitoRules),
    /// The Admin SDK's `verifyIdToken`, and Firebase's documented
    /// `auth_time` rule.
    Firebase,
}

impl ProviderRules {
    pub fn provider(&self) -> Provider {
        match self {
            ProviderRules::Clerk => Provider::Clerk,
            ProviderRules::Supabase => Provider::Supabase,
            ProviderRules::Auth0 => Provider::Auth0,
            ProviderRules::Cognito(_) => Provider::Cognito,
            ProviderRules::Firebase => Provider::Firebase,
        }
    }

    /// The provider's own checks of a token whose signature verified with
    /// this issuer's keys. `kid` is the token's key id, `leeway` the
    /// issuer's.
    pub(crate) fn check(
        &self,
        claims: &Claims<'_>,
        kid: Option<&str>,
        now: i64,
        leeway: i64,
        facts: &mut Facts,
    ) -> Result<(), Refusal> {
        match self {
            ProviderRules::Clerk | ProviderRules::Auth0 => Ok(()),
            ProviderRules::Supabase => supabase::check(claims),
            ProviderRules::Cognito(rules) => rules.check(claims, facts),
            ProviderRules::Firebase => firebase::check(claims, kid, now, leeway),
        }
    }

    /// A token that names none of the trusted issuers but that this
    /// provider recognises as its own kind of non-user token (Supabase's API
    /// keys, `iss: "supabase"`): refused as what it is, instead of as a
    /// stranger. Only ever refuses.
    pub(crate) fn recognise_foreign(&self, claims: &Claims<'_>) -> Option<Refusal> {
        match self {
            ProviderRules::Supabase => supabase::recognise_api_key(claims),
            _ => None,
        }
    }

    /// Claims the principal gets from this provider's own (Cognito's groups
    /// as `roles`, Supabase's `is_anonymous`), whatever `PRINCIPAL_CLAIMS`
    /// says.
    pub(crate) fn principal_claims(&self, claims: &Claims<'_>, out: &mut Map<String, Value>) {
        match self {
            ProviderRules::Supabase => supabase::principal_claims(claims, out),
            ProviderRules::Cognito(_) => cognito::principal_claims(claims, out),
            _ => {}
        }
    }

    /// The variable holding this issuer's own HMAC secret, and where the
    /// provider shows it: for the hints of HS256 tokens.
    pub fn secret_source(&self) -> Option<(&'static str, &'static str)> {
        match self {
            ProviderRules::Supabase => Some((
                "SUPABASE_JWT_SECRET",
                "Supabase dashboard → Project Settings → JWT Keys → Legacy JWT Secret",
            )),
            _ => None,
        }
    }
}

/// Reads every preset whose variables are set, appending its issuer;
/// whether any was set (valid or not).
pub(crate) fn read(
    r: &mut Reader<'_>,
    environment: Environment,
    issuers: &mut Vec<IssuerSettings>,
) -> bool {
    let active: Vec<Provider> = Provider::ALL
        .into_iter()
        .filter(|provider| provider.is_set(r))
        .collect();
    if active.is_empty() {
        return false;
    }
    let better_auth = r.get("BETTER_AUTH_URL").is_some();
    let jwks_override = match (r.get("JWT_JWKS_URL"), active.as_slice(), better_auth) {
        (Some(url), [_], false) => Some(url),
        (Some(_), _, _) => {
            let mut names: Vec<&str> = active.iter().map(|p| p.name()).collect();
            if better_auth {
                names.insert(0, identity::BETTER_AUTH);
            }
            r.error(
                "JWT_JWKS_URL",
                format!(
                    "is set beside several presets ({}): it replaces the derived JWKS URL of exactly one",
                    names.join(", ")
                ),
                "unset JWT_JWKS_URL so each preset fetches its provider's own JWKS, or keep one preset here and give the others as JWT_TRUSTED_ISSUERS entries with their own jwks_url",
            );
            None
        }
        (None, _, _) => None,
    };
    if !better_auth {
        refuse_generic_beside(r, &active);
    }
    let leeway_set = r.get("JWT_LEEWAY_SECS").is_some();
    for provider in active {
        let override_url = jwks_override.clone();
        let issuer = match provider {
            Provider::Clerk => clerk::read(r, environment, override_url, leeway_set),
            Provider::Supabase => supabase::read(r, environment, override_url),
            Provider::Auth0 => auth0::read(r, environment, override_url),
            Provider::Cognito => cognito::read(r, environment, override_url),
            Provider::Firebase => firebase::read(r, environment, override_url),
        };
        issuers.extend(issuer);
    }
    true
}

/// `JWT_ISSUER` and the generic issuer's other variables, set beside a
/// preset (without `BETTER_AUTH_URL`, which they refine): they would
/// describe a second issuer the preset already is, under another namespace
/// (`jwt`), so they are refused rather than silently ignored.
fn refuse_generic_beside(r: &mut Reader<'_>, active: &[Provider]) {
    let presets: Vec<&str> = active.iter().map(|p| p.main_variable()).collect();
    let presets = presets.join(", ");
    let shared_secret = r.get("JWT_SECRET").is_some();
    for (variable, instead) in [
        (
            "JWT_ISSUER",
            "the preset derives `iss` from its provider's variable",
        ),
        (
            "JWT_AUDIENCE",
            "the preset sets its audience rule itself (AUTH0_AUDIENCE, COGNITO_CLIENT_ID, FIREBASE_PROJECT_ID)",
        ),
        (
            "JWT_AUTHORIZED_PARTIES",
            "for Clerk, set CLERK_AUTHORIZED_PARTIES",
        ),
        (
            "JWT_ALGORITHMS",
            "the preset allows exactly the algorithms its provider signs with",
        ),
        (
            "JWT_PUBLIC_KEYS",
            "for Clerk's networkless verification set CLERK_JWT_KEY; JWT_JWKS_URL replaces a preset's JWKS URL",
        ),
    ] {
        if r.get(variable).is_none() {
            continue;
        }
        let secret_note = match (shared_secret, variable) {
            (true, "JWT_ISSUER") => "; for JWT_SECRET tokens use JWT_SECRET_ISSUER",
            (true, "JWT_AUDIENCE") => "; for JWT_SECRET tokens use JWT_SECRET_AUDIENCE",
            _ => "",
        };
        r.error(
            variable,
            format!(
                "is set beside the provider preset of {presets}, which is a complete issuer by itself: {instead}"
            ),
            format!(
                "unset {variable}{secret_note}. Moving from JWT_* to a preset changes its users' namespace from `jwt` to the preset's name (e.g. `clerk`); to keep a second issuer, give it as a JWT_TRUSTED_ISSUERS entry"
            ),
        );
    }
}

/// The preset's keys: its provider's JWKS at `derived` (already known to be
/// https), or `JWT_JWKS_URL` when it replaces it.
fn jwks(
    r: &mut Reader<'_>,
    environment: Environment,
    derived: String,
    jwks_override: Option<String>,
) -> Option<KeySource> {
    match jwks_override {
        Some(url) => {
            key_url(r, "JWT_JWKS_URL", &url, environment).then_some(KeySource::Jwks { url })
        }
        None => Some(KeySource::Jwks { url: derived }),
    }
}

/// A comma-separated list of plain values (client ids, domains), trimmed,
/// blanks dropped.
fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `host` is a DNS name (`a-z`, `0-9`, `-`, `.`, at least one dot),
/// with an optional port: what a provider's domain must be before it is put
/// into an issuer and a URL.
fn is_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    (3..=253).contains(&name.len())
        && name.contains('.')
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::auth::settings::AuthSettings;
    use crate::config::env::{Env, Environment};

    /// The auth settings of `pairs`, or the problems (`VARIABLE: problem`)
    /// and warnings.
    pub(crate) fn settings(
        pairs: &[(&str, &str)],
        environment: Environment,
    ) -> (AuthSettings, Vec<String>, Vec<String>) {
        let env = Env::from_pairs(pairs.iter().copied());
        let mut r = crate::config::env::Reader {
            env: &env,
            problems: Vec::new(),
            warnings: Vec::new(),
        };
        let auth = crate::auth::settings::read(&mut r, environment);
        let show = |list: &[crate::config::env::ConfigProblem]| {
            list.iter()
                .map(|p| format!("{}: {} (fix: {})", p.variable, p.problem, p.fix))
                .collect::<Vec<_>>()
        };
        (auth, show(&r.problems), show(&r.warnings))
    }

    #[test]
    fn jwks_url_beside_two_presets_is_ambiguous() {
        let (_, problems, _) = settings(
            &[
                ("AUTH0_DOMAIN", "tenant.eu.auth0.com"),
                ("AUTH0_AUDIENCE", "https://api.example.com"),
                ("FIREBASE_PROJECT_ID", "my-project"),
                ("JWT_JWKS_URL", "http://127.0.0.1:9/jwks"),
            ],
            Environment::Development,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .starts_with("JWT_JWKS_URL: is set beside several presets (auth0, firebase)")
        );
    }

    #[test]
    fn generic_issuer_variables_beside_a_preset_are_refused_with_the_namespace_note() {
        let (_, problems, _) = settings(
            &[
                ("FIREBASE_PROJECT_ID", "my-project"),
                ("JWT_ISSUER", "https://securetoken.google.com/my-project"),
            ],
            Environment::Development,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("FIREBASE_PROJECT_ID"), "{problems:?}");
        assert!(problems[0].contains("`jwt`"), "{problems:?}");
    }
}

//! The identity providers' presets, read from each provider's own
//! variables: one module per provider turns them into one trusted issuer
//! ([`IssuerSettings`]: issuer, audience rule, algorithms, keys, the
//! provider's [`ProviderRules`]), named after the provider, which is also its
//! users' identity namespace. What the rules check is `auth/providers/`.
//!
//! Presets sit beside each other and beside `BETTER_AUTH_URL` and
//! `JWT_TRUSTED_ISSUERS`. `JWT_JWKS_URL`, set beside exactly one preset,
//! replaces only that preset's derived JWKS URL (a private mirror, a test
//! server); its issuer, audience and rules stay.
//!
//! [`ProviderRules`]: crate::auth::providers::ProviderRules

mod auth0;
mod clerk;
mod cognito;
mod firebase;
mod supabase;

use crate::auth::identity;
use crate::auth::providers::Provider;
use crate::auth::settings::jwt::IssuerSettings;
use crate::config::env::{Environment, Reader};

/// Whether any of the preset's variables is set.
fn is_set(provider: Provider, r: &Reader<'_>) -> bool {
    provider
        .variables()
        .iter()
        .any(|variable| r.env.get(variable).is_some())
}

/// Reads every preset whose variables are set, appending its issuer;
/// whether any was set (valid or not).
pub(super) fn read(
    r: &mut Reader<'_>,
    environment: Environment,
    issuers: &mut Vec<IssuerSettings>,
) -> bool {
    let active: Vec<Provider> = Provider::ALL
        .into_iter()
        .filter(|provider| is_set(*provider, r))
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
    // Each preset allows its provider's own verifier's clock skew; an
    // explicit JWT_LEEWAY_SECS is the deployer's choice for every issuer.
    let leeway_set = r.get("JWT_LEEWAY_SECS").is_some();
    for provider in active {
        let override_url = jwks_override.clone();
        let issuer = match provider {
            Provider::Clerk => clerk::read(r, environment, override_url),
            Provider::Supabase => supabase::read(r, environment, override_url),
            Provider::Auth0 => auth0::read(r, environment, override_url),
            Provider::Cognito => cognito::read(r, environment, override_url),
            Provider::Firebase => firebase::read(r, environment, override_url),
        };
        issuers.extend(issuer.map(|mut issuer| {
            if leeway_set {
                issuer.leeway = None;
            }
            issuer
        }));
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

#[cfg(test)]
mod tests {
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

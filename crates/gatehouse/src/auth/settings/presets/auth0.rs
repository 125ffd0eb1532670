//! Auth0 access tokens for this API.
//!
//! `AUTH0_DOMAIN` (the tenant's domain, `<tenant>.<region>.auth0.com`, or a
//! custom domain; a scheme and a trailing slash are tolerated) gives the
//! issuer, `https://<domain>/` **with** the trailing slash Auth0 always puts
//! in `iss` (an issuer configured without it is the most common Auth0 401),
//! and the JWKS at `https://<domain>/.well-known/jwks.json`. Several domains,
//! comma-separated, cover a tenant reached through both its own and a custom
//! domain (the keys are the tenant's, fetched from the first).
//! `AUTH0_AUDIENCE` is the API identifier the frontend requests tokens for;
//! an ID token (whose `aud` is the application's client id) is refused.
//! Auth0 signs with RS256 or PS256.

use jsonwebtoken::Algorithm;

use crate::auth::identity;
use crate::auth::pattern::{Pattern, PatternList};
use crate::auth::providers::ProviderRules;
use crate::auth::settings::jwt::{IssuerSettings, IssuerVariables, preset_jwks};
use crate::auth::settings::values::{is_host, list, patterns};
use crate::config::env::{Environment, Reader};

const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::PS256];

/// Auth0's own API middleware, `express-oauth2-jwt-bearer`, defaults
/// `clockTolerance` to 5 s.
const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(5);

const VARIABLES: IssuerVariables = IssuerVariables {
    issuer: "AUTH0_DOMAIN",
    audience_fix: "request access tokens with `audience` set to this API's identifier (AUTH0_AUDIENCE), e.g. getAccessTokenSilently({ authorizationParams: { audience } }): an ID token's aud is the application's client id, and a token requested without an audience is not for this API",
    authorized_parties: "nothing: the Auth0 preset does not check azp",
    keys: "AUTH0_DOMAIN (its tenant's JWKS) or JWT_JWKS_URL",
    algorithms: None,
};

const DOMAIN_FIX: &str = "set AUTH0_DOMAIN to the tenant's domain as the Auth0 dashboard shows it (Applications → your app → Domain, e.g. my-tenant.eu.auth0.com) or your custom domain, without a path";

pub(super) fn read(
    r: &mut Reader<'_>,
    environment: Environment,
    jwks_override: Option<String>,
) -> Option<IssuerSettings> {
    let domains = r.get("AUTH0_DOMAIN");
    let audiences = patterns(r, "AUTH0_AUDIENCE");
    let Some(raw) = domains else {
        r.error(
            "AUTH0_DOMAIN",
            "is not set, but AUTH0_AUDIENCE is: tokens name their tenant's domain in `iss`",
            DOMAIN_FIX,
        );
        return None;
    };
    let mut hosts = Vec::new();
    for value in list(&raw) {
        match domain(&value) {
            Some(host) => hosts.push(host),
            None => {
                r.error(
                    "AUTH0_DOMAIN",
                    format!("holds {value:?}, which is not a domain"),
                    DOMAIN_FIX,
                );
                return None;
            }
        }
    }
    let Some(first) = hosts.first() else {
        r.error("AUTH0_DOMAIN", "names no domain", DOMAIN_FIX);
        return None;
    };
    let Some(audiences) = audiences.filter(|list| !list.is_empty()) else {
        r.error(
            "AUTH0_AUDIENCE",
            "is not set: access tokens the tenant issues for any of its APIs would be accepted",
            "set AUTH0_AUDIENCE to this API's identifier (Auth0 dashboard → Applications → APIs → Identifier), the `audience` the frontend requests tokens with",
        );
        return None;
    };
    let keys = preset_jwks(
        r,
        environment,
        format!("https://{first}/.well-known/jwks.json"),
        jwks_override,
    )?;
    let issuer = PatternList(
        hosts
            .iter()
            .filter_map(|host| Pattern::parse(&format!("https://{host}/")).ok())
            .collect(),
    );
    Some(IssuerSettings {
        label: identity::AUTH0.to_owned(),
        issuer,
        audiences,
        authorized_parties: PatternList::default(),
        keys,
        algorithms: ALGORITHMS.to_vec(),
        provider: Some(ProviderRules::Auth0),
        leeway: Some(CLOCK_SKEW),
        secret: None,
        variables: VARIABLES,
    })
}

/// `my-tenant.eu.auth0.com` from that, `https://my-tenant.eu.auth0.com` or
/// `https://my-tenant.eu.auth0.com/`; `None` for anything with a path, a
/// query, credentials or another scheme.
fn domain(value: &str) -> Option<String> {
    let host = value.strip_prefix("https://").unwrap_or(value);
    let host = host.strip_suffix('/').unwrap_or(host).to_ascii_lowercase();
    is_host(&host).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::settings::KeySource;
    use crate::auth::settings::presets::tests::settings;

    #[test]
    fn the_issuer_always_has_the_trailing_slash() {
        for domain in [
            "my-tenant.eu.auth0.com",
            "https://my-tenant.eu.auth0.com",
            "https://My-Tenant.eu.auth0.com/",
        ] {
            let (auth, problems, _) = settings(
                &[
                    ("AUTH0_DOMAIN", domain),
                    ("AUTH0_AUDIENCE", "https://api.example.com"),
                ],
                Environment::Production,
            );
            assert!(problems.is_empty(), "{problems:?}");
            let issuer = &auth.issuers[0];
            assert!(issuer.issuer.matches("https://my-tenant.eu.auth0.com/"));
            assert!(!issuer.issuer.matches("https://my-tenant.eu.auth0.com"));
            assert_eq!(
                issuer.leeway,
                Some(CLOCK_SKEW),
                "5 s, as Auth0's middleware"
            );
            assert!(
                matches!(&issuer.keys, KeySource::Jwks { url } if url == "https://my-tenant.eu.auth0.com/.well-known/jwks.json")
            );
        }
    }

    #[test]
    fn a_custom_domain_beside_the_tenant_domain_and_the_audience_is_required() {
        let (auth, problems, _) = settings(
            &[
                ("AUTH0_DOMAIN", "login.example.com, my-tenant.us.auth0.com"),
                ("AUTH0_AUDIENCE", "https://api.example.com"),
            ],
            Environment::Production,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let issuer = &auth.issuers[0];
        assert!(issuer.issuer.matches("https://login.example.com/"));
        assert!(issuer.issuer.matches("https://my-tenant.us.auth0.com/"));
        assert!(
            matches!(&issuer.keys, KeySource::Jwks { url } if url.starts_with("https://login.example.com/"))
        );
        let (_, problems, _) = settings(
            &[("AUTH0_DOMAIN", "my-tenant.us.auth0.com")],
            Environment::Production,
        );
        assert!(
            problems[0].starts_with("AUTH0_AUDIENCE: is not set"),
            "{problems:?}"
        );
        let (_, problems, _) = settings(
            &[
                ("AUTH0_DOMAIN", "https://my-tenant.us.auth0.com/oauth"),
                ("AUTH0_AUDIENCE", "x"),
            ],
            Environment::Production,
        );
        assert!(problems[0].contains("not a domain"), "{problems:?}");
    }
}

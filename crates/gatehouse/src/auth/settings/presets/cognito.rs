//! Amazon Cognito's preset, as `aws-jwt-verify`'s `CognitoJwtVerifier` is
//! configured.
//!
//! `COGNITO_USER_POOL_ID` (`<region>_<id>`) gives the region (or
//! `COGNITO_REGION`, which must then agree), the issuer
//! `https://cognito-idp.<region>.amazonaws.com/<pool>` (and its newer
//! `https://issuer-cognito-idp.<region>.amazonaws.com/<pool>` form, which
//! `aws-jwt-verify` 5 accepts too) and the pool's JWKS at
//! `<issuer>/.well-known/jwks.json`. `COGNITO_TOKEN_USE` (`access`, the
//! default, or `id`) says which tokens are accepted: `token_use` must match.
//! `COGNITO_CLIENT_ID` (one or more app client ids, required, as
//! `aws-jwt-verify` requires `clientId`) binds them to this API; the checks
//! are [`crate::auth::providers::cognito`]. Cognito signs with RS256.

use jsonwebtoken::Algorithm;

use crate::auth::identity;
use crate::auth::pattern::{Pattern, PatternList};
use crate::auth::providers::ProviderRules;
use crate::auth::providers::cognito::{CognitoRules, TokenUse};
use crate::auth::settings::jwt::{IssuerSettings, IssuerVariables, preset_jwks};
use crate::auth::settings::values::list;
use crate::config::env::{Environment, Reader};

/// `aws-jwt-verify`'s default `graceSeconds`: no clock skew unless `JWT_LEEWAY_SECS` says otherwise.
const CLOCK_SKEW: std::time::Duration = std::time::Duration::ZERO;

const ALGORITHMS: [Algorithm; 1] = [Algorithm::RS256];

const VARIABLES: IssuerVariables = IssuerVariables {
    issuer: "COGNITO_USER_POOL_ID (and COGNITO_REGION)",
    audience_fix: "add the app client id to COGNITO_CLIENT_ID if that app client may call this API",
    authorized_parties: "nothing: the Cognito preset checks COGNITO_CLIENT_ID instead",
    keys: "COGNITO_USER_POOL_ID (its pool's JWKS) or JWT_JWKS_URL",
    algorithms: None,
};

const POOL_FIX: &str = "set COGNITO_USER_POOL_ID to the user pool's id as the Cognito console shows it, e.g. us-east-1_AbCdEf123";

pub(super) fn read(
    r: &mut Reader<'_>,
    environment: Environment,
    jwks_override: Option<String>,
) -> Option<IssuerSettings> {
    let pool = r.get("COGNITO_USER_POOL_ID");
    let region = r.get("COGNITO_REGION");
    let clients = r.get("COGNITO_CLIENT_ID");
    let token_use = r.get("COGNITO_TOKEN_USE");
    let Some(pool) = pool else {
        r.error(
            "COGNITO_USER_POOL_ID",
            "is not set, but another COGNITO_* variable is: the pool id names the issuer and its keys",
            POOL_FIX,
        );
        return None;
    };
    let Some(pool_region) = region_of(&pool) else {
        r.error(
            "COGNITO_USER_POOL_ID",
            format!("is {pool:?}, not a user pool id (<region>_<id>)"),
            POOL_FIX,
        );
        return None;
    };
    if let Some(region) = region
        && region != pool_region
    {
        r.error(
            "COGNITO_REGION",
            format!("is {region}, but the user pool {pool} is in {pool_region}"),
            "unset COGNITO_REGION (the region is taken from the pool id), or fix whichever of the two is wrong",
        );
        return None;
    }
    let token_use = match token_use.as_deref() {
        None | Some("access") => TokenUse::Access,
        Some("id") => TokenUse::Id,
        Some(other) => {
            r.error(
                "COGNITO_TOKEN_USE",
                format!("is {other:?}, neither access nor id"),
                "set COGNITO_TOKEN_USE=access to accept access tokens (the default, what an API should take) or id for ID tokens",
            );
            return None;
        }
    };
    let client_ids = clients.as_deref().map(list).unwrap_or_default();
    if client_ids.is_empty() {
        r.error(
            "COGNITO_CLIENT_ID",
            "is not set: tokens the pool issues to any of its app clients would be accepted",
            "set COGNITO_CLIENT_ID to the app client id(s) of the frontends calling this API (Cognito console → App integration → App clients), comma-separated; aws-jwt-verify's CognitoJwtVerifier requires it too",
        );
        return None;
    }
    // Not echoed: a client secret pasted here must not reach the log.
    if client_ids
        .iter()
        .any(|id| !id.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        r.error(
            "COGNITO_CLIENT_ID",
            "holds a value that is not an app client id (letters and digits only)",
            "copy the app client id from the Cognito console (App integration → App clients), not its name or secret",
        );
        return None;
    }
    let issuer = format!("https://cognito-idp.{pool_region}.amazonaws.com/{pool}");
    let keys = preset_jwks(
        r,
        environment,
        format!("{issuer}/.well-known/jwks.json"),
        jwks_override,
    )?;
    let issuers = [
        issuer,
        format!("https://issuer-cognito-idp.{pool_region}.amazonaws.com/{pool}"),
    ];
    Some(IssuerSettings {
        label: identity::COGNITO.to_owned(),
        issuer: PatternList(
            issuers
                .iter()
                .filter_map(|iss| Pattern::parse(iss).ok())
                .collect(),
        ),
        audiences: PatternList::default(),
        authorized_parties: PatternList::default(),
        keys,
        algorithms: ALGORITHMS.to_vec(),
        provider: Some(ProviderRules::Cognito(CognitoRules {
            token_use,
            client_ids,
        })),
        leeway: Some(CLOCK_SKEW),
        secret: None,
        variables: VARIABLES,
    })
}

/// The region of a user pool id, as `aws-jwt-verify`'s `USER_POOL_ID_REGEX`
/// reads it: `<region>_<letters and digits>`, the region being
/// `xx-[gov-]name-N` (or `eusc-xx-name-N`).
fn region_of(pool: &str) -> Option<&str> {
    let (region, id) = pool.split_once('_')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let parts: Vec<&str> = region.split('-').collect();
    let lower = |s: &str, len: Option<usize>| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_lowercase())
            && len.is_none_or(|len| s.len() == len)
    };
    let digit = |s: &str| s.len() == 1 && s.bytes().all(|b| b.is_ascii_digit());
    let valid = match parts.as_slice() {
        [area, name, n] => lower(area, Some(2)) && lower(name, None) && digit(n),
        ["eusc", area, name, n] => lower(area, Some(2)) && lower(name, None) && digit(n),
        [area, "gov", name, n] => lower(area, Some(2)) && lower(name, None) && digit(n),
        _ => false,
    };
    valid.then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::settings::KeySource;
    use crate::auth::settings::presets::tests::settings;

    #[test]
    fn pool_ids_give_their_region_as_aws_jwt_verify_reads_them() {
        assert_eq!(region_of("us-east-1_AbCdEf123"), Some("us-east-1"));
        assert_eq!(region_of("us-gov-west-1_abc"), Some("us-gov-west-1"));
        assert_eq!(region_of("eusc-de-east-1_abc"), Some("eusc-de-east-1"));
        for bad in [
            "us-east-1",
            "us-east-1_",
            "useast1_abc",
            "us-east-12_abc",
            "US-east-1_a",
            "us-east-1_a-b",
        ] {
            assert_eq!(region_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_explicit_leeway_wins() {
        let (auth, problems, _) = settings(
            &[
                ("COGNITO_USER_POOL_ID", "eu-west-1_AbCdEf123"),
                ("COGNITO_CLIENT_ID", "1example23456789"),
                ("JWT_LEEWAY_SECS", "10"),
            ],
            Environment::Production,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(auth.issuers[0].leeway, None, "JWT_LEEWAY_SECS applies");
    }

    #[test]
    fn the_pool_gives_issuers_and_jwks_and_the_client_id_is_required() {
        let (auth, problems, _) = settings(
            &[
                ("COGNITO_USER_POOL_ID", "eu-west-1_AbCdEf123"),
                ("COGNITO_CLIENT_ID", "1example23456789, 2example"),
            ],
            Environment::Production,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let issuer = &auth.issuers[0];
        assert_eq!(
            issuer.leeway,
            Some(std::time::Duration::ZERO),
            "no skew, as aws-jwt-verify"
        );
        assert!(
            issuer
                .issuer
                .matches("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123")
        );
        assert!(
            issuer
                .issuer
                .matches("https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123")
        );
        assert!(
            matches!(&issuer.keys, KeySource::Jwks { url } if url == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json")
        );
        assert_eq!(
            issuer.provider,
            Some(ProviderRules::Cognito(CognitoRules {
                token_use: TokenUse::Access,
                client_ids: vec!["1example23456789".into(), "2example".into()],
            }))
        );
        for (pairs, problem) in [
            (
                vec![("COGNITO_USER_POOL_ID", "eu-west-1_AbCdEf123")],
                "COGNITO_CLIENT_ID: is not set",
            ),
            (
                vec![
                    ("COGNITO_USER_POOL_ID", "eu-west-1_x"),
                    ("COGNITO_CLIENT_ID", "c"),
                    ("COGNITO_REGION", "us-east-1"),
                ],
                "COGNITO_REGION: is us-east-1, but",
            ),
            (
                vec![
                    ("COGNITO_USER_POOL_ID", "eu-west-1"),
                    ("COGNITO_CLIENT_ID", "c"),
                ],
                "not a user pool id",
            ),
            (
                vec![
                    ("COGNITO_USER_POOL_ID", "eu-west-1_x"),
                    ("COGNITO_CLIENT_ID", "c"),
                    ("COGNITO_TOKEN_USE", "refresh"),
                ],
                "COGNITO_TOKEN_USE",
            ),
            (
                vec![("COGNITO_CLIENT_ID", "c")],
                "COGNITO_USER_POOL_ID: is not set",
            ),
        ] {
            let (_, problems, _) = settings(&pairs, Environment::Production);
            assert!(
                problems
                    .first()
                    .is_some_and(|p| p.starts_with(problem) || p.contains(problem)),
                "{pairs:?}: {problems:?}"
            );
        }
    }
}

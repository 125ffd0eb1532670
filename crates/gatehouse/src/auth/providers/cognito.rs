//! Amazon Cognito user pools, as `aws-jwt-verify`'s `CognitoJwtVerifier`
//! checks their tokens.
//!
//! `COGNITO_USER_POOL_ID` (`<region>_<id>`) gives the region (or
//! `COGNITO_REGION`, which must then agree), the issuer
//! `https://cognito-idp.<region>.amazonaws.com/<pool>` (and its newer
//! `https://issuer-cognito-idp.<region>.amazonaws.com/<pool>` form, which
//! `aws-jwt-verify` 5 accepts too) and the pool's JWKS at
//! `<issuer>/.well-known/jwks.json`. `COGNITO_TOKEN_USE` (`access`, the
//! default, or `id`) says which tokens are accepted: `token_use` must match.
//! `COGNITO_CLIENT_ID` (one or more app client ids) binds them to this API:
//! an access token's `client_id` (it has no `aud`), an ID token's `aud`.
//! `cognito:groups` becomes the principal's `roles`. Cognito signs with RS256.

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::{ProviderRules, jwks, list};
use crate::auth::identity;
use crate::auth::jwt::claim_checks::{claim_missing, malformed};
use crate::auth::jwt::claims::Claims;
use crate::auth::pattern::{Pattern, PatternList};
use crate::auth::refusal::{Facts, Refusal};
use crate::auth::settings::{IssuerSettings, IssuerVariables};
use crate::config::env::{Environment, Reader};
use crate::reason::Reason;

const ALGORITHMS: [Algorithm; 1] = [Algorithm::RS256];

const VARIABLES: IssuerVariables = IssuerVariables {
    issuer: "COGNITO_USER_POOL_ID (and COGNITO_REGION)",
    audience_fix: "add the app client id to COGNITO_CLIENT_ID if that app client may call this API",
    authorized_parties: "nothing: the Cognito preset checks COGNITO_CLIENT_ID instead",
    keys: "COGNITO_USER_POOL_ID (its pool's JWKS) or JWT_JWKS_URL",
    algorithms: None,
};

const POOL_FIX: &str = "set COGNITO_USER_POOL_ID to the user pool's id as the Cognito console shows it, e.g. us-east-1_AbCdEf123";

/// Which of a pool's tokens this API takes (`COGNITO_TOKEN_USE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    Access,
    Id,
}

impl TokenUse {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

/// `aws-jwt-verify`'s `tokenUse` and `clientId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoRules {
    pub token_use: TokenUse,
    /// The app client ids whose tokens are accepted.
    pub client_ids: Vec<String>,
}

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
    if let Some(bad) = client_ids
        .iter()
        .find(|id| !id.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        r.error(
            "COGNITO_CLIENT_ID",
            format!("holds {bad:?}, which is not an app client id (letters and digits only)"),
            "copy the app client id from the Cognito console (App integration → App clients), not its name or secret",
        );
        return None;
    }
    let issuer = format!("https://cognito-idp.{pool_region}.amazonaws.com/{pool}");
    let keys = jwks(
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
        leeway: None,
        secret: None,
        variables: VARIABLES,
    })
}

/// The region of a user pool id, as `aws-jwt-verify`'s `USER_POOL_ID_REGEX`
/// reads it: `<region>_<letters and digits>`, the region being
/// `xx-[gov-]name-N` (or `eusc-xx-name-N`).
pub fn region_of(pool: &str) -> Option<&str> {
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

impl CognitoRules {
    /// `validateCognitoJwtFields`: `token_use` is `id` or `access` and the
    /// configured one; the client id is one of ours.
    pub(super) fn check(&self, claims: &Claims<'_>, facts: &mut Facts) -> Result<(), Refusal> {
        let expected = self.token_use.as_str();
        let token_use = match claims.string("token_use") {
            Ok(Some(token_use)) => token_use,
            Ok(None) => {
                return Err(claim_missing(
                    "token_use",
                    "the token says neither that it is an ID token nor an access token, as every Cognito token does",
                ));
            }
            Err(_) => return Err(malformed("the `token_use` claim is not a string")),
        };
        if token_use != expected {
            let sent = match token_use.as_ref() {
                "access" => "an access token",
                "id" => "an ID token",
                _ => "a token with an unknown token_use",
            };
            let hint = match self.token_use {
                TokenUse::Access => {
                    "send the user's access token (Amplify: (await fetchAuthSession()).tokens.accessToken; InitiateAuth: AuthenticationResult.AccessToken), or set COGNITO_TOKEN_USE=id to accept ID tokens instead"
                }
                TokenUse::Id => {
                    "send the user's ID token (Amplify: (await fetchAuthSession()).tokens.idToken; InitiateAuth: AuthenticationResult.IdToken), or set COGNITO_TOKEN_USE=access to accept access tokens instead"
                }
            };
            return Err(Refusal::revealing(
                Reason::TokenTypeMismatch,
                format!(
                    "this is {sent} of the Cognito user pool (token_use {token_use}), but this API takes {expected} tokens (COGNITO_TOKEN_USE={expected})"
                ),
                hint,
            ));
        }
        // Access tokens name their app client in `client_id` and have no
        // `aud`; ID tokens name it in `aud`, a string.
        let claim = match self.token_use {
            TokenUse::Access => "client_id",
            TokenUse::Id => "aud",
        };
        let client = match claims.string(claim) {
            Ok(Some(client)) => client,
            Ok(None) => {
                facts.aud_expected = Some(self.client_ids.join(", "));
                return Err(claim_missing(
                    claim,
                    "the token names no app client, so it cannot be told whether it is for this API",
                ));
            }
            Err(_) => return Err(malformed(&format!("the `{claim}` claim is not a string"))),
        };
        if self.client_ids.iter().any(|id| *id == client) {
            return Ok(());
        }
        facts.aud_received = Some(client.clone().into_owned());
        facts.aud_expected = Some(self.client_ids.join(", "));
        Err(Refusal::revealing(
            Reason::AudienceMismatch,
            format!(
                "the token was issued to app client {client} ({claim}), not to one this API accepts"
            ),
            format!(
                "add {client} to COGNITO_CLIENT_ID if that app client may call this API (accepted: {})",
                self.client_ids.join(", ")
            ),
        ))
    }
}

/// `cognito:groups` as the principal's `roles`.
pub(super) fn principal_claims(claims: &Claims<'_>, out: &mut Map<String, Value>) {
    if let Ok(Some(groups)) = claims.strings("cognito:groups") {
        let roles = groups
            .into_iter()
            .map(|group| Value::String(group.into_owned()))
            .collect();
        out.insert("roles".to_owned(), Value::Array(roles));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::providers::tests::settings;
    use crate::auth::settings::KeySource;

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

    fn rules(token_use: TokenUse) -> CognitoRules {
        CognitoRules {
            token_use,
            client_ids: vec!["client1".into()],
        }
    }

    #[test]
    fn token_use_and_client_id_follow_cognito_jwt_verifier() {
        let access = Claims::parse(
            br#"{"token_use":"access","client_id":"client1","cognito:groups":["admin","staff"]}"#,
        )
        .unwrap();
        let id = Claims::parse(br#"{"token_use":"id","aud":"client1"}"#).unwrap();
        let mut facts = Facts::default();
        assert!(rules(TokenUse::Access).check(&access, &mut facts).is_ok());
        assert!(rules(TokenUse::Id).check(&id, &mut facts).is_ok());
        let wrong = rules(TokenUse::Access).check(&id, &mut facts).unwrap_err();
        assert_eq!(wrong.reason, Reason::TokenTypeMismatch);
        assert!(wrong.texts(true).1.contains("COGNITO_TOKEN_USE=id"));
        let wrong = rules(TokenUse::Id).check(&access, &mut facts).unwrap_err();
        assert_eq!(wrong.reason, Reason::TokenTypeMismatch);
        let other = Claims::parse(br#"{"token_use":"access","client_id":"client2"}"#).unwrap();
        let refusal = rules(TokenUse::Access)
            .check(&other, &mut facts)
            .unwrap_err();
        assert_eq!(refusal.reason, Reason::AudienceMismatch);
        assert!(
            refusal
                .texts(true)
                .1
                .contains("add client2 to COGNITO_CLIENT_ID")
        );
        // An access token with an `aud` but no `client_id` is not bound.
        let aud_only = Claims::parse(br#"{"token_use":"access","aud":"client1"}"#).unwrap();
        assert_eq!(
            rules(TokenUse::Access)
                .check(&aud_only, &mut facts)
                .unwrap_err()
                .reason,
            Reason::ClaimMissing
        );
        let mut out = Map::new();
        principal_claims(&access, &mut out);
        assert_eq!(out["roles"], serde_json::json!(["admin", "staff"]));
    }
}

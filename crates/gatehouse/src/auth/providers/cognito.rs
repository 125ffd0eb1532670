//! Amazon Cognito user pools' tokens, as `aws-jwt-verify`'s
//! `CognitoJwtVerifier` checks them beyond the issuer and the signature:
//! `token_use` (`access` or `id`) must be the configured one, and the app
//! client (an access token's `client_id`, which has no `aud`; an ID token's
//! `aud`) one of `COGNITO_CLIENT_ID`. `cognito:groups` becomes the
//! principal's `roles`.

use serde_json::{Map, Value};

use crate::auth::jwt::claims::{Claims, claim_missing, malformed};
use crate::auth::refusal::{Facts, Refusal};
use crate::reason::Reason;

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

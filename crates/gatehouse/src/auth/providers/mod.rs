//! The identity providers Gatehouse has presets for (Clerk, Supabase,
//! Auth0, Amazon Cognito, Firebase Auth), and what each one's own verifier
//! library checks beyond plain JWT rules: [`ProviderRules`], attached to the
//! preset's issuer and run by the JWT verifier in one place, right after the
//! signature verified. One module per provider that has such checks.
//!
//! Reading each provider's variables into its issuer (issuer, audience
//! rule, algorithms, keys) is configuration, in `auth/settings/presets/`.

pub mod cognito;
pub mod firebase;
pub mod supabase;

use serde_json::{Map, Value};

use crate::auth::identity;
use crate::auth::jwt::claims::Claims;
use crate::auth::refusal::{Facts, Refusal};
use crate::reason::Reason;

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

    /// An encrypted token (JWE) whose header names this provider's issuer:
    /// refused as what it is. Auth0 issues such access tokens when the
    /// frontend asks for one without an `audience`.
    pub(crate) fn recognise_encrypted(&self) -> Option<Refusal> {
        match self {
            ProviderRules::Auth0 => Some(Refusal::revealing(
                Reason::AudienceMismatch,
                "this is an Auth0 access token requested without an audience: Auth0 encrypts those (a JWE, `alg: dir`) for its own /userinfo endpoint, and no API can read them",
                "request the access token with `audience` set to this API's identifier (AUTH0_AUDIENCE), e.g. getAccessTokenSilently({ authorizationParams: { audience } }), or authorizationParams.audience in the Auth0Provider",
            )),
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

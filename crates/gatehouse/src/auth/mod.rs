//! Authentication: which credentials a request carries, whether they are
//! valid, and, when not, exactly why.
//!
//! [`Authenticator::authenticate`] is the one entry point, and every
//! credential meets the same steps (`auth/verify.rs`): it is found
//! ([`credential`]), classified once ([`token_kind`]), verified by its
//! kind (a JWT: [`jwt`]; a Better Auth session: [`better_auth`]; an
//! Auth.js cookie: [`authjs`]; an API key: [`api_keys`]; a session of this
//! API: [`sessions`]), checked for [`revocation`], given its
//! user profile when configured, and ends in a [`Principal`] or a
//! [`Refusal`] carrying the reason, the fix and the facts.

pub mod api_keys;
pub mod authjs;
pub mod better_auth;
pub mod credential;
pub mod explain;
pub mod identity;
pub mod jwe;
pub mod jwt;
pub mod pattern;
pub mod principal;
pub mod providers;
pub mod refusal;
pub mod revocation;
pub(crate) mod revocation_mirror;
pub mod sessions;
pub mod settings;
pub mod token_kind;
pub(crate) mod user_profile;
pub(crate) mod verify;

use std::sync::Arc;

use http::HeaderMap;

use crate::auth::api_keys::ApiKeyVerifier;
use crate::auth::authjs::AuthjsVerifier;
use crate::auth::better_auth::BetterAuthVerifier;
use crate::auth::credential::{Credential, ExtractError, Source};
use crate::auth::identity::Identity;
use crate::auth::jwt::JwtVerifier;
use crate::auth::principal::Method;
pub use crate::auth::principal::Principal;
use crate::auth::refusal::{Facts, Refusal};
use crate::auth::revocation::RevocationError;
use crate::auth::revocation_mirror::RevocationMirror;
use crate::auth::sessions::{SessionSource, SessionVerifier};
use crate::auth::settings::AuthSettings;
use crate::auth::token_kind::{TokenKind, classify};
use crate::auth::user_profile::{ProfileError, UserProfiles};
use crate::auth::verify::{Accepted, Attempt, Verify};
use crate::clock::unix_now;
use crate::db::{Database, LazyDatabase};
use crate::error::Reason;
use crate::outbound::Outbound;

/// When a credential's revocation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RevocationCheck {
    /// By the authenticator, one statement of its own.
    Now,
    /// By the route's own statement.
    InRouteStatement,
}

/// The verifier a credential goes to, decided once from its kind (and,
/// for the `X-API-Key` header, its source): authentication and `explain`
/// both route through [`Authenticator::route`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    GatehouseSession,
    ApiKey,
    Jwt,
    Authjs,
    BetterAuth,
    /// A kind this deployment does not verify: refused, naming it.
    NotAccepted,
}

impl Route {
    /// The checks the credential goes through, in order.
    fn checks(self) -> &'static [&'static str] {
        match self {
            Route::GatehouseSession => SessionVerifier::CHECKS,
            Route::ApiKey => ApiKeyVerifier::CHECKS,
            Route::Jwt => JwtVerifier::CHECKS,
            Route::Authjs => AuthjsVerifier::CHECKS,
            Route::BetterAuth => BetterAuthVerifier::CHECKS,
            Route::NotAccepted => &["recognised"],
        }
    }

    /// The refusal log's `token_kind` (a JWT's verifier records its own).
    fn token_kind(self) -> Option<&'static str> {
        match self {
            Route::GatehouseSession => Some("gatehouse_session"),
            Route::ApiKey => Some("api_key"),
            Route::Authjs => Some("authjs_session"),
            Route::BetterAuth => Some("better_auth_session"),
            Route::Jwt | Route::NotAccepted => None,
        }
    }
}

/// Process-wide: holds the JWKS caches, the session and profile caches and
/// the HMAC keys, so build it once per process.
#[derive(Debug)]
pub struct Authenticator {
    settings: Arc<AuthSettings>,
    jwt: JwtVerifier,
    better_auth: BetterAuthVerifier,
    authjs: AuthjsVerifier,
    api_keys: ApiKeyVerifier,
    sessions: SessionVerifier,
    database: Arc<LazyDatabase>,
    profiles: Option<UserProfiles>,
    /// This process's copy of the revocation state (shared with its
    /// background reads).
    revocations: Arc<RevocationMirror>,
}

impl Authenticator {
    pub fn new(settings: AuthSettings, outbound: &Outbound, database: Arc<LazyDatabase>) -> Self {
        let settings = Arc::new(settings);
        let profiles = settings
            .user_service
            .clone()
            .map(|service| UserProfiles::new(service, outbound.clone()));
        Authenticator {
            jwt: JwtVerifier::new(&settings, outbound),
            better_auth: BetterAuthVerifier::new(&settings, outbound, database.clone()),
            authjs: AuthjsVerifier::new(&settings),
            api_keys: ApiKeyVerifier::new(&settings, database.clone()),
            sessions: SessionVerifier::new(settings.clone(), database.clone()),
            revocations: Arc::new(RevocationMirror::new(
                settings.revocation_sync,
                settings.revocation_max_staleness,
            )),
            settings,
            database,
            profiles,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// What the first request would otherwise wait for, started at cold
    /// start: the revocation state's first read (which opens the pool's
    /// first connection). Keys are not fetched: a process whose requests
    /// carry no JWT never asks the issuer for them, and a malformed token
    /// never makes it.
    pub async fn prepare(&self) {
        if self.settings.checks_revocation() {
            self.revocations.prepare(&self.database).await;
        }
    }

    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Box<Refusal>> {
        self.authenticate_at(headers, unix_now()).await
    }

    /// As [`Authenticator::authenticate`], at a given time (tests, `explain`).
    pub async fn authenticate_at(
        &self,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Principal, Box<Refusal>> {
        self.authenticate_with(headers, now, RevocationCheck::Now)
            .await
    }

    /// As [`Authenticator::authenticate`], leaving the revocation check to
    /// the route's own database statement, which must then call
    /// [`Authenticator::check_deferred_revocation`] before it writes or
    /// answers: one round trip per request instead of two. The principal's
    /// [`Principal::deferred_revocation`] says what to check.
    pub async fn authenticate_deferring_revocation(
        &self,
        headers: &HeaderMap,
    ) -> Result<Principal, Box<Refusal>> {
        self.authenticate_with(headers, unix_now(), RevocationCheck::InRouteStatement)
            .await
    }

    /// The verdict on what a route's statement read for a principal whose
    /// revocation check was deferred: the same refusal the check gives.
    pub fn check_deferred_revocation(
        &self,
        principal: &Principal,
        token_revoked_at: Option<f64>,
        subject_not_before: Option<f64>,
    ) -> Result<(), Box<Refusal>> {
        let state = revocation::RevocationState {
            token_revoked_at,
            subject_not_before,
        };
        match state.verdict(principal.issued_at) {
            Some(revoked) if principal.revocation_deferred => {
                Err(Box::new(revocation::revoked(revoked)))
            }
            _ => Ok(()),
        }
    }

    async fn authenticate_with(
        &self,
        headers: &HeaderMap,
        now: i64,
        check: RevocationCheck,
    ) -> Result<Principal, Box<Refusal>> {
        let credential = credential::extract(headers, &self.settings.cookie_names);
        // Facts cost allocations; the cookie names join them only when the
        // request is refused.
        let mut facts = Facts {
            server_time: Some(now),
            ..Facts::default()
        };
        let credential = match credential {
            Ok(credential) => credential,
            Err(ExtractError::Missing) => {
                facts.cookies_present = credential::cookie_names(headers);
                let refusal = self.missing(&facts.cookies_present);
                return Err(Box::new(refusal.with_facts(facts)));
            }
            Err(ExtractError::Unusable(detail)) => {
                facts.credential_source = Some("authorization_header".to_owned());
                facts.cookies_present = credential::cookie_names(headers);
                return Err(Box::new(
                    Refusal::new(
                        Reason::TokenMalformed,
                        detail,
                        "send `Authorization: Bearer <token>` with the token your auth provider issued",
                    )
                    .with_facts(facts),
                ));
            }
        };
        let verified = match self.verify(&credential, now, &mut facts, check).await {
            Ok(principal) => self.enrich(principal).await,
            Err(refusal) => Err(refusal),
        };
        verified.map_err(|refusal| {
            // Hashed only when refusing: on the accepted path the
            // fingerprint would cost more than every claim check.
            facts.credential_source = Some(credential.source.to_string());
            facts.token_fingerprint = Some(credential.token.fingerprint());
            facts.cookies_present = credential::cookie_names(headers);
            Box::new(refusal.with_facts(facts))
        })
    }

    /// Which verifier a credential of `kind` from `source` goes to: by
    /// what it is, not by where it came from (a session token in
    /// `Authorization: Bearer` is still a session token), except that the
    /// `X-API-Key` header carries API keys only.
    fn route(&self, kind: &TokenKind, source: &Source) -> Route {
        match kind {
            TokenKind::GatehouseSession => Route::GatehouseSession,
            _ if source.is_api_key() => Route::ApiKey,
            TokenKind::ApiKey => Route::ApiKey,
            TokenKind::Jwt(_) => Route::Jwt,
            TokenKind::Jwe(_) if self.authjs.is_configured() => Route::Authjs,
            TokenKind::BetterAuthSession | TokenKind::Opaque
                if self.better_auth.is_configured() =>
            {
                Route::BetterAuth
            }
            _ => Route::NotAccepted,
        }
    }

    /// The checks [`Authenticator::authenticate`] runs on the credential
    /// these headers carry, in order: what `explain` lists.
    pub fn checks(&self, headers: &HeaderMap) -> &'static [&'static str] {
        match credential::extract(headers, &self.settings.cookie_names) {
            Ok(credential) => self
                .route(&classify(credential.token.expose()), &credential.source)
                .checks(),
            Err(_) => Route::NotAccepted.checks(),
        }
    }

    /// Classifies the credential, runs its kind's verifier, then the
    /// revocation check the kind left.
    async fn verify(
        &self,
        credential: &Credential,
        now: i64,
        facts: &mut Facts,
        check: RevocationCheck,
    ) -> Result<Principal, Refusal> {
        let kind = classify(credential.token.expose());
        let route = self.route(&kind, &credential.source);
        facts.token_kind = route.token_kind();
        // An encrypted token a provider preset's issuer names in its header
        // (Auth0's access token requested without an audience) is that
        // provider's, whoever else reads JWEs here: named as what it is.
        if let TokenKind::Jwe(_) = &kind
            && let Some(refusal) = self
                .jwt
                .recognise_encrypted(credential.token.expose(), facts)
        {
            return Err(refusal);
        }
        let attempt = Attempt {
            credential,
            kind: &kind,
            now,
            facts: &mut *facts,
        };
        let accepted = match route {
            Route::GatehouseSession => self.sessions.verify(attempt).await?,
            Route::ApiKey => self.api_keys.verify(attempt).await?,
            Route::Jwt => self.jwt.verify(attempt).await?,
            Route::Authjs => self.authjs.verify(attempt).await?,
            Route::BetterAuth => self.better_auth.verify(attempt).await?,
            Route::NotAccepted => return Err(kind.not_accepted(facts)),
        };
        let Accepted {
            principal,
            revocation_checked,
        } = accepted;
        if revocation_checked {
            return Ok(principal);
        }
        let checked = self.check_revocation(principal, facts, check).await;
        if checked.is_err() && route == Route::Jwt {
            // Refused after its verifier passed it: the facts say what the
            // token is, as for the verifier's own refusals.
            self.jwt.record_token(credential.token.expose(), facts);
        }
        checked
    }

    /// Refuses a revoked credential, by this process's copy of the
    /// revocation state (read again when older than `REVOCATION_SYNC_MS`);
    /// skipped when `TOKEN_REVOCATION=off` or without a database.
    async fn check_revocation(
        &self,
        mut principal: Principal,
        facts: &mut Facts,
        check: RevocationCheck,
    ) -> Result<Principal, Refusal> {
        if !self.settings.checks_revocation() {
            return Ok(principal);
        }
        let Some(id) = principal.revocation_id.as_deref() else {
            return Ok(principal);
        };
        if check == RevocationCheck::InRouteStatement {
            principal.revocation_deferred = true;
            return Ok(principal);
        }
        let state = self
            .revocations
            .state(&self.database, id, principal.identity().as_str())
            .await?;
        match state.verdict(principal.issued_at) {
            None => Ok(principal),
            Some(revoked) => {
                facts.exp = principal.expires_at;
                Err(revocation::revoked(revoked))
            }
        }
    }

    /// Revokes one token until `expires_at` (Unix seconds), in the database
    /// and at once in this process's copy; other instances refuse it within
    /// `REVOCATION_SYNC_MS`. Idempotent.
    pub async fn revoke_token(
        &self,
        db: &Database,
        token_id: &str,
        identity: &Identity,
        expires_at: i64,
    ) -> Result<(), RevocationError> {
        revocation::revoke_token(db, token_id, identity, expires_at).await?;
        self.revocations
            .record_token(token_id, unix_now() as f64, expires_at as f64);
        Ok(())
    }

    /// Revokes everything `identity` holds that was issued before now, in
    /// the database and at once in this process's copy. Returns the cutoff
    /// (Unix seconds).
    pub async fn revoke_subject(
        &self,
        db: &Database,
        identity: &Identity,
    ) -> Result<f64, RevocationError> {
        let not_before = revocation::revoke_subject(db, identity).await?;
        self.revocations
            .record_cutoff(identity.as_str(), not_before);
        Ok(not_before)
    }

    /// What a session exchanged for `principal` records of it.
    pub fn session_source(&self, principal: &Principal) -> SessionSource {
        let secret = match (&self.settings.shared_secret, principal.method) {
            (Some(shared), Method::JwtSharedSecret) => {
                match (&shared.previous, principal.signed_with_previous_secret) {
                    (Some(previous), true) => Some(previous.fingerprint()),
                    _ => Some(shared.current.fingerprint()),
                }
            }
            _ => None,
        };
        SessionSource::of(principal, secret)
    }

    /// Adds the profile from the user service. Its outage is a 503: the
    /// credential was fine, and a 401 would log the user out.
    async fn enrich(&self, mut principal: Principal) -> Result<Principal, Refusal> {
        let Some(profiles) = &self.profiles else {
            return Ok(principal);
        };
        if principal.method == Method::ApiKey {
            return Ok(principal);
        }
        let db = self.database.get().ok().flatten();
        match profiles.profile(&principal.identity(), db.as_deref()).await {
            Ok(profile) => {
                principal.profile = serde_json::to_value(&profile).ok();
                Ok(principal)
            }
            Err(ProfileError::NotFound) => Err(Refusal::revealing(
                Reason::UserNotFound,
                format!("the user service has no user with id {}", principal.subject),
                "the account was deleted or the token names a user of another environment; sign in again",
            )),
            Err(ProfileError::Unavailable { detail }) => Err(Refusal::revealing(
                Reason::UserServiceUnavailable,
                format!("the user profile could not be loaded and none is cached: {detail}"),
                "this is our dependency failing, not your credential: retry shortly; check USER_SERVICE_URL and that the user service is up",
            )),
        }
    }

    /// Refuses an API key without `scope` (403); other principals are users,
    /// whose permissions are the application's business.
    pub fn require_scope(&self, principal: &Principal, scope: &str) -> Result<(), Box<Refusal>> {
        if principal.method != Method::ApiKey || principal.has_scope(scope) {
            return Ok(());
        }
        Err(Box::new(Refusal::new(
            Reason::InsufficientScope,
            format!(
                "an API key arrived: it stands for a service, not a user, and its scopes [{}] do not include `{scope}`, which this route needs",
                principal.scopes.join(", ")
            ),
            format!(
                "to act for a user, send the user's session cookie or token instead; for a service, create a key with `gatehouse api-keys create --name <name> --scope {scope}`"
            ),
        )))
    }

    /// No credential: say what did arrive, since "the browser dropped the
    /// cookie" is the usual story.
    fn missing(&self, cookies_present: &[String]) -> Refusal {
        let near_misses: Vec<&String> = cookies_present
            .iter()
            .filter(|name| {
                name.contains("session") || name.contains("auth") || name.contains("token")
            })
            .collect();
        let detail = "the request carries no Authorization header and no session cookie";
        if !near_misses.is_empty() {
            // The names this deployment reads stay out of production
            // responses (they are in the refusal's log event).
            return Refusal::revealing(
                Reason::CredentialsMissing,
                detail,
                format!(
                    "cookies named {} arrived, but none is one this API reads ({}): set AUTH_COOKIE_NAMES to the name your auth library uses",
                    near_misses
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.settings.cookie_names.join(", ")
                ),
            );
        }
        let hint = if cookies_present.is_empty() {
            "send `Authorization: Bearer <token>`; if you rely on a session cookie, none arrived: from another site the browser sends cookies only with fetch(..., { credentials: 'include' }) and a cookie set with SameSite=None; Secure (never between two *.vercel.app hosts, a public suffix); `gatehouse doctor --token '<the Set-Cookie header>'` shows what a browser does with it".to_owned()
        } else {
            "send `Authorization: Bearer <token>`, or the session cookie; other cookies arrived but no session cookie".to_owned()
        };
        Refusal::new(Reason::CredentialsMissing, detail, hint)
    }
}

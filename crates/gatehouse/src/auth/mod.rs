//! Authentication: which credentials a request carries, whether they are
//! valid, and, when not, exactly why.
//!
//! [`Authenticator::authenticate`] is the one entry point: it finds the
//! credential ([`credential`]), recognises its kind ([`token_kind`]),
//! verifies it (a JWT: [`jwt`]; a Better Auth session:
//! [`better_auth_session`] or [`remote_session`]; an Auth.js cookie:
//! [`authjs`]; an API key: [`api_keys`]), checks [`revocation`], adds the
//! [`user_profile`] when configured, and returns a [`Principal`], or a
//! [`Refusal`] carrying the reason, the fix and the facts. Every kind ends
//! in the same principal, refusal reasons and log event.

pub mod api_keys;
pub mod api_sessions;
pub mod authjs;
pub mod better_auth_session;
pub mod claims;
pub mod credential;
pub mod explain;
pub mod identity;
pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod opaque;
pub mod pattern;
pub mod principal;
pub mod refusal;
pub mod remote_session;
pub mod revocation;
pub mod settings;
pub mod token_kind;
pub mod user_profile;

use std::sync::Arc;

use http::HeaderMap;

use crate::auth::api_sessions::SessionSource;
use crate::auth::better_auth_session::SessionSecrets;
use crate::auth::credential::{Credential, ExtractError};
use crate::auth::jwt::JwtVerifier;
pub use crate::auth::principal::Principal;
use crate::auth::refusal::{Facts, Refusal};
use crate::auth::remote_session::RemoteSessions;
use crate::auth::settings::AuthSettings;
use crate::auth::user_profile::{ProfileError, UserProfiles};
use crate::clock::unix_now;
use crate::db::{Database, LazyDatabase};
use crate::error::Reason;
use crate::outbound::Outbound;
use crate::secret::Secret;

/// When a credential's revocation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RevocationCheck {
    /// By the authenticator, one statement of its own.
    Now,
    /// By the route's own statement (Better Auth database sessions are
    /// checked inside their lookup either way).
    InRouteStatement,
}

/// Process-wide: holds the JWKS caches, the session and profile caches and
/// the HMAC keys, so build it once per process.
#[derive(Debug)]
pub struct Authenticator {
    settings: AuthSettings,
    jwt: JwtVerifier,
    database: Arc<LazyDatabase>,
    session_secrets: SessionSecrets,
    remote: Option<RemoteSessions>,
    profiles: Option<UserProfiles>,
}

impl Authenticator {
    pub fn new(settings: AuthSettings, outbound: &Outbound, database: Arc<LazyDatabase>) -> Self {
        let jwt = JwtVerifier::new(&settings, outbound);
        let session_secrets = SessionSecrets::new(&settings.better_auth_secrets);
        let remote = settings
            .remote_sessions
            .clone()
            .map(|remote| RemoteSessions::new(remote, outbound.clone()));
        let profiles = settings
            .user_service
            .clone()
            .map(|service| UserProfiles::new(service, outbound.clone()));
        Authenticator {
            settings,
            jwt,
            database,
            session_secrets,
            remote,
            profiles,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
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
                Err(Box::new(opaque::revoked(revoked)))
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

    /// Routes the credential to its verifier by what it is, not by where it
    /// came from: a session token in `Authorization: Bearer` is still a
    /// session token.
    async fn verify(
        &self,
        credential: &Credential,
        now: i64,
        facts: &mut Facts,
        check: RevocationCheck,
    ) -> Result<Principal, Refusal> {
        let token = credential.token.expose();
        if api_sessions::looks_like_session_token(token) {
            facts.token_kind = Some("gatehouse_session");
            return self.api_session(credential, now, facts).await;
        }
        if credential.source.is_api_key() || api_keys::looks_like_api_key(token) {
            facts.token_kind = Some("api_key");
            // A cookie is sent by the browser on its own, to any page of
            // the site: an API key is a server's credential, taken only from
            // the headers a caller sets on purpose.
            if credential.source.cookie_name().is_some() {
                return Err(Refusal::new(
                    Reason::ApiKeyInvalid,
                    "an API key arrived in a cookie; API keys are accepted only in headers",
                    "send the key in X-API-Key or `Authorization: ApiKey <key>` (or Bearer) from your server; never store an API key in a browser cookie",
                ));
            }
            return self.api_key(token, credential.source.to_string()).await;
        }
        match token_kind::classify(token) {
            token_kind::TokenKind::Jwt(header) => {
                self.jwt(credential, Some(header), now, facts, check).await
            }
            token_kind::TokenKind::Jwe(_) if !self.settings.authjs_secrets.is_empty() => {
                facts.token_kind = Some("authjs_session");
                self.authjs(credential, now, facts, check).await
            }
            token_kind::TokenKind::BetterAuthSession | token_kind::TokenKind::Opaque
                if self.settings.validates_sessions() =>
            {
                facts.token_kind = Some("better_auth_session");
                self.session(credential, now, facts, check).await
            }
            // Not a kind this deployment is configured for: the JWT
            // verifier names what it is and what to configure.
            _ => self.jwt(credential, None, now, facts, check).await,
        }
    }

    async fn jwt(
        &self,
        credential: &Credential,
        header: Option<token_kind::JoseHeader>,
        now: i64,
        facts: &mut Facts,
        check: RevocationCheck,
    ) -> Result<Principal, Refusal> {
        let token = &credential.token;
        let verified = match header {
            Some(header) => {
                self.jwt
                    .verify_jws(token.expose(), header, now, facts)
                    .await?
            }
            None => self.jwt.verify(token.expose(), now, facts).await?,
        };
        let source = credential.source.to_string();
        if verified.signed_with_previous_secret {
            // A rotation in progress: this event says which tokens still
            // need JWT_SECRET_PREVIOUS, so it is removed only once none
            // arrive.
            tracing::info!(
                target: "gatehouse::auth::rotation",
                credential_source = source.as_str(),
                token_fingerprint = token.fingerprint().as_str(),
                "token accepted with the previous secret (JWT_SECRET_PREVIOUS): its signer must move to JWT_SECRET before the previous secret is removed"
            );
        }
        let revocation_id = self
            .settings
            .checks_revocation()
            .then(|| revocation::token_id(verified.jwt_id.as_deref(), token.expose()));
        let principal = Principal::from_verified(verified, source, revocation_id);
        self.check_revocation(principal, facts, check).await
    }

    /// Refuses a revoked credential; one indexed query, skipped when
    /// `TOKEN_REVOCATION=off` or without a database.
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
        let db = self.database()?;
        let state = revocation::check(&db, id, &principal.identity())
            .await
            .map_err(opaque::revocation_unavailable)?;
        match state.verdict(principal.issued_at) {
            None => Ok(principal),
            Some(revoked) => {
                facts.exp = principal.expires_at;
                Err(opaque::revoked(revoked))
            }
        }
    }

    async fn session(
        &self,
        credential: &Credential,
        now: i64,
        facts: &mut Facts,
        check: RevocationCheck,
    ) -> Result<Principal, Refusal> {
        let source = credential.source.to_string();
        if let Some(remote) = &self.remote {
            let mut principal = opaque::remote_session(
                remote,
                &self.session_secrets,
                credential,
                source,
                now,
                facts,
            )
            .await?;
            if self.settings.checks_revocation() {
                let token = better_auth_session::token_part(credential.token.expose());
                principal.revocation_id = Some(revocation::token_id(None, &token));
            }
            let principal = self.select_claims(principal);
            return self.check_revocation(principal, facts, check).await;
        }
        let db = self.database()?;
        let principal = opaque::database_session(
            &db,
            &self.session_secrets,
            credential,
            source,
            self.settings.checks_revocation(),
            now,
            facts,
        )
        .await?;
        Ok(self.select_claims(principal))
    }

    async fn authjs(
        &self,
        credential: &Credential,
        now: i64,
        facts: &mut Facts,
        check: RevocationCheck,
    ) -> Result<Principal, Refusal> {
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(30);
        let principal = opaque::authjs_session(
            &self.settings.authjs_secrets,
            credential,
            leeway,
            self.settings.checks_revocation(),
            now,
            facts,
        )?;
        let principal = self.select_claims(principal);
        self.check_revocation(principal, facts, check).await
    }

    async fn api_session(
        &self,
        credential: &Credential,
        now: i64,
        facts: &mut Facts,
    ) -> Result<Principal, Refusal> {
        let db = self.database()?;
        // The session's lookup checks revocation in its own statement, before
        // sliding the expiry: nothing is left to defer to the route.
        let session = opaque::api_session(
            &db,
            credential,
            &self.settings.sessions,
            self.settings.checks_revocation(),
            now,
            facts,
        )
        .await?;
        if let Err(refusal) = self.source_still_accepted(&db, &session.source).await {
            // Lasting: the source will not be accepted again.
            if !refusal.reason.status().is_server_error()
                && let Some(id) = session.principal.session_id.as_deref()
                && let Ok(id) = uuid::Uuid::parse_str(id)
            {
                api_sessions::end_quietly(&db, id).await;
            }
            return Err(refusal);
        }
        Ok(session.principal)
    }

    /// What a session exchanged for `principal` records of it.
    pub fn session_source(&self, principal: &Principal) -> SessionSource {
        let secret = match (&self.settings.shared_secret, principal.method) {
            (Some(shared), jwt::Method::JwtSharedSecret) => {
                match (&shared.previous, principal.signed_with_previous_secret) {
                    (Some(previous), true) => Some(previous.fingerprint()),
                    _ => Some(shared.current.fingerprint()),
                }
            }
            _ => None,
        };
        SessionSource::of(principal, secret)
    }

    /// Whether the credential a session was exchanged for would still be
    /// accepted, as far as a lasting reason goes: the session is refused
    /// with the reason the source would get.
    async fn source_still_accepted(
        &self,
        db: &Database,
        source: &SessionSource,
    ) -> Result<(), Refusal> {
        use jwt::Method::*;
        let Some(method) = source.method else {
            // Created before sources were recorded: its lifetime bounds it.
            return Ok(());
        };
        let exchanged = "the credential this session was exchanged for";
        let again = "sign in again and exchange the new credential with POST /api/auth/exchange";
        if let Some(settings::TokenVersion { server }) = self.settings.token_version
            && matches!(method, JwtJwks | JwtStaticKey | JwtSharedSecret)
            && source.token_version.unwrap_or(0) < server
        {
            return Err(Refusal::revealing(
                Reason::TokenVersionStale,
                format!(
                    "{exchanged} has token version {}, older than this server's {server}",
                    source
                        .token_version
                        .map_or("absent".to_owned(), |v| v.to_string())
                ),
                again,
            ));
        }
        let issuer_trusted = |issuer: &Option<String>| {
            issuer.as_deref().is_some_and(|iss| {
                self.settings
                    .issuers
                    .iter()
                    .any(|trusted| trusted.issuer.matches(iss))
            })
        };
        match method {
            JwtJwks | JwtStaticKey if !issuer_trusted(&source.issuer) => Err(Refusal::revealing(
                Reason::IssuerMismatch,
                format!(
                    "{exchanged} came from the issuer {}, which this deployment no longer trusts",
                    source.issuer.as_deref().unwrap_or("(none)")
                ),
                again,
            )),
            JwtSharedSecret => {
                let held = self.settings.shared_secret.as_ref().map(|shared| {
                    std::iter::once(shared.current.fingerprint())
                        .chain(shared.previous.as_ref().map(Secret::fingerprint))
                        .collect::<Vec<_>>()
                });
                let still_held = match (&held, &source.secret) {
                    (Some(held), Some(secret)) => held.contains(secret),
                    _ => false,
                };
                if still_held {
                    Ok(())
                } else {
                    Err(Refusal::revealing(
                        Reason::SignatureInvalid,
                        format!(
                            "{exchanged} was signed with a shared secret this deployment no longer holds (JWT_SECRET changed, or JWT_SECRET_PREVIOUS removed)"
                        ),
                        again,
                    ))
                }
            }
            BetterAuthSession => {
                let live = match source.session_id.as_deref() {
                    Some(id) if self.settings.sessions_in_database() => {
                        better_auth_session::is_live(db, id)
                            .await
                            .map_err(|err| opaque::store_unavailable(&err))?
                    }
                    _ => false,
                };
                if live {
                    Ok(())
                } else {
                    Err(Refusal::new(
                        Reason::SessionNotFound,
                        format!(
                            "{exchanged} (a Better Auth session) has ended: signed out, expired or deleted, or Better Auth sessions are no longer accepted here"
                        ),
                        again,
                    ))
                }
            }
            BetterAuthRemote if self.remote.is_none() => Err(Refusal::new(
                Reason::SessionNotFound,
                format!(
                    "{exchanged} was a Better Auth session validated by AUTH_SERVER_URL, which this deployment no longer asks"
                ),
                again,
            )),
            AuthjsSession if self.settings.authjs_secrets.is_empty() => Err(Refusal::new(
                Reason::TokenDecryptionFailed,
                format!(
                    "{exchanged} was an Auth.js session, and this deployment no longer holds AUTH_SECRET"
                ),
                again,
            )),
            ApiKey | GatehouseSession => Err(Refusal::new(
                Reason::Forbidden,
                format!("{exchanged} is a kind that is never exchanged"),
                again,
            )),
            _ => Ok(()),
        }
    }

    async fn api_key(&self, token: &str, source: String) -> Result<Principal, Refusal> {
        if !self.settings.accepts_api_keys() {
            return Err(opaque::api_keys_not_configured(&self.settings));
        }
        let db = self.database()?;
        opaque::api_key(&db, token, source).await
    }

    /// Adds the profile from the user service. Its outage is a 503: the
    /// credential was fine, and a 401 would log the user out.
    async fn enrich(&self, mut principal: Principal) -> Result<Principal, Refusal> {
        let Some(profiles) = &self.profiles else {
            return Ok(principal);
        };
        if principal.method == jwt::Method::ApiKey {
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

    /// Keeps the `PRINCIPAL_CLAIMS` of a session's user fields.
    fn select_claims(&self, mut principal: Principal) -> Principal {
        let all = std::mem::take(&mut principal.claims);
        principal.claims = self
            .settings
            .principal_claims
            .iter()
            .filter_map(|name| Some((name.clone(), all.get(name)?.clone())))
            .collect();
        principal
    }

    fn database(&self) -> Result<Arc<Database>, Refusal> {
        match self.database.get() {
            Ok(Some(db)) => Ok(db),
            Ok(None) => Err(Refusal::new(
                Reason::Misconfigured,
                "this credential kind needs the database, and DATABASE_URL is not set",
                "set DATABASE_URL",
            )),
            Err(err) => Err(opaque::store_unavailable(&err)),
        }
    }

    /// Refuses an API key without `scope` (403); other principals are users,
    /// whose permissions are the application's business.
    pub fn require_scope(&self, principal: &Principal, scope: &str) -> Result<(), Box<Refusal>> {
        if principal.method != jwt::Method::ApiKey || principal.has_scope(scope) {
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

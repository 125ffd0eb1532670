//! Better Auth sessions: the signed session token (cookie or the bearer
//! plugin's `set-auth-token`), verified with `BETTER_AUTH_SECRET`, then
//! read from Better Auth's cookie cache where it allows it
//! ([`cookie_cache`], `BETTER_AUTH_COOKIE_CACHE`), else looked up in
//! Better Auth's own tables ([`database`]) or asked of its server's
//! `get-session` ([`remote`], `AUTH_SERVER_URL`).

pub mod cookie_cache;
pub mod database;
pub mod remote;

use std::sync::Arc;

use crate::auth::credential::{Credential, Source};
use crate::auth::identity;
use crate::auth::principal::{Method, Principal};
use crate::auth::refusal::{Facts, Refusal, store_unavailable};
use crate::auth::revocation;
use crate::auth::settings::AuthSettings;
use crate::auth::verify::{Accepted, Attempt, Verify, database, select_claims};
use crate::clock::rfc3339;
use crate::db::{Database, LazyDatabase};
use crate::outbound::Outbound;
use crate::reason::Reason;
use cookie_cache::{CacheError, CookieCache};
use database::{LookupError, SessionLookup, SessionSecrets, SignedTokenError};
use remote::{RemoteCredential, RemoteError, RemoteSessions};

/// Better Auth's sessions, from its database or its server.
#[derive(Debug)]
pub(crate) struct BetterAuthVerifier {
    secrets: SessionSecrets,
    /// `BETTER_AUTH_COOKIE_CACHE`, in database mode only.
    cookie_cache: Option<CookieCache>,
    lookup: SessionLookup,
    remote: Option<RemoteSessions>,
    in_database: bool,
    checks_revocation: bool,
    principal_claims: Vec<String>,
    database: Arc<LazyDatabase>,
}

impl BetterAuthVerifier {
    pub(crate) fn new(
        settings: &AuthSettings,
        outbound: &Outbound,
        database: Arc<LazyDatabase>,
    ) -> Self {
        let in_database = settings.sessions_in_database();
        BetterAuthVerifier {
            secrets: SessionSecrets::new(&settings.better_auth_secrets),
            cookie_cache: settings
                .better_auth_cookie_cache
                .as_ref()
                .filter(|_| in_database)
                .map(|cache| CookieCache::new(cache, &settings.better_auth_secrets)),
            lookup: SessionLookup::default(),
            remote: settings
                .remote_sessions
                .clone()
                .map(|remote| RemoteSessions::new(remote, outbound.clone())),
            in_database,
            checks_revocation: settings.checks_revocation(),
            principal_claims: settings.principal_claims.clone(),
            database,
        }
    }

    /// Whether this deployment validates Better Auth sessions at all
    /// (`AUTH_SERVER_URL`, or `BETTER_AUTH_SECRET` with `DATABASE_URL`).
    pub(crate) fn is_configured(&self) -> bool {
        self.remote.is_some() || self.in_database
    }
}

impl Verify for BetterAuthVerifier {
    const CHECKS: &'static [&'static str] = &[
        "recognised",
        "signature",
        "session lookup",
        "expiry",
        "revocation",
        "user profile",
    ];

    async fn verify(&self, attempt: Attempt<'_>) -> Result<Accepted, Refusal> {
        let Attempt {
            credential,
            now,
            facts,
            ..
        } = attempt;
        let source = credential.source.to_string();
        if let Some(remote) = &self.remote {
            let mut principal =
                remote_session(remote, &self.secrets, credential, source, now, facts).await?;
            if self.checks_revocation {
                let token = database::token_part(credential.token.expose());
                principal.revocation_id = Some(revocation::token_id(None, &token));
            }
            select_claims(&mut principal, &self.principal_claims);
            return Ok(Accepted::pending(principal));
        }
        let signed = database::verify_signed(credential.token.expose(), &self.secrets)
            .map_err(|err| signature_refusal(err, &credential.source))?;
        let mut principal = match self.cached_session(credential, &signed.token, now)? {
            Some(session) => {
                let principal = session_principal(
                    session.session_id,
                    session.user_id,
                    session.expires_at,
                    Some(session.created_at),
                    session.user,
                    source,
                );
                facts.exp = principal.expires_at;
                principal
            }
            None => {
                let db = database(&self.database)?;
                database_session(&db, &self.lookup, &signed.token, source, now, facts).await?
            }
        };
        if self.checks_revocation {
            principal.revocation_id = Some(revocation::token_id(None, &signed.token));
        }
        select_claims(&mut principal, &self.principal_claims);
        // Revocation: the authenticator's in-memory copy, as for every
        // other credential kind.
        Ok(Accepted::pending(principal))
    }
}

impl BetterAuthVerifier {
    /// The session from Better Auth's cookie cache, when configured, sent
    /// and valid; `None` sends the request to the database, as Better Auth
    /// does. A forged cache is refused.
    fn cached_session(
        &self,
        credential: &Credential,
        token: &str,
        now: i64,
    ) -> Result<Option<cookie_cache::CachedSession>, Refusal> {
        let (Some(cache), Some(value)) = (&self.cookie_cache, &credential.cookie_cache) else {
            return Ok(None);
        };
        match cache.read(value.expose(), token, now) {
            Ok(session) => Ok(Some(session)),
            Err(err) if err.falls_back() => Ok(None),
            Err(err) => Err(cache_refusal(&err, cache, &credential.source)),
        }
    }
}

/// A Better Auth session looked up by its (verified) token: the row and
/// its expiry, in one statement.
async fn database_session(
    db: &Database,
    lookup: &SessionLookup,
    token: &str,
    source: String,
    now: i64,
    facts: &mut Facts,
) -> Result<Principal, Refusal> {
    let row = lookup.lookup(db, token).await.map_err(lookup_refusal)?;
    facts.exp = Some(row.expires_at);
    if row.expires_at <= now {
        return Err(Refusal::revealing(
            Reason::SessionExpired,
            format!(
                "the session expired at {} (server time {})",
                rfc3339(row.expires_at),
                rfc3339(now)
            ),
            "sign in again; Better Auth extends a session only while it is used (session.updateAge)",
        ));
    }
    Ok(session_principal(
        row.session_id,
        row.user_id,
        row.expires_at,
        row.created_at,
        row.user,
        source,
    ))
}

/// The principal of a Better Auth session, the same whether it was read
/// from the database or from the cookie cache.
fn session_principal(
    session_id: String,
    user_id: String,
    expires_at: i64,
    created_at: Option<f64>,
    user: serde_json::Map<String, serde_json::Value>,
    source: String,
) -> Principal {
    let mut principal = Principal::new(
        identity::BETTER_AUTH,
        user_id,
        Method::BetterAuthSession,
        source,
    );
    principal.expires_at = Some(expires_at);
    principal.session_id = Some(session_id);
    principal.claims = user;
    principal.issued_at = created_at;
    principal
}

/// A cookie cache that is well formed but not signed with any configured
/// secret: altered, or written with another secret.
fn cache_refusal(err: &CacheError, cache: &CookieCache, source: &Source) -> Refusal {
    let session_cookie = source.cookie_name().unwrap_or("better-auth.session_token");
    let name = crate::auth::credential::cookie_cache_name(session_cookie)
        .unwrap_or_else(|| "better-auth.session_data".to_owned());
    Refusal::revealing(
        Reason::CookieSignatureInvalid,
        format!(
            "Better Auth's cookie cache ({name}, strategy {}) came with a valid session cookie, but {err}: it was altered, or written with another secret",
            cache.strategy().as_str()
        ),
        "sign in again; if fresh sessions are refused too, BETTER_AUTH_SECRET here differs from the auth server's: set the same secret(s) in both (during a rotation, every live one in BETTER_AUTH_SECRETS, newest first)",
    )
}

fn signature_refusal(err: SignedTokenError, source: &Source) -> Refusal {
    match err {
        SignedTokenError::Unsigned => Refusal::new(
            Reason::CookieSignatureInvalid,
            "the session token carries no signature (Better Auth signs it as `<token>.<signature>`)",
            "send the session cookie, or the `set-auth-token` header's value from Better Auth's bearer plugin, not `session.token` from a get-session response",
        ),
        SignedTokenError::Malformed(what) => Refusal::new(
            Reason::TokenMalformed,
            format!("the session token {what}"),
            "send the session cookie or bearer token exactly as Better Auth set it",
        ),
        SignedTokenError::SignatureInvalid { secrets_tried } => Refusal::revealing(
            Reason::CookieSignatureInvalid,
            format!(
                "the session token's signature does not verify with the {secrets_tried} configured secret(s) ({})",
                match source {
                    Source::Cookie(name) => format!("cookie {name}"),
                    other => other.to_string(),
                }
            ),
            "BETTER_AUTH_SECRET here differs from the auth server's (or the value was altered): set the same BETTER_AUTH_SECRET in both services; during a rotation list every live secret in BETTER_AUTH_SECRETS",
        ),
    }
}

fn lookup_refusal(err: LookupError) -> Refusal {
    match err {
        LookupError::NotFound => Refusal::new(
            Reason::SessionNotFound,
            "no session has this token: it was signed out, expired and cleaned up, or belongs to another database",
            "sign in again; if a fresh session is refused too, DATABASE_URL points at another database than Better Auth's",
        ),
        LookupError::TablesMissing => Refusal::revealing(
            Reason::SessionStoreUnavailable,
            "Better Auth's \"session\" and \"user\" tables are not in the database DATABASE_URL names",
            "point DATABASE_URL at the database Better Auth uses (its migrations create those tables)",
        ),
        LookupError::Store(err) => store_unavailable(&err),
    }
}

/// A session validated by the auth server's `get-session`, cached. With
/// the auth server's secret configured, the signature is checked first: a
/// forgery is refused here and never spends the auth server's rate limit.
async fn remote_session(
    remote: &RemoteSessions,
    secrets: &SessionSecrets,
    credential: &Credential,
    source: String,
    now: i64,
    facts: &mut Facts,
) -> Result<Principal, Refusal> {
    let token = credential.token.expose();
    if !secrets.is_empty() {
        database::verify_signed(token, secrets)
            .map_err(|err| signature_refusal(err, &credential.source))?;
    }
    let forwarded = match &credential.source {
        Source::Cookie(name) => RemoteCredential::Cookie { name, value: token },
        _ => RemoteCredential::Bearer(token),
    };
    match remote.validate(forwarded, now).await {
        Ok(session) => {
            facts.exp = Some(session.expires_at);
            let mut principal = Principal::new(
                identity::BETTER_AUTH,
                session.user_id,
                Method::BetterAuthRemote,
                source,
            );
            principal.expires_at = Some(session.expires_at);
            principal.session_id = session.session_id;
            principal.claims = session.user;
            principal.issued_at = session.created_at.map(|at| at as f64);
            Ok(principal)
        }
        Err(RemoteError::NoSession) => Err(Refusal::revealing(
            Reason::SessionNotFound,
            format!(
                "the auth server at {} reports no valid session for this credential",
                remote.settings().base_url
            ),
            "sign in again; if a fresh session is refused too, AUTH_SERVER_URL points at another environment's auth server",
        )),
        Err(RemoteError::Unavailable { detail }) => Err(Refusal::revealing(
            Reason::AuthServerUnavailable,
            format!("the auth server could not validate the session: {detail}"),
            "this is our dependency failing, not your session: retry shortly; check AUTH_SERVER_URL and that the auth server is up",
        )),
    }
}

//! The credentials that are not signed JWTs: Better Auth sessions (from its
//! database or its server), Auth.js encrypted cookies and API keys. Each
//! verifier's outcome becomes the common [`Principal`] or a [`Refusal`]
//! with the shared reasons, so clients and logs see one shape.

use serde_json::Value;

use crate::auth::api_keys::{self, ApiKeyError};
use crate::auth::api_sessions::{self, SessionError};
use crate::auth::authjs::{self, AuthJsError};
use crate::auth::better_auth_session::{self, LookupError, SessionSecrets, SignedTokenError};
use crate::auth::credential::{Credential, Source};
use crate::auth::identity;
use crate::auth::jwt::{Method, numeric_date_secs};
use crate::auth::principal::Principal;
use crate::auth::refusal::{Facts, Refusal};
use crate::auth::remote_session::{RemoteCredential, RemoteError, RemoteSessions};
use crate::auth::revocation::{self, RevocationError, Revoked};
use crate::auth::settings::AuthSettings;
use crate::auth::settings::SessionSettings;
use crate::clock::rfc3339;
use crate::db::{Database, DbError};
use crate::error::Reason;
use crate::secret::Secret;

/// A Better Auth session: signature first (a forgery never reaches the
/// database), then the row, its expiry and its revocation, in one query.
pub(super) async fn database_session(
    db: &Database,
    secrets: &SessionSecrets,
    credential: &Credential,
    source: String,
    check_revocation: bool,
    now: i64,
    facts: &mut Facts,
) -> Result<Principal, Refusal> {
    let signed = better_auth_session::verify_signed(credential.token.expose(), secrets)
        .map_err(|err| signature_refusal(err, &credential.source))?;
    let revocation_id = check_revocation.then(|| revocation::token_id(None, &signed.token));
    let row = better_auth_session::lookup(db, &signed.token, revocation_id.as_deref())
        .await
        .map_err(lookup_refusal)?;
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
    if let Some(revoked) = row.revocation.verdict(row.created_at) {
        return Err(self::revoked(revoked));
    }
    let mut principal = Principal::new(
        identity::BETTER_AUTH,
        row.user_id,
        Method::BetterAuthSession,
        source,
    );
    principal.expires_at = Some(row.expires_at);
    principal.session_id = Some(row.session_id);
    principal.claims = row.user;
    principal.issued_at = row.created_at;
    principal.revocation_id = revocation_id;
    Ok(principal)
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
        LookupError::RevocationTableMissing => {
            revocation_unavailable(RevocationError::TablesMissing)
        }
        LookupError::Store(err) => store_unavailable(&err),
    }
}

/// A session validated by the auth server's `get-session`, cached. With
/// the auth server's secret configured, the signature is checked first: a
/// forgery is refused here and never spends the auth server's rate limit.
pub(super) async fn remote_session(
    remote: &RemoteSessions,
    secrets: &SessionSecrets,
    credential: &Credential,
    source: String,
    now: i64,
    facts: &mut Facts,
) -> Result<Principal, Refusal> {
    let token = credential.token.expose();
    if !secrets.is_empty() {
        better_auth_session::verify_signed(token, secrets)
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

/// An Auth.js (or NextAuth v4) encrypted session cookie.
pub(super) fn authjs_session(
    secrets: &[Secret],
    credential: &Credential,
    leeway: i64,
    check_revocation: bool,
    now: i64,
    facts: &mut Facts,
) -> Result<Principal, Refusal> {
    let token = credential.token.expose();
    let claims = authjs::decrypt(secrets, credential.source.cookie_name(), token).map_err(
        |err| match err {
            AuthJsError::Malformed(what) => Refusal::new(
                Reason::TokenMalformed,
                format!("the Auth.js session token {what}"),
                "send the session cookie exactly as Auth.js set it (all of its .0, .1, … chunks)",
            ),
            AuthJsError::Unsupported { alg, enc } => {
                facts.alg = Some(format!("{alg}+{enc}"));
                Refusal::new(
                    Reason::AlgorithmNotAllowed,
                    format!("the encrypted token uses alg {alg} with enc {enc}; Auth.js uses dir with A256CBC-HS512 (NextAuth v4: A256GCM)"),
                    "send an Auth.js session cookie, or a signed JWT in Authorization: Bearer",
                )
            }
            AuthJsError::DecryptionFailed { secrets_tried } => Refusal::revealing(
                Reason::TokenDecryptionFailed,
                format!("the Auth.js session token does not decrypt with the {secrets_tried} configured secret(s)"),
                "AUTH_SECRET here differs from the Auth.js app's (or the cookie was altered, or its name changed): set the same AUTH_SECRET in both",
            ),
        },
    )?;
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    let exp = match number("exp") {
        None => None,
        Some(exp) => Some(numeric_date_secs(exp).ok_or_else(|| {
            Refusal::new(
                Reason::TokenMalformed,
                format!("the Auth.js session token's `exp` is {exp:e}, outside the dates this API accepts (1970 to 9999)"),
                "Auth.js sets exp to a date in seconds; the token was not made by Auth.js's encode",
            )
        })?),
    };
    let Some(exp) = exp else {
        return Err(Refusal::new(
            Reason::ClaimMissing,
            "the Auth.js session token has no `exp` (claim `exp`)",
            "Auth.js always sets exp; the token was not made by Auth.js's encode",
        ));
    };
    facts.exp = Some(exp);
    facts.iat = number("iat").and_then(numeric_date_secs);
    if exp + leeway <= now {
        return Err(Refusal::revealing(
            Reason::TokenExpired,
            format!(
                "the Auth.js session expired at {} (server time {}, leeway {leeway} s)",
                rfc3339(exp),
                rfc3339(now)
            ),
            "sign in again; Auth.js refreshes the cookie only while the session is used (session.updateAge)",
        ));
    }
    let Some(subject) = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
    else {
        return Err(Refusal::new(
            Reason::ClaimMissing,
            "the Auth.js session names no user (claim `sub`)",
            "return `sub` from the Auth.js jwt callback (it is there unless the callback drops it)",
        ));
    };
    let mut principal = Principal::new(
        identity::AUTHJS,
        subject.to_owned(),
        Method::AuthjsSession,
        credential.source.to_string(),
    );
    principal.expires_at = Some(exp);
    principal.issued_at = number("iat");
    if check_revocation {
        let jti = claims.get("jti").and_then(Value::as_str);
        principal.revocation_id = Some(revocation::token_id(jti, token));
    }
    principal.claims = claims;
    Ok(principal)
}

/// A session of this API's own, from `POST /api/auth/exchange`, with the
/// source it was exchanged for, which the caller checks is still trusted.
pub(super) async fn api_session(
    db: &Database,
    credential: &Credential,
    settings: &SessionSettings,
    check_revocation: bool,
    now: i64,
    facts: &mut Facts,
) -> Result<api_sessions::Authenticated, Refusal> {
    let source = credential.source.to_string();
    let token = credential.token.expose();
    match api_sessions::authenticate(db, token, source, settings, now, check_revocation).await {
        Ok(authenticated) => Ok(authenticated),
        Err(SessionError::LifetimeOver { created_at }) => Err(Refusal::revealing(
            Reason::SessionExpired,
            format!(
                "the session was created at {} and has reached its absolute lifetime of {} s, however much it was used",
                rfc3339(created_at),
                settings.max_lifetime.as_secs()
            ),
            "exchange a fresh credential for a new session with POST /api/auth/exchange; SESSION_MAX_LIFETIME_SECS sets the lifetime",
        )),
        Err(SessionError::Revoked(revoked)) => Err(self::revoked(revoked)),
        Err(SessionError::NotFound) => Err(Refusal::new(
            Reason::SessionNotFound,
            "no session of this API has this token: it was ended by POST /api/auth/logout, or belongs to another deployment's database",
            "exchange a credential for a new session with POST /api/auth/exchange",
        )),
        Err(SessionError::Expired { expires_at }) => {
            facts.exp = Some(expires_at);
            Err(Refusal::revealing(
                Reason::SessionExpired,
                format!(
                    "the session expired at {} after {} s unused",
                    rfc3339(expires_at),
                    settings.ttl.as_secs()
                ),
                "exchange a credential for a new session with POST /api/auth/exchange; SESSION_TTL_SECS sets how long an unused session lasts",
            ))
        }
        Err(SessionError::Store(err)) => Err(store_unavailable(&err)),
        Err(SessionError::Random) => Err(Refusal::new(
            Reason::InternalError,
            "the system random number generator failed",
            "retry",
        )),
    }
}

/// An API key from `gatehouse api-keys create`.
pub(super) async fn api_key(
    db: &Database,
    token: &str,
    source: String,
) -> Result<Principal, Refusal> {
    let create = "create a key with `gatehouse api-keys create --name <name> --scope <scope>` and send it as X-API-Key or `Authorization: ApiKey <key>`";
    match api_keys::verify(db, token).await {
        Ok(key) => {
            let mut principal = Principal::new(
                identity::API_KEY,
                key.id.to_string(),
                Method::ApiKey,
                source,
            );
            principal.expires_at = key.expires_at;
            principal.scopes = key.scopes;
            principal
                .claims
                .insert("name".to_owned(), Value::String(key.name));
            principal
                .claims
                .insert("lookup".to_owned(), Value::String(key.lookup));
            Ok(principal)
        }
        Err(ApiKeyError::Malformed(what)) => Err(Refusal::new(
            Reason::ApiKeyInvalid,
            format!("the API key {what}"),
            format!("Gatehouse keys look like gk_<12 characters>_<43 characters>; {create}"),
        )),
        Err(ApiKeyError::Unknown) => Err(Refusal::new(
            Reason::ApiKeyInvalid,
            "no API key matches the presented key (unknown, or its secret part differs)",
            format!(
                "check that the key was copied whole (it is shown once, at creation), or {create}"
            ),
        )),
        Err(ApiKeyError::Revoked { revoked_at }) => Err(Refusal::revealing(
            Reason::ApiKeyInvalid,
            format!("the API key was revoked at {}", rfc3339(revoked_at)),
            create,
        )),
        Err(ApiKeyError::Expired { expires_at }) => Err(Refusal::revealing(
            Reason::ApiKeyInvalid,
            format!("the API key expired at {}", rfc3339(expires_at)),
            create,
        )),
        Err(ApiKeyError::Store(err)) => Err(store_unavailable(&err)),
    }
}

pub(super) fn api_keys_not_configured(settings: &AuthSettings) -> Refusal {
    let hint = if settings.has_database {
        "API_KEYS is off in this deployment; unset it to accept API keys"
    } else {
        "API keys live in Postgres: set DATABASE_URL, run `gatehouse migrate`, then `gatehouse api-keys create`"
    };
    Refusal::new(
        Reason::ApiKeyInvalid,
        "an API key arrived, but this deployment does not accept API keys",
        hint,
    )
}

/// Our database failing is a 503: the credential may be fine.
pub(super) fn store_unavailable(err: &DbError) -> Refusal {
    let reason = if err.is_schema_outdated() {
        Reason::SchemaOutdated
    } else {
        Reason::SessionStoreUnavailable
    };
    Refusal::revealing(
        reason,
        format!(
            "the credential store (Postgres) could not be read: {}",
            err.public_detail()
        ),
        err.hint(),
    )
}

/// The refusal for a revocation store that could not be read or written:
/// `schema_outdated` when its tables are missing, else unavailable (503).
pub fn revocation_unavailable(err: RevocationError) -> Refusal {
    match err {
        RevocationError::TablesMissing => Refusal::revealing(
            Reason::SchemaOutdated,
            "the revocation tables or functions (gatehouse_revoked_tokens, gatehouse_revocation_state) are missing from this database: its schema is older than this build",
            "run `gatehouse migrate` against DATABASE_URL, or set TOKEN_REVOCATION=off",
        ),
        RevocationError::Store(err) => store_unavailable(&err),
        RevocationError::NoRow => Refusal::new(
            Reason::SessionStoreUnavailable,
            "the revocation check returned no row",
            "retry; if it persists, the log under this request id has the details",
        ),
    }
}

pub(super) fn revoked(revoked: Revoked) -> Refusal {
    let at = |secs: f64| rfc3339(secs.floor() as i64);
    let detail = match revoked {
        Revoked::Token { revoked_at } => format!("this token was revoked at {}", at(revoked_at)),
        Revoked::Subject {
            not_before,
            issued_at: Some(issued_at),
        } => format!(
            "every credential of this user issued before {} was revoked (sign-out everywhere); this one was issued at {}",
            at(not_before),
            at(issued_at)
        ),
        Revoked::Subject { not_before, .. } => format!(
            "every credential of this user issued before {} was revoked (sign-out everywhere), and this one does not say when it was issued",
            at(not_before)
        ),
    };
    Refusal::revealing(
        Reason::TokenRevoked,
        detail,
        "sign in again to get a new credential",
    )
}

//! A refusal: the reason code, what happened, the likely fix, and the facts
//! that prove it. One shape for every credential kind, so logs and clients
//! can rely on it.
//!
//! Facts are shown in the response outside production only; they always go
//! to the log, in one event per refusal with a fixed target and fixed fields
//! (see [`Refusal::log`]). No token, secret or cookie value is ever a fact:
//! tokens appear as fingerprints, cookies by name.

use serde::Serialize;
use serde_json::json;

use crate::db::DbError;
use crate::http::problem::Problem;
use crate::reason::Reason;

/// The `tracing` target of refusal events; a stable contract for log queries.
pub const REFUSAL_TARGET: &str = "gatehouse::auth::refusal";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub detail: String,
    pub hint: String,
    /// Boxed: refusals travel through `Result`s on the hot path, and the
    /// facts are attached only once, at the end.
    pub facts: Box<Facts>,
    /// A detail and hint naming values (the issuer received and expected,
    /// a key id, our secret's fingerprint, the server clock). Shown outside
    /// production and always logged; in production `detail` and `hint` are
    /// the reason's generic texts instead.
    pub specific: Option<Box<(String, String)>>,
}

/// What was received and what was expected. Empty fields are unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// `authorization_header` or `cookie:<name>`.
    pub credential_source: Option<String>,
    pub token_fingerprint: Option<String>,
    pub token_kind: Option<&'static str>,
    pub alg: Option<String>,
    pub kid: Option<String>,
    pub iss_received: Option<String>,
    pub iss_expected: Option<String>,
    pub aud_received: Option<String>,
    pub aud_expected: Option<String>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub server_time: Option<i64>,
    /// The token's `token_version` claim, when it has one.
    pub token_version: Option<u64>,
    pub leeway_secs: Option<u64>,
    /// Key ids (or `shared_secret`, `previous_shared_secret`) tried.
    pub keys_tried: Vec<String>,
    pub cookies_present: Vec<String>,
}

impl Refusal {
    pub fn new(reason: Reason, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Refusal {
            reason,
            detail: detail.into(),
            hint: hint.into(),
            facts: Box::default(),
            specific: None,
        }
    }

    /// A refusal whose texts name expected or received values: production
    /// responses get the reason's generic texts, the log and other
    /// environments the specific ones.
    pub fn revealing(reason: Reason, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        let (public_detail, public_hint) = generic_texts(reason);
        Refusal {
            reason,
            detail: public_detail.to_owned(),
            hint: public_hint.to_owned(),
            facts: Box::default(),
            specific: Some(Box::new((detail.into(), hint.into()))),
        }
    }

    /// The detail and hint a response may show.
    pub fn texts(&self, shows_details: bool) -> (&str, &str) {
        match (&self.specific, shows_details) {
            (Some(specific), true) => (&specific.0, &specific.1),
            _ => (&self.detail, &self.hint),
        }
    }

    /// The most specific texts, for the log.
    fn logged_texts(&self) -> (&str, &str) {
        self.texts(true)
    }

    pub fn with_facts(mut self, facts: Facts) -> Self {
        self.facts = Box::new(facts);
        self
    }

    /// RFC 6750: no `error` attribute when no credentials were sent;
    /// `invalid_token` for a bad one; none for failures that are ours (503).
    pub fn www_authenticate(&self, shows_details: bool) -> Option<String> {
        let detail = self.texts(shows_details).0;
        match self.reason.status().as_u16() {
            401 if self.reason == Reason::CredentialsMissing => {
                Some(r#"Bearer realm="gatehouse""#.to_owned())
            }
            401 => Some(format!(
                r#"Bearer realm="gatehouse", error="invalid_token", error_description="{}""#,
                quoted_string_safe(detail)
            )),
            403 => Some(r#"Bearer realm="gatehouse", error="insufficient_scope""#.to_owned()),
            _ => None,
        }
    }

    pub fn to_problem(&self, shows_details: bool) -> Problem {
        let (detail, hint) = self.texts(shows_details);
        let mut problem = Problem::new(self.reason)
            .detail(detail)
            .header("x-auth-reason", self.reason.as_str());
        if let Some(value) = self.www_authenticate(shows_details) {
            problem = problem.header("www-authenticate", &value);
        }
        if self.reason.status().as_u16() == 503 {
            problem = problem.header("retry-after", "5");
        }
        // In production the texts are generic and the facts stay in the
        // log: a response never tells an attacker what we expected.
        problem = problem.hint(hint);
        if shows_details {
            problem = problem.extension("facts", json!(*self.facts));
        }
        problem
    }

    /// The one structured event a refusal produces. Every field is always
    /// present (empty when unknown), so log queries never miss a column.
    pub fn log(&self, request_id: &str, route: &str) {
        let f = &self.facts;
        let (detail, hint) = self.logged_texts();
        let opt = |value: &Option<String>| value.clone().unwrap_or_default();
        let num = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
        macro_rules! refusal_event {
            ($level:expr) => {
                tracing::event!(
                    target: REFUSAL_TARGET,
                    $level,
                    reason = self.reason.as_str(),
                    status = self.reason.status().as_u16(),
                    request_id,
                    route,
                    credential_source = opt(&f.credential_source),
                    token_fingerprint = opt(&f.token_fingerprint),
                    token_kind = f.token_kind.unwrap_or_default(),
                    alg = opt(&f.alg),
                    kid = opt(&f.kid),
                    iss_received = opt(&f.iss_received),
                    iss_expected = opt(&f.iss_expected),
                    aud_received = opt(&f.aud_received),
                    aud_expected = opt(&f.aud_expected),
                    exp = num(f.exp),
                    nbf = num(f.nbf),
                    iat = num(f.iat),
                    server_time = num(f.server_time),
                    keys_tried = f.keys_tried.join(","),
                    cookies_present = f.cookies_present.join(","),
                    detail,
                    hint,
                    "request refused"
                )
            };
        }
        // Our own outages are warnings: someone should look. A bad token is
        // routine.
        if self.reason.status().is_server_error() {
            refusal_event!(tracing::Level::WARN);
        } else {
            refusal_event!(tracing::Level::INFO);
        }
    }
}

/// Production texts of refusals whose specific texts name values.
fn generic_texts(reason: Reason) -> (&'static str, &'static str) {
    const LOG: &str = "the log event for this request id has the expected and received values";
    match reason {
        Reason::AlgorithmNotAllowed => (
            "the token's algorithm is not accepted for its issuer or key",
            "sign with the issuer's key algorithm, or set JWT_SECRET for HS tokens; the log event for this request id has the details",
        ),
        Reason::KeyNotFound => (
            "no key of the trusted issuer matches the token's key id",
            "check that the JWKS URL (JWT_JWKS_URL / BETTER_AUTH_URL) belongs to the auth server that minted the token; the log event for this request id has the key ids",
        ),
        Reason::SignatureInvalid => (
            "the token's signature does not verify",
            "the token was signed with another secret or key than this deployment trusts (secrets differing between services, or a rotation without JWT_SECRET_PREVIOUS); the log event for this request id has the details",
        ),
        Reason::TokenExpired => (
            "the token has expired",
            "get a fresh token (refresh the session); if tokens expire the moment they arrive, a clock is wrong",
        ),
        Reason::TokenNotYetValid => (
            "the token is not valid yet",
            "the issuer's clock is ahead of this server's: sync both with NTP",
        ),
        Reason::IssuerMismatch => (
            "the token comes from an issuer this deployment does not trust",
            "set JWT_ISSUER or BETTER_AUTH_URL to the auth server of this environment (preview deployments have their own URL); the log event for this request id has the expected and received issuer",
        ),
        Reason::AudienceMismatch => (
            "the token was issued for another audience",
            "set JWT_AUDIENCE (or JWT_AUTHORIZED_PARTIES) for this environment, or mint tokens for this API; the log event for this request id has the expected and received audience",
        ),
        Reason::TokenTypeMismatch => (
            "the token is not the kind of token this API accepts as a user's",
            "send the signed-in user's token (an access token, not an API key or another token of the provider); the log event for this request id names what was sent and what is expected",
        ),
        Reason::TokenVersionStale => (
            "the token's version is older than the server's",
            "sign in again to get a token of the current version",
        ),
        Reason::JwksUnavailable => (
            "the issuer's signing keys could not be loaded",
            "this is our dependency failing, not your token: retry shortly",
        ),
        Reason::SessionStoreUnavailable => (
            "the session or credential store could not be read",
            "this is our dependency failing, not your credential: retry shortly",
        ),
        Reason::RevocationUnavailable => (
            "whether this credential was revoked cannot be told: the revocation state is too old and could not be read again",
            "this is our dependency failing, not your credential: retry shortly",
        ),
        Reason::CredentialsMissing => (
            "the request carries no Authorization header and no session cookie",
            "send `Authorization: Bearer <token>`, or the session cookie this API reads (AUTH_COOKIE_NAMES); the log event for this request id names the cookies that arrived",
        ),
        Reason::SchemaOutdated => (
            "the database schema is older than this build",
            "run `gatehouse migrate` against this deployment's DATABASE_URL; this is the deployment's fault, not your credential",
        ),
        Reason::AuthServerUnavailable => (
            "the auth server could not validate the session",
            "this is our dependency failing, not your session: retry shortly",
        ),
        Reason::UserServiceUnavailable => (
            "the user's profile could not be loaded",
            "this is our dependency failing, not your credential: retry shortly",
        ),
        Reason::CookieSignatureInvalid => (
            "the session token's signature does not verify",
            "the auth server and this API hold different secrets (BETTER_AUTH_SECRET), or the value was altered; the log event for this request id has the details",
        ),
        Reason::SessionNotFound => ("no valid session has this token", "sign in again"),
        Reason::TokenDecryptionFailed => (
            "the encrypted session token cannot be decrypted",
            "the Auth.js app and this API hold different secrets (AUTH_SECRET), or the cookie was altered; the log event for this request id has the details",
        ),
        Reason::SessionExpired => ("the session has expired", "sign in again"),
        Reason::TokenRevoked => ("the credential was revoked", "sign in again"),
        Reason::ApiKeyInvalid => (
            "the API key is revoked or expired",
            "create a new key with `gatehouse api-keys create`",
        ),
        Reason::UserNotFound => (
            "the user no longer exists",
            "sign in again with an existing account",
        ),
        _ => ("the credentials were refused", LOG),
    }
}

/// RFC 7230 quoted-string content: printable ASCII without `"` and `\`.
fn quoted_string_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '\''
            } else {
                c
            }
        })
        .collect()
}

/// Our database failing is a 503: the credential may be fine.
pub(crate) fn store_unavailable(err: &DbError) -> Refusal {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn www_authenticate_follows_rfc_6750() {
        let missing = Refusal::new(Reason::CredentialsMissing, "none", "send one");
        assert_eq!(
            missing.www_authenticate(true).unwrap(),
            r#"Bearer realm="gatehouse""#
        );
        let expired = Refusal::new(
            Reason::TokenExpired,
            r#"it "expired" \ yesterday"#,
            "refresh",
        );
        assert_eq!(
            expired.www_authenticate(true).unwrap(),
            r#"Bearer realm="gatehouse", error="invalid_token", error_description="it 'expired' ' yesterday""#
        );
        assert!(
            Refusal::new(Reason::JwksUnavailable, "down", "wait")
                .www_authenticate(true)
                .is_none()
        );
    }

    #[test]
    fn revealing_texts_stay_out_of_production_responses() {
        let refusal = Refusal::revealing(
            Reason::IssuerMismatch,
            "the token's issuer is http://localhost:3000",
            "this deployment expects https://app.example.com",
        );
        let body = |shows_details: bool| {
            let response = refusal.to_problem(shows_details).into_response(None);
            let header = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            format!("{header} {}", String::from_utf8_lossy(response.body()))
        };
        let production = body(false);
        assert!(!production.contains("localhost"), "{production}");
        assert!(!production.contains("app.example.com"), "{production}");
        assert!(production.contains("issuer_mismatch") && production.contains("JWT_ISSUER"));
        let development = body(true);
        assert!(
            development.contains("http://localhost:3000")
                && development.contains("https://app.example.com")
        );
    }
}

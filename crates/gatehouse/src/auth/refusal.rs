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

use crate::error::Reason;
use crate::http::problem::Problem;

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
        }
    }

    pub fn with_facts(mut self, facts: Facts) -> Self {
        self.facts = Box::new(facts);
        self
    }

    /// RFC 6750: no `error` attribute when no credentials were sent;
    /// `invalid_token` for a bad one; none for failures that are ours (503).
    pub fn www_authenticate(&self) -> Option<String> {
        match self.reason.status().as_u16() {
            401 if self.reason == Reason::CredentialsMissing => {
                Some(r#"Bearer realm="gatehouse""#.to_owned())
            }
            401 => Some(format!(
                r#"Bearer realm="gatehouse", error="invalid_token", error_description="{}""#,
                quoted_string_safe(&self.detail)
            )),
            403 => Some(r#"Bearer realm="gatehouse", error="insufficient_scope""#.to_owned()),
            _ => None,
        }
    }

    pub fn to_problem(&self, shows_details: bool) -> Problem {
        let mut problem = Problem::new(self.reason)
            .detail(self.detail.clone())
            .header("x-auth-reason", self.reason.as_str());
        if let Some(value) = self.www_authenticate() {
            problem = problem.header("www-authenticate", &value);
        }
        if self.reason.status().as_u16() == 503 {
            problem = problem.header("retry-after", "5");
        }
        // The hint names the fix without revealing configuration values in
        // production; the facts (expected issuer, audience...) do, so they
        // stay in the log there.
        problem = problem.hint(self.hint.clone());
        if shows_details {
            problem = problem.extension("facts", json!(*self.facts));
        }
        problem
    }

    /// The one structured event a refusal produces. Every field is always
    /// present (empty when unknown), so log queries never miss a column.
    pub fn log(&self, request_id: &str, route: &str) {
        let f = &self.facts;
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
                    detail = self.detail.as_str(),
                    hint = self.hint.as_str(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn www_authenticate_follows_rfc_6750() {
        let missing = Refusal::new(Reason::CredentialsMissing, "none", "send one");
        assert_eq!(
            missing.www_authenticate().unwrap(),
            r#"Bearer realm="gatehouse""#
        );
        let expired = Refusal::new(
            Reason::TokenExpired,
            r#"it "expired" \ yesterday"#,
            "refresh",
        );
        assert_eq!(
            expired.www_authenticate().unwrap(),
            r#"Bearer realm="gatehouse", error="invalid_token", error_description="it 'expired' ' yesterday""#
        );
        assert!(
            Refusal::new(Reason::JwksUnavailable, "down", "wait")
                .www_authenticate()
                .is_none()
        );
    }
}

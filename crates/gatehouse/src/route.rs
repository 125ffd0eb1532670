//! The route a function serves and what its handler gets: the runtime's
//! contract with every route, ours and a team's own.
//!
//! A route is a `static` [`Route`]: its Vercel path pattern, its methods,
//! what it [`Needs`] from the configuration, and its [`Handler`], which
//! takes a [`Ctx`] and answers, or fails with a [`RequestError`] that the
//! pipeline turns into the one response for that failure. A binary under
//! `api/` hands it to [`crate::host::serve`]:
//!
//! ```no_run
//! use gatehouse::http::{Response, json_response};
//! use gatehouse::route::{Ctx, HandlerFuture, Route};
//! use gatehouse::config::Needs;
//!
//! static HELLO: Route = Route {
//!     pattern: "/api/hello",
//!     methods: &[http::Method::GET],
//!     needs: Needs::AUTH,
//!     handler: hello,
//! };
//!
//! fn hello(ctx: Ctx) -> HandlerFuture {
//!     Box::pin(async move {
//!         let principal = ctx.principal(None).await?;
//!         Ok(json_response(
//!             http::StatusCode::OK,
//!             &serde_json::json!({ "hello": principal.subject }),
//!         ))
//!     })
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     gatehouse::host::serve(&HELLO)
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::Method;

use crate::auth::Principal;
use crate::config::Needs;
use crate::error::{FieldError, RequestError};
use crate::http::request::RequestId;
use crate::http::{Request, Response};
use crate::state::State;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send>>;

/// A route handler: takes the request context, answers or fails with a
/// [`RequestError`] that the pipeline turns into the response.
pub type Handler = fn(Ctx) -> HandlerFuture;

#[derive(Debug)]
pub struct Route {
    /// Vercel's path pattern, e.g. `/api/tasks/[id]`.
    pub pattern: &'static str,
    pub methods: &'static [Method],
    pub needs: Needs,
    pub handler: Handler,
}

impl Route {
    /// The file under the project root that serves this route on Vercel.
    pub fn source_file(&self) -> String {
        format!("{}.rs", self.pattern.trim_start_matches('/'))
    }

    /// The `[[bin]]` name: the path after `/api/`, `/` and `.` as `-`,
    /// brackets dropped (`/api/openapi.json` is `openapi-json`).
    pub fn binary_name(&self) -> String {
        self.pattern
            .trim_start_matches("/api/")
            .replace(['/', '.'], "-")
            .replace(['[', ']'], "")
    }

    /// Matches a whole request path, as the dev server routes. Returns the
    /// dynamic segments' values, still percent-encoded.
    pub fn match_path<'p>(&self, path: &'p str) -> Option<Vec<(&'static str, &'p str)>> {
        let pattern: Vec<&'static str> = self.pattern.split('/').collect();
        let actual: Vec<&'p str> = path.trim_end_matches('/').split('/').collect();
        if pattern.len() != actual.len() {
            return None;
        }
        match_segments(&pattern, &actual)
    }

    /// The dynamic segments' values for a request this function received.
    /// The path wins: Vercel and Lambda deliver the original path (Vercel
    /// also adds the values as query parameters, Lambda may prefix a stage
    /// such as `/prod`, so the path's tail is matched), and a query
    /// parameter of the same name must not pick another resource than the
    /// URL names (`/api/tasks/<B>?id=<A>`). The query is read only when the
    /// path does not carry the value (a path that still reads `[id]`).
    pub fn params(&self, uri: &http::Uri) -> Option<Vec<(&'static str, String)>> {
        let names: Vec<&'static str> = self.pattern.split('/').filter_map(dynamic_name).collect();
        if names.is_empty() {
            return Some(Vec::new());
        }
        // Compare segments after the leading `/`, aligned at the end.
        let pattern: Vec<&'static str> = self.pattern.split('/').skip(1).collect();
        let actual: Vec<&str> = uri
            .path()
            .trim_end_matches('/')
            .split('/')
            .skip(1)
            .collect();
        let from_path = actual
            .get(actual.len().saturating_sub(pattern.len())..)
            .filter(|tail| tail.len() == pattern.len())
            .and_then(|tail| match_segments(&pattern, tail))
            .filter(|found| {
                found
                    .iter()
                    .all(|(name, raw)| decode(raw) != format!("[{name}]"))
            });
        if let Some(found) = from_path {
            return Some(
                found
                    .into_iter()
                    .map(|(name, raw)| (name, decode(raw)))
                    .collect(),
            );
        }
        let query: Vec<(String, String)> = uri.query().map(parse_query).unwrap_or_default();
        names
            .iter()
            .map(|name| {
                query
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| (*name, value.clone()))
            })
            .collect()
    }
}

/// The route of `routes` that serves `path`, for a process that serves a
/// whole table (`gatehouse dev`, one function for all routes): the whole
/// path matches the route's pattern, as Vercel routes its functions, and
/// when two patterns match, the one with fewer dynamic segments wins
/// (`/api/tasks/export` before `/api/tasks/[id]`). `None` is a 404.
pub fn find_route(routes: &'static [&'static Route], path: &str) -> Option<&'static Route> {
    routes
        .iter()
        .filter_map(|route| route.match_path(path).map(|params| (*route, params.len())))
        .min_by_key(|(_, dynamic)| *dynamic)
        .map(|(route, _)| route)
}

fn dynamic_name(segment: &'static str) -> Option<&'static str> {
    segment.strip_prefix('[')?.strip_suffix(']')
}

fn match_segments<'p>(
    pattern: &[&'static str],
    actual: &[&'p str],
) -> Option<Vec<(&'static str, &'p str)>> {
    let mut params = Vec::new();
    for (expected, got) in pattern.iter().zip(actual) {
        match dynamic_name(expected) {
            Some(name) if !got.is_empty() => params.push((name, *got)),
            Some(_) => return None,
            None if expected == got => {}
            None => return None,
        }
    }
    Some(params)
}

fn decode(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

/// `application/x-www-form-urlencoded` query pairs, decoded.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                decode(&key.replace('+', " ")),
                decode(&value.replace('+', " ")),
            )
        })
        .collect()
}

/// A boolean query parameter (`?all=true`): `true` or `1`, `false` or `0`,
/// in any case; absent is `false`. Any other value is refused (422) rather
/// than read as `false`: `?all=yes` or `?all=on` asking to sign out
/// everywhere must not quietly end only the one credential.
pub fn query_flag(uri: &http::Uri, name: &str) -> Result<bool, RequestError> {
    let mut flag = false;
    for (key, value) in parse_query(uri.query().unwrap_or_default()) {
        if key != name {
            continue;
        }
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" => flag = true,
            "false" | "0" => {}
            _ => {
                return Err(FieldError::new(name, "must be true or false (1 or 0 also do)").into());
            }
        }
    }
    Ok(flag)
}

/// Bodies are JSON: `application/json`, or JSON Merge Patch for `PATCH`.
/// Anything else (a form post, no `Content-Type`) is refused with 415
/// rather than parsed on a guess.
pub fn require_json(ctx: &Ctx) -> Result<(), RequestError> {
    let content_type = ctx
        .request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence == "application/merge-patch+json" {
        Ok(())
    } else {
        Err(RequestError::UnsupportedMediaType {
            content_type: content_type.chars().take(100).collect(),
        })
    }
}

/// What a handler gets: the request, its id, the route's parameters and the
/// process-wide state (configuration, pool).
#[derive(Debug)]
pub struct Ctx {
    pub state: Arc<State>,
    pub request: Request,
    pub request_id: RequestId,
    pub params: Vec<(&'static str, String)>,
}

impl Ctx {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The caller, or the refusal; its subject is recorded on the request's
    /// span. With `scope`, an API key must carry it (users need none).
    pub async fn principal(&self, scope: Option<&str>) -> Result<Principal, RequestError> {
        self.authenticated(scope, false).await
    }

    /// As [`Ctx::principal`], leaving the revocation check to the route's
    /// own statement ([`Principal::deferred_revocation`]), whose result the
    /// route hands to [`Ctx::refuse_revoked`].
    pub async fn principal_deferring_revocation(
        &self,
        scope: Option<&str>,
    ) -> Result<Principal, RequestError> {
        self.authenticated(scope, true).await
    }

    /// The refusal for a caller the route's statement found revoked.
    pub fn refuse_revoked(
        &self,
        principal: &Principal,
        token_revoked_at: Option<f64>,
        subject_not_before: Option<f64>,
    ) -> RequestError {
        let verdict = self.state.authenticator().map(|authenticator| {
            authenticator.check_deferred_revocation(principal, token_revoked_at, subject_not_before)
        });
        match verdict {
            Ok(Err(refusal)) => RequestError::Refused(refusal),
            Ok(Ok(())) => RequestError::Internal(
                "the statement found the caller revoked, the verdict did not".into(),
            ),
            Err(err) => err,
        }
    }

    async fn authenticated(
        &self,
        scope: Option<&str>,
        defer_revocation: bool,
    ) -> Result<Principal, RequestError> {
        let authenticator = self.state.authenticator()?;
        let headers = self.request.headers();
        let principal = if defer_revocation {
            authenticator
                .authenticate_deferring_revocation(headers)
                .await
        } else {
            authenticator.authenticate(headers).await
        }
        .map_err(RequestError::Refused)?;
        tracing::Span::current().record("subject", principal.subject.as_str());
        if let Some(scope) = scope {
            authenticator
                .require_scope(&principal, scope)
                .map_err(RequestError::Refused)?;
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(_: Ctx) -> HandlerFuture {
        Box::pin(async { Err(RequestError::Internal("unused".into())) })
    }

    const fn get(pattern: &'static str) -> Route {
        Route {
            pattern,
            methods: &[Method::GET],
            needs: Needs::NONE,
            handler,
        }
    }

    static DYNAMIC: Route = get("/api/tasks/[id]");
    static NESTED: Route = get("/api/health/detailed");
    static DOTTED: Route = get("/api/openapi.json");
    static PLAIN: Route = get("/api/health");

    #[test]
    fn names_derive_from_the_pattern() {
        assert_eq!(DYNAMIC.source_file(), "api/tasks/[id].rs");
        assert_eq!(DYNAMIC.binary_name(), "tasks-id");
        assert_eq!(NESTED.binary_name(), "health-detailed");
        assert_eq!(NESTED.source_file(), "api/health/detailed.rs");
        assert_eq!(DOTTED.binary_name(), "openapi-json");
        assert_eq!(DOTTED.source_file(), "api/openapi.json.rs");
    }

    #[test]
    fn dynamic_segments_match_whole_paths() {
        assert_eq!(
            DYNAMIC.match_path("/api/tasks/42"),
            Some(vec![("id", "42")])
        );
        assert_eq!(
            DYNAMIC.match_path("/api/tasks/42/"),
            Some(vec![("id", "42")])
        );
        assert_eq!(DYNAMIC.match_path("/api/tasks"), None);
        assert_eq!(DYNAMIC.match_path("/api/tasks/42/x"), None);
        assert_eq!(PLAIN.match_path("/api/health"), Some(vec![]));
        assert_eq!(PLAIN.match_path("/api/healthz"), None);
    }

    static EXPORT: Route = get("/api/tasks/export");
    static TABLE: &[&Route] = &[&PLAIN, &DYNAMIC, &NESTED, &EXPORT, &DOTTED];

    #[test]
    fn a_table_finds_the_route_a_path_names() {
        let found = |path: &str| find_route(TABLE, path).map(|route| route.pattern);
        assert_eq!(found("/api/health"), Some("/api/health"));
        assert_eq!(found("/api/health/"), Some("/api/health"));
        assert_eq!(found("/api/health/detailed"), Some("/api/health/detailed"));
        assert_eq!(found("/api/tasks/42"), Some("/api/tasks/[id]"));
        // A static segment wins over a dynamic one, whatever the order.
        assert_eq!(found("/api/tasks/export"), Some("/api/tasks/export"));
        assert_eq!(found("/api/openapi.json"), Some("/api/openapi.json"));
        for unknown in [
            "/",
            "/api",
            "/api/nope",
            "/api/tasks",
            "/api/tasks/1/x",
            "/prod/api/health",
        ] {
            assert_eq!(found(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn flags_are_true_false_or_refused() {
        let flag = |uri: &str| query_flag(&uri.parse().unwrap(), "all");
        assert!(!flag("/api/auth/logout").unwrap());
        assert!(flag("/api/auth/logout?all=true").unwrap());
        assert!(flag("/api/auth/logout?all=True&x=1").unwrap());
        assert!(flag("/api/auth/logout?all=1").unwrap());
        assert!(!flag("/api/auth/logout?all=false").unwrap());
        assert!(!flag("/api/auth/logout?all=0").unwrap());
        for bad in ["all=yes", "all=", "all", "all=null", "all=true&all=maybe"] {
            assert!(
                matches!(
                    flag(&format!("/api/auth/logout?{bad}")),
                    Err(RequestError::Invalid { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn params_come_from_the_path_then_the_query() {
        let uri: http::Uri = "/api/tasks/42?id=42".parse().unwrap();
        assert_eq!(DYNAMIC.params(&uri), Some(vec![("id", "42".to_owned())]));
        let uri: http::Uri = "/prod/api/tasks/a%20b".parse().unwrap();
        assert_eq!(DYNAMIC.params(&uri), Some(vec![("id", "a b".to_owned())]));
        // The attack: a query parameter naming another resource than the path.
        let uri: http::Uri = "/api/tasks/B?id=A".parse().unwrap();
        assert_eq!(DYNAMIC.params(&uri), Some(vec![("id", "B".to_owned())]));
        // A path that does not carry the value: the query does.
        let uri: http::Uri = "/api/tasks/[id]?id=42".parse().unwrap();
        assert_eq!(DYNAMIC.params(&uri), Some(vec![("id", "42".to_owned())]));
        let uri: http::Uri = "/elsewhere".parse().unwrap();
        assert_eq!(DYNAMIC.params(&uri), None);
    }
}

//! RFC 9457 `application/problem+json` bodies, with Gatehouse's `reason` code.

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::http::types::{Body, Response};
use crate::reason::Reason;

/// A problem document under construction.
#[derive(Debug, Clone)]
pub struct Problem {
    reason: Reason,
    status: StatusCode,
    fields: Map<String, Value>,
    allow: Option<&'static [Method]>,
    headers: Vec<(http::HeaderName, HeaderValue)>,
}

impl Problem {
    pub fn new(reason: Reason) -> Self {
        let status = reason.status();
        let mut fields = Map::new();
        fields.insert(
            "type".into(),
            json!(format!("urn:gatehouse:reason:{}", reason.as_str())),
        );
        fields.insert("title".into(), json!(reason.title()));
        fields.insert("status".into(), json!(status.as_u16()));
        fields.insert("reason".into(), json!(reason.as_str()));
        Self {
            reason,
            status,
            fields,
            allow: None,
            headers: Vec::new(),
        }
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(self, detail: impl Into<String>) -> Self {
        self.extension("detail", Value::String(detail.into()))
    }

    pub fn hint(self, hint: impl Into<String>) -> Self {
        self.extension("hint", Value::String(hint.into()))
    }

    pub fn allow(mut self, allow: &'static [Method]) -> Self {
        self.allow = Some(allow);
        self
    }

    /// An extra response header. Values that are not valid header text are
    /// dropped rather than failing the response.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers
                .push((http::HeaderName::from_static(name), value));
        }
        self
    }

    pub fn extension(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_owned(), value);
        self
    }

    pub fn into_response(mut self, request_id: Option<&str>) -> Response {
        if let Some(id) = request_id {
            self.fields.insert("request_id".into(), json!(id));
        }
        let body = serde_json::to_vec(&self.fields).unwrap_or_default();
        let mut response = http::Response::new(Body::from(body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        if let Some(allow) = self.allow
            && let Ok(value) = HeaderValue::from_str(&allow_list(allow))
        {
            headers.insert(header::ALLOW, value);
        }
        response
    }
}

/// The `Allow` header's value for a route's methods: `HEAD` with `GET`, and
/// `OPTIONS` always.
pub(crate) fn allow_list(allow: &[Method]) -> String {
    let mut list: Vec<&str> = allow.iter().map(Method::as_str).collect();
    if allow.contains(&Method::GET) {
        list.push("HEAD");
    }
    list.push("OPTIONS");
    list.join(", ")
}

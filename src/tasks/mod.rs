//! The reference API's data: per-principal tasks. Requests are parsed here
//! into types that are valid by construction; [`store`] runs the SQL.
//!
//! - Each principal sees only its own tasks ([`owner_of`]); another's task
//!   answers 404, so its existence does not leak.
//! - Updates are conditional: the ETag is the row's version, `PATCH` needs
//!   `If-Match`, and a stale one is refused with 412.
//! - `POST` honours `Idempotency-Key`: a retry replays the first result.

pub mod store;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use gatehouse::auth::Principal;
use gatehouse::auth::identity::Identity;
use gatehouse::error::{FieldError, RequestError};

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;
/// Longest `Idempotency-Key`, as in Stripe's and the IETF draft's practice.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// API-key scopes for the tasks routes. Users need none.
pub const READ_SCOPE: &str = "tasks:read";
pub const WRITE_SCOPE: &str = "tasks:write";

/// Whose tasks a principal sees: its identity, namespace and subject, which
/// every credential of one user shares (a Better Auth user's cookie, bearer
/// token and JWT are all `better-auth:<user id>`), and which another
/// issuer's user of the same `sub` does not. API keys are `api-key:<id>`.
pub fn owner_of(principal: &Principal) -> Identity {
    principal.identity()
}

/// A validated `POST /api/tasks` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub done: bool,
}

impl NewTask {
    pub fn parse(body: &[u8]) -> Result<NewTask, RequestError> {
        let object = json_object(body)?;
        let mut errors = unknown_fields(&object, &["title", "done"]);
        let title = match object.get("title") {
            None => {
                errors.push(FieldError::new("title", "is required"));
                None
            }
            Some(value) => title(value).map_err(|e| errors.push(e)).ok(),
        };
        let done = match object.get("done") {
            None => Some(false),
            Some(value) => boolean("done", value).map_err(|e| errors.push(e)).ok(),
        };
        match (title, done) {
            (Some(title), Some(done)) if errors.is_empty() => Ok(NewTask { title, done }),
            _ => Err(RequestError::Invalid { errors }),
        }
    }

    /// What an `Idempotency-Key` is bound to: the same key with another body
    /// is a client bug, refused rather than replayed.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut hash = Sha256::new();
        hash.update(self.title.as_bytes());
        hash.update([0, u8::from(self.done)]);
        hash.finalize().to_vec()
    }
}

/// A validated `PATCH /api/tasks/[id]` body: at least one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub done: Option<bool>,
}

impl TaskPatch {
    pub fn parse(body: &[u8]) -> Result<TaskPatch, RequestError> {
        let object = json_object(body)?;
        let mut errors = unknown_fields(&object, &["title", "done"]);
        let title = object
            .get("title")
            .and_then(|value| title(value).map_err(|e| errors.push(e)).ok());
        let done = object
            .get("done")
            .and_then(|value| boolean("done", value).map_err(|e| errors.push(e)).ok());
        if errors.is_empty() && object.get("title").is_none() && object.get("done").is_none() {
            errors.push(FieldError::new(
                "body",
                "changes nothing: send `title`, `done` or both",
            ));
        }
        if errors.is_empty() {
            Ok(TaskPatch { title, done })
        } else {
            Err(RequestError::Invalid { errors })
        }
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, RequestError> {
    if body.is_empty() {
        return Err(FieldError::new("body", "is empty: send a JSON object").into());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(FieldError::new(
            "body",
            format!("is a JSON {}, not an object", json_type(&other)),
        )
        .into()),
        Err(err) => Err(FieldError::new("body", format!("is not valid JSON: {err}")).into()),
    }
}

fn unknown_fields(object: &Map<String, Value>, known: &[&str]) -> Vec<FieldError> {
    object
        .keys()
        .filter(|key| !known.contains(&key.as_str()))
        .map(|key| {
            FieldError::new(
                truncate(key, 64),
                format!("is not a field of a task (fields: {})", known.join(", ")),
            )
        })
        .collect()
}

fn title(value: &Value) -> Result<String, FieldError> {
    let Value::String(raw) = value else {
        return Err(FieldError::new(
            "title",
            format!("must be a string, not a JSON {}", json_type(value)),
        ));
    };
    let title = raw.trim();
    if title.is_empty() {
        return Err(FieldError::new("title", "must not be empty"));
    }
    let chars = title.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(FieldError::new(
            "title",
            format!("is {chars} characters; at most {MAX_TITLE_CHARS}"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(FieldError::new(
            "title",
            "must not contain control characters (newlines, tabs, NUL)",
        ));
    }
    Ok(title.to_owned())
}

fn boolean(field: &str, value: &Value) -> Result<bool, FieldError> {
    value.as_bool().ok_or_else(|| {
        FieldError::new(
            field,
            format!("must be true or false, not a JSON {}", json_type(value)),
        )
    })
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A task id from the path. Anything that is not a UUID names no task.
pub fn parse_id(raw: &str) -> Result<Uuid, RequestError> {
    Uuid::parse_str(raw).map_err(|_| not_found())
}

/// The same answer whether the task does not exist or is another's.
pub fn not_found() -> RequestError {
    RequestError::NotFound {
        detail: "no task with this id belongs to you".to_owned(),
    }
}

/// `GET /api/tasks` query: the page size and where to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: i64,
    pub after: Option<Cursor>,
}

impl ListQuery {
    pub fn parse(pairs: &[(String, String)]) -> Result<ListQuery, RequestError> {
        let mut errors = Vec::new();
        let mut query = ListQuery {
            limit: DEFAULT_LIMIT,
            after: None,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "limit" => match value.parse::<i64>() {
                    Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => query.limit = limit,
                    _ => errors.push(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )),
                },
                "cursor" => match Cursor::decode(value) {
                    Some(cursor) => query.after = Some(cursor),
                    None => errors.push(FieldError::new(
                        "cursor",
                        "is not a cursor this API issued: pass `next_cursor` from the previous page unchanged",
                    )),
                },
                other => errors.push(FieldError::new(
                    truncate(other, 64),
                    "is not a query parameter of this route (parameters: limit, cursor)",
                )),
            }
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(RequestError::Invalid { errors })
        }
    }
}

/// Where a page ended: the last task's creation time and id, the listing's
/// total order. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Microseconds since the Unix epoch, Postgres's own precision.
    pub created_micros: i64,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.created_micros, self.id.simple()))
    }

    pub fn decode(raw: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (micros, id) = text.split_once(':')?;
        Some(Cursor {
            created_micros: micros.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// The strong ETag of a task version.
pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// What `If-Match` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current version.
    Any,
    Version(i64),
    /// A list none of whose entries can match this resource (weak or
    /// foreign ETags): always 412.
    Never,
}

impl Precondition {
    /// Parses `If-Match` (RFC 9110: a list of strong ETags, or `*`).
    pub fn parse(raw: &str) -> Precondition {
        let raw = raw.trim();
        if raw == "*" {
            return Precondition::Any;
        }
        raw.split(',')
            .map(str::trim)
            .find_map(|tag| {
                tag.strip_prefix("\"v")?
                    .strip_suffix('"')?
                    .parse()
                    .ok()
                    .map(Precondition::Version)
            })
            .unwrap_or(Precondition::Never)
    }

    pub fn expected_version(self) -> Option<i64> {
        match self {
            Precondition::Version(version) => Some(version),
            Precondition::Any | Precondition::Never => None,
        }
    }
}

/// An `Idempotency-Key`: printable ASCII, at most 255 bytes.
pub fn idempotency_key(raw: &[u8]) -> Result<String, RequestError> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_IDEMPOTENCY_KEY_BYTES
        && raw.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    match std::str::from_utf8(raw) {
        Ok(key) if valid => Ok(key.trim().to_owned()),
        _ => Err(FieldError::new(
            "Idempotency-Key",
            format!(
                "must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} printable ASCII characters, e.g. a UUID"
            ),
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: RequestError) -> Vec<String> {
        match err {
            RequestError::Invalid { errors } => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn new_tasks_are_validated_field_by_field() {
        assert_eq!(
            NewTask::parse(br#"{"title":"  Buy milk ","done":true}"#).unwrap(),
            NewTask {
                title: "Buy milk".into(),
                done: true
            }
        );
        assert_eq!(fields(NewTask::parse(b"{}").unwrap_err()), ["title"]);
        assert_eq!(
            fields(NewTask::parse(br#"{"title":5,"done":"yes","extra":1}"#).unwrap_err()),
            ["extra", "title", "done"]
        );
        assert_eq!(fields(NewTask::parse(b"[1]").unwrap_err()), ["body"]);
        assert_eq!(fields(NewTask::parse(b"{").unwrap_err()), ["body"]);
        let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(501));
        assert_eq!(
            fields(NewTask::parse(long.as_bytes()).unwrap_err()),
            ["title"]
        );
        assert_eq!(
            fields(NewTask::parse(br#"{"title":"a\nb"}"#).unwrap_err()),
            ["title"]
        );
        // SQL-looking text is just a title.
        assert!(NewTask::parse(br#"{"title":"'; DROP TABLE gatehouse_tasks; --"}"#).is_ok());
    }

    #[test]
    fn patches_change_something() {
        assert_eq!(fields(TaskPatch::parse(b"{}").unwrap_err()), ["body"]);
        assert_eq!(
            TaskPatch::parse(br#"{"done":true}"#).unwrap(),
            TaskPatch {
                title: None,
                done: Some(true)
            }
        );
    }

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let cursor = Cursor {
            created_micros: 1_796_000_000_123_456,
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not-a-cursor"), None);
        let query = ListQuery::parse(&[("limit".into(), "101".into())]);
        assert_eq!(fields(query.unwrap_err()), ["limit"]);
    }

    #[test]
    fn if_match_is_read_strictly() {
        assert_eq!(Precondition::parse("\"v3\""), Precondition::Version(3));
        assert_eq!(Precondition::parse("W/\"v3\""), Precondition::Never);
        assert_eq!(
            Precondition::parse("\"x\", \"v7\""),
            Precondition::Version(7)
        );
        assert_eq!(Precondition::parse("*"), Precondition::Any);
        assert_eq!(etag(3), "\"v3\"");
    }
}

/// The property tests of `crates/gatehouse/tests/untrusted_input.rs`, for
/// this app's parsers of attacker bytes (`fuzz/`'s `tasks_input` target).
#[cfg(test)]
mod untrusted_input {
    use proptest::prelude::*;

    use super::{Cursor, NewTask, TaskPatch, idempotency_key};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn task_inputs_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300), raw in any::<String>()) {
            let _ = NewTask::parse(&body);
            let _ = TaskPatch::parse(&body);
            let _ = Cursor::decode(&raw);
            let _ = idempotency_key(&body);
        }

        #[test]
        fn cursors_round_trip(micros in any::<i64>(), id in any::<u128>()) {
            let cursor = Cursor { created_micros: micros, id: uuid::Uuid::from_u128(id) };
            let decoded = Cursor::decode(&cursor.encode()).unwrap();
            prop_assert_eq!(decoded.created_micros, micros);
            prop_assert_eq!(decoded.id, cursor.id);
        }
    }
}

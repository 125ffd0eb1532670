//! The tasks' SQL. Every statement names the owner, so no query can reach
//! another principal's row, and every write is safe to run twice: the pool
//! retries a statement once when its connection turns out dead, and the
//! first attempt may have committed.
//!
//! - `create` calls `gatehouse_task_create` (migration 3), which inserts
//!   under an id chosen per request with `ON CONFLICT DO NOTHING` and reads
//!   the row back, so a re-run returns the first run's task instead of a
//!   second one; with an `Idempotency-Key` it claims the key first, so a
//!   client's retry replays the task;
//! - the hot statements (the page, the insert) are PL/pgSQL functions,
//!   whose plans Postgres keeps per connection: an unnamed statement, which
//!   transaction-mode poolers require, is planned on every call;
//! - `update` marks the row with a per-request id, so a re-run that finds
//!   the expected version gone takes the row as its own earlier success only
//!   when that id is its own; anyone else's change is a 412.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio_postgres::Row;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::{Cursor, ListQuery, NewTask, Precondition, TaskPatch, etag, not_found};
use gatehouse::auth::identity::Identity;
use gatehouse::clock::rfc3339;
use gatehouse::db::{Database, DbError};
use gatehouse::error::RequestError;

/// A task row's columns, in [`StoredTask::from_row`]'s order. Timestamps
/// travel in Postgres's binary form and are formatted here: no `to_char`,
/// `extract` or `jsonb_build_object` per row on the server.
const COLUMNS: &str = "id, title, done, created_at, updated_at, version";

/// One task row: what the API shows, plus its version and cursor position.
#[derive(Debug, Clone)]
pub struct StoredTask {
    pub id: Uuid,
    pub title: String,
    pub done: bool,
    pub created_micros: i64,
    pub updated_micros: i64,
    pub version: i64,
}

/// The task's JSON representation.
#[derive(Debug, Serialize)]
pub struct TaskView<'a> {
    pub id: String,
    pub title: &'a str,
    pub done: bool,
    pub created_at: String,
    pub updated_at: String,
    pub etag: String,
}

impl StoredTask {
    pub fn etag(&self) -> String {
        etag(self.version)
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_micros: self.created_micros,
            id: self.id,
        }
    }

    pub fn view(&self) -> TaskView<'_> {
        TaskView {
            id: self.id.to_string(),
            title: &self.title,
            done: self.done,
            created_at: rfc3339_micros(self.created_micros),
            updated_at: rfc3339_micros(self.updated_micros),
            etag: self.etag(),
        }
    }

    /// The row at `offset`, or `None` when its columns are null (a replayed
    /// key whose task was deleted since).
    fn from_row(row: &Row, offset: usize) -> Result<Option<StoredTask>, DbError> {
        let id: Option<Uuid> = row.try_get(offset).map_err(DbError::Query)?;
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(Some(StoredTask {
            id,
            title: row.try_get(offset + 1).map_err(DbError::Query)?,
            done: row.try_get(offset + 2).map_err(DbError::Query)?,
            created_micros: micros(row.try_get(offset + 3).map_err(DbError::Query)?),
            updated_micros: micros(row.try_get(offset + 4).map_err(DbError::Query)?),
            version: row.try_get(offset + 5).map_err(DbError::Query)?,
        }))
    }
}

/// Microseconds since the Unix epoch, Postgres's own precision.
fn micros(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

fn system_time(micros: i64) -> SystemTime {
    let offset = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    }
}

/// `2026-11-30T02:08:25.123456Z` from microseconds since the epoch.
pub fn rfc3339_micros(micros: i64) -> String {
    let seconds = rfc3339(micros.div_euclid(1_000_000));
    format!(
        "{}.{:06}Z",
        seconds.trim_end_matches('Z'),
        micros.rem_euclid(1_000_000)
    )
}

/// A revocation check the authenticator left to the statement
/// ([`gatehouse::auth::Authenticator::authenticate_deferring_revocation`]): the
/// credential's revocation id and when it was issued. The subject is the
/// owner.
#[derive(Debug, Clone, Copy)]
pub struct DeferredRevocation<'a> {
    pub revocation_id: &'a str,
    pub issued_at: Option<f64>,
}

/// What the statement read when it found the caller revoked, for
/// [`gatehouse::auth::Authenticator::check_deferred_revocation`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Revoked {
    pub token_revoked_at: Option<f64>,
    pub subject_not_before: Option<f64>,
}

impl Revoked {
    /// The revocation columns of a function's row (0 and 1), when set.
    fn from_row(row: &Row) -> Result<Option<Revoked>, DbError> {
        let revoked = Revoked {
            token_revoked_at: row.try_get(0).map_err(DbError::Query)?,
            subject_not_before: row.try_get(1).map_err(DbError::Query)?,
        };
        Ok((revoked != Revoked::default()).then_some(revoked))
    }
}

/// One page of the owner's tasks.
#[derive(Debug, Default)]
pub struct Page {
    /// Oldest first.
    pub tasks: Vec<StoredTask>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
    /// Set, with no tasks, when the deferred revocation check refused.
    pub revoked: Option<Revoked>,
}

/// One page of the owner's tasks, and the cursor of the next page when
/// there is one; one statement, the revocation check included.
pub async fn list(
    db: &Database,
    owner: &Identity,
    query: &ListQuery,
    revocation: Option<DeferredRevocation<'_>>,
) -> Result<Page, DbError> {
    let sql = "SELECT revoked_at, not_before, id, title, done, created_at, updated_at, version
               FROM gatehouse_tasks_page($1, $2, $3, $4, $5, $6)";
    let after = query.after.map(|cursor| system_time(cursor.created_micros));
    let after_id = query.after.map(|cursor| cursor.id);
    // One more than asked: whether a next page exists, without a count.
    let fetch = query.limit + 1;
    let output = db
        .query(
            sql,
            &[
                (&owner.as_str(), Type::TEXT),
                (&after, Type::TIMESTAMPTZ),
                (&after_id, Type::UUID),
                (&fetch, Type::INT8),
                (&revocation.map(|r| r.revocation_id), Type::TEXT),
                (&revocation.and_then(|r| r.issued_at), Type::FLOAT8),
            ],
        )
        .await?;
    let mut page = Page::default();
    for row in &output.rows {
        if let Some(revoked) = Revoked::from_row(row)? {
            page.revoked = Some(revoked);
            return Ok(page);
        }
        if let Some(task) = StoredTask::from_row(row, 2)? {
            page.tasks.push(task);
        }
    }
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    if page.tasks.len() > limit {
        page.tasks.truncate(limit);
        page.next = page.tasks.last().map(StoredTask::cursor);
    }
    Ok(page)
}

pub async fn get(db: &Database, owner: &Identity, id: Uuid) -> Result<Option<StoredTask>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM gatehouse_tasks WHERE id = $1 AND owner = $2");
    match db
        .query_opt(&sql, &[(&id, Type::UUID), (&owner.as_str(), Type::TEXT)])
        .await?
    {
        Some(row) => StoredTask::from_row(&row, 0),
        None => Ok(None),
    }
}

/// A created task, and whether it was replayed for an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct Created {
    pub task: StoredTask,
    pub replayed: bool,
}

/// An `Idempotency-Key` and the fingerprint of the body it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: Vec<u8>,
}

/// Creates the task, unless the deferred revocation check refuses
/// (`Ok(Err(revoked))`): one statement, the check included.
pub async fn create(
    db: &Database,
    owner: &Identity,
    task: &NewTask,
    idempotency: Option<&Idempotency>,
    revocation: Option<DeferredRevocation<'_>>,
) -> Result<Result<Created, Revoked>, RequestError> {
    // Time-ordered (v7): inserts land on the primary key's rightmost page
    // instead of a random one, so checkpoints cost far fewer full-page
    // images in the WAL. The time it reveals is the task's `created_at`.
    let id = Uuid::now_v7();
    let key = idempotency.map(|i| i.key.as_str());
    let fingerprint = idempotency.map(|i| i.fingerprint.as_slice());
    let row = db
        .query_opt(
            "SELECT revoked_at, not_before, replayed, request_hash,
                    id, title, done, created_at, updated_at, version
             FROM gatehouse_task_create($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                (&id, Type::UUID),
                (&owner.as_str(), Type::TEXT),
                (&task.title, Type::TEXT),
                (&task.done, Type::BOOL),
                (&key, Type::TEXT),
                (&fingerprint, Type::BYTEA),
                (&revocation.map(|r| r.revocation_id), Type::TEXT),
                (&revocation.and_then(|r| r.issued_at), Type::FLOAT8),
            ],
        )
        .await?;
    let Some(row) = row else {
        // Only a key's ledger row can be missing: its first request rolled
        // back between our conflict and our read.
        return Err(RequestError::IdempotencyKeyInUse);
    };
    if let Some(revoked) = Revoked::from_row(&row)? {
        return Ok(Err(revoked));
    }
    let replayed: bool = row.try_get(2).map_err(DbError::Query)?;
    if replayed {
        let hash: Option<Vec<u8>> = row.try_get(3).map_err(DbError::Query)?;
        if hash.as_deref() != fingerprint {
            return Err(RequestError::IdempotencyKeyReused);
        }
    }
    match StoredTask::from_row(&row, 4)? {
        Some(task) => Ok(Ok(Created { task, replayed })),
        None => Err(RequestError::NotFound {
            detail: "the task this Idempotency-Key created has been deleted since".to_owned(),
        }),
    }
}

pub async fn update(
    db: &Database,
    owner: &Identity,
    id: Uuid,
    patch: &TaskPatch,
    precondition: Precondition,
) -> Result<StoredTask, RequestError> {
    // This request's mark on the row: a re-run of the statement (the pool
    // retries once on a dead connection) recognises its own earlier write
    // by it, and never another client's.
    let write = Uuid::new_v4();
    if precondition != Precondition::Never {
        let expected = precondition.expected_version();
        let sql = format!(
            "UPDATE gatehouse_tasks
             SET title = COALESCE($3, title), done = COALESCE($4, done),
                 updated_at = clock_timestamp(), version = version + 1, last_write = $6
             WHERE id = $1 AND owner = $2 AND ($5::int8 IS NULL OR version = $5)
             RETURNING {COLUMNS}"
        );
        let row = db
            .query_opt(
                &sql,
                &[
                    (&id, Type::UUID),
                    (&owner.as_str(), Type::TEXT),
                    (&patch.title, Type::TEXT),
                    (&patch.done, Type::BOOL),
                    (&expected, Type::INT8),
                    (&write, Type::UUID),
                ],
            )
            .await?;
        if let Some(row) = row
            && let Some(task) = StoredTask::from_row(&row, 0)?
        {
            return Ok(task);
        }
    }
    let sql = format!(
        "SELECT {COLUMNS}, last_write = $3 FROM gatehouse_tasks WHERE id = $1 AND owner = $2"
    );
    let row = db
        .query_opt(
            &sql,
            &[
                (&id, Type::UUID),
                (&owner.as_str(), Type::TEXT),
                (&write, Type::UUID),
            ],
        )
        .await?
        .ok_or_else(not_found)?;
    let current = StoredTask::from_row(&row, 0)?.ok_or_else(not_found)?;
    let written_by_this_request: Option<bool> = row.try_get(6).map_err(DbError::Query)?;
    if written_by_this_request == Some(true) {
        return Ok(current);
    }
    Err(RequestError::PreconditionFailed {
        current_etag: current.etag(),
    })
}

pub async fn delete(
    db: &Database,
    owner: &Identity,
    id: Uuid,
    precondition: Option<Precondition>,
) -> Result<(), RequestError> {
    if precondition != Some(Precondition::Never) {
        let expected = precondition.and_then(Precondition::expected_version);
        let output = db
            .query(
                "DELETE FROM gatehouse_tasks
                 WHERE id = $1 AND owner = $2 AND ($3::int8 IS NULL OR version = $3)",
                &[
                    (&id, Type::UUID),
                    (&owner.as_str(), Type::TEXT),
                    (&expected, Type::INT8),
                ],
            )
            .await?;
        if output.rows_affected == 1 {
            return Ok(());
        }
    }
    let current = get(db, owner, id).await?.ok_or_else(not_found)?;
    Err(RequestError::PreconditionFailed {
        current_etag: current.etag(),
    })
}

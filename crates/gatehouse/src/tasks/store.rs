//! The tasks' SQL. Every statement names the owner, so no query can reach
//! another principal's row, and every write is safe to run twice: the pool
//! retries a statement once when its connection turns out dead, and the
//! first attempt may have committed.
//!
//! - `create` inserts under an id chosen per request with
//!   `ON CONFLICT DO NOTHING` and reads the row back in the same statement,
//!   so a re-run returns the first run's task instead of a second one;
//! - with an `Idempotency-Key`, the key's ledger row and the task are
//!   inserted by one statement, so a client's retry replays the task;
//! - `update` treats "already at the version after the expected one, with
//!   the requested values" as its own earlier success.

use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::{Cursor, ListQuery, NewTask, Precondition, TaskPatch, etag, not_found};
use crate::db::{Database, DbError};
use crate::error::RequestError;

/// The task as the API shows it, plus its version and cursor position.
const COLUMNS: &str = r#"jsonb_build_object(
        'id', id,
        'title', title,
        'done', done,
        'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'etag', '"v' || version || '"'
    ) AS task,
    version,
    (extract(epoch FROM created_at) * 1000000)::int8 AS created_micros,
    id"#;

/// One task row.
#[derive(Debug, Clone)]
pub struct StoredTask {
    /// The JSON representation, `etag` included.
    pub json: Value,
    pub version: i64,
    pub cursor: Cursor,
}

impl StoredTask {
    pub fn etag(&self) -> String {
        etag(self.version)
    }

    fn from_row(row: &Row, offset: usize) -> Result<Option<StoredTask>, DbError> {
        let json: Option<Value> = row.try_get(offset).map_err(DbError::Query)?;
        let Some(json) = json else {
            return Ok(None);
        };
        Ok(Some(StoredTask {
            json,
            version: row.try_get(offset + 1).map_err(DbError::Query)?,
            cursor: Cursor {
                created_micros: row.try_get(offset + 2).map_err(DbError::Query)?,
                id: row.try_get(offset + 3).map_err(DbError::Query)?,
            },
        }))
    }
}

/// One page of the owner's tasks, oldest first, and the cursor of the next
/// page when there is one.
pub async fn list(
    db: &Database,
    owner: &str,
    query: &ListQuery,
) -> Result<(Vec<StoredTask>, Option<Cursor>), DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM gatehouse_tasks
         WHERE owner = $1
           AND ($2::int8 IS NULL
                OR (created_at, id) > (to_timestamp(0) + $2::float8 * interval '1 microsecond', $3))
         ORDER BY created_at, id
         LIMIT $4"
    );
    let micros = query.after.map(|cursor| cursor.created_micros);
    let after_id = query.after.map(|cursor| cursor.id);
    // One more than asked: whether a next page exists, without a count.
    let fetch = query.limit + 1;
    let output = db
        .query(
            &sql,
            &[
                (&owner, Type::TEXT),
                (&micros, Type::INT8),
                (&after_id, Type::UUID),
                (&fetch, Type::INT8),
            ],
        )
        .await?;
    let mut tasks = Vec::with_capacity(output.rows.len());
    for row in &output.rows {
        if let Some(task) = StoredTask::from_row(row, 0)? {
            tasks.push(task);
        }
    }
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let next = (tasks.len() > limit).then(|| {
        tasks.truncate(limit);
        tasks.last().map(|task| task.cursor)
    });
    Ok((tasks, next.flatten()))
}

pub async fn get(db: &Database, owner: &str, id: Uuid) -> Result<Option<StoredTask>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM gatehouse_tasks WHERE id = $1 AND owner = $2");
    match db
        .query_opt(&sql, &[(&id, Type::UUID), (&owner, Type::TEXT)])
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

pub async fn create(
    db: &Database,
    owner: &str,
    task: &NewTask,
    idempotency: Option<&Idempotency>,
) -> Result<Created, RequestError> {
    let id = Uuid::new_v4();
    let Some(idempotency) = idempotency else {
        let sql = format!(
            "WITH ins AS (
                INSERT INTO gatehouse_tasks (id, owner, title, done) VALUES ($1, $2, $3, $4)
                ON CONFLICT (id) DO NOTHING
                RETURNING {COLUMNS}
             )
             SELECT * FROM ins
             UNION ALL
             SELECT {COLUMNS} FROM gatehouse_tasks
             WHERE id = $1 AND owner = $2 AND NOT EXISTS (SELECT 1 FROM ins)"
        );
        let row = db
            .query_opt(
                &sql,
                &[
                    (&id, Type::UUID),
                    (&owner, Type::TEXT),
                    (&task.title, Type::TEXT),
                    (&task.done, Type::BOOL),
                ],
            )
            .await?;
        let task = match row {
            Some(row) => StoredTask::from_row(&row, 0)?,
            // A re-run waited on the first run's uncommitted row, which then
            // committed after this statement's snapshot: a fresh statement
            // sees it.
            None => get(db, owner, id).await?,
        }
        .ok_or_else(|| RequestError::Internal("an insert returned no task".into()))?;
        return Ok(Created {
            task,
            replayed: false,
        });
    };
    let sql = format!(
        "WITH claim AS (
            INSERT INTO gatehouse_idempotency_keys (owner, key, request_hash, task_id)
            VALUES ($2, $5, $6, $1)
            ON CONFLICT (owner, key) DO NOTHING
            RETURNING task_id
         ), ins AS (
            INSERT INTO gatehouse_tasks (id, owner, title, done)
            SELECT task_id, $2, $3, $4 FROM claim
            RETURNING {COLUMNS}
         )
         SELECT false AS replayed, NULL::bytea AS request_hash, ins.* FROM ins
         UNION ALL
         {}
         AND NOT EXISTS (SELECT 1 FROM claim)",
        replay_sql()
    );
    let params: [crate::db::pool::Param<'_>; 6] = [
        (&id, Type::UUID),
        (&owner, Type::TEXT),
        (&task.title, Type::TEXT),
        (&task.done, Type::BOOL),
        (&idempotency.key, Type::TEXT),
        (&idempotency.fingerprint, Type::BYTEA),
    ];
    let mut row = db.query_opt(&sql, &params).await?;
    if row.is_none() {
        // The key's first request committed after this statement's snapshot
        // was taken: a fresh statement sees it.
        row = db.query_opt(&replay_sql(), &params).await?;
    }
    let Some(row) = row else {
        return Err(RequestError::IdempotencyKeyInUse);
    };
    let replayed: bool = row.try_get(0).map_err(DbError::Query)?;
    if replayed {
        let hash: Option<Vec<u8>> = row.try_get(1).map_err(DbError::Query)?;
        if hash.as_deref() != Some(idempotency.fingerprint.as_slice()) {
            return Err(RequestError::IdempotencyKeyReused);
        }
    }
    match StoredTask::from_row(&row, 2)? {
        Some(task) => Ok(Created { task, replayed }),
        None => Err(RequestError::NotFound {
            detail: "the task this Idempotency-Key created has been deleted since".to_owned(),
        }),
    }
}

/// The ledger row of `($2 owner, $5 key)` and its task, if it still exists.
fn replay_sql() -> String {
    format!(
        "SELECT true AS replayed, k.request_hash, t.*
         FROM gatehouse_idempotency_keys k
         LEFT JOIN LATERAL (
            SELECT {COLUMNS} FROM gatehouse_tasks WHERE id = k.task_id AND owner = k.owner
         ) t ON true
         WHERE k.owner = $2 AND k.key = $5"
    )
}

pub async fn update(
    db: &Database,
    owner: &str,
    id: Uuid,
    patch: &TaskPatch,
    precondition: Precondition,
) -> Result<StoredTask, RequestError> {
    if precondition != Precondition::Never {
        let expected = precondition.expected_version();
        let sql = format!(
            "UPDATE gatehouse_tasks
             SET title = COALESCE($3, title), done = COALESCE($4, done),
                 updated_at = clock_timestamp(), version = version + 1
             WHERE id = $1 AND owner = $2 AND ($5::int8 IS NULL OR version = $5)
             RETURNING {COLUMNS}"
        );
        let row = db
            .query_opt(
                &sql,
                &[
                    (&id, Type::UUID),
                    (&owner, Type::TEXT),
                    (&patch.title, Type::TEXT),
                    (&patch.done, Type::BOOL),
                    (&expected, Type::INT8),
                ],
            )
            .await?;
        if let Some(row) = row
            && let Some(task) = StoredTask::from_row(&row, 0)?
        {
            return Ok(task);
        }
    }
    let current = get(db, owner, id).await?.ok_or_else(not_found)?;
    let already_applied = precondition
        .expected_version()
        .is_some_and(|expected| current.version == expected + 1)
        && patch
            .title
            .as_ref()
            .is_none_or(|title| current.json["title"] == *title.as_str())
        && patch.done.is_none_or(|done| current.json["done"] == done);
    if already_applied {
        return Ok(current);
    }
    Err(RequestError::PreconditionFailed {
        current_etag: current.etag(),
    })
}

pub async fn delete(
    db: &Database,
    owner: &str,
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
                    (&owner, Type::TEXT),
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

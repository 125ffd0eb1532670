//! The process-wide Postgres pool, shaped for serverless hosts.
//!
//! Serverless instances are frozen between requests (Lambda) or sit idle for
//! long stretches (Vercel), and the server, a pooler or a NAT silently drops
//! their idle sockets. So:
//! - connections idle longer than `DATABASE_IDLE_TIMEOUT_SECS` are discarded
//!   at checkout (a thawed instance never gets a dead one) and closed by a
//!   background sweep while the process runs;
//! - a query that fails because its connection died is retried once on a
//!   fresh connection;
//! - every query uses the unnamed-statement path (`query_typed_raw`), so
//!   transaction-mode poolers (PgBouncer, Neon `-pooler`, Supavisor) work;
//! - a statement past `DATABASE_STATEMENT_TIMEOUT_SECS` is cancelled on the
//!   server and its connection discarded.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    Timeouts,
};
use futures_util::StreamExt;
use serde::Serialize;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::DbError;
use super::settings::DatabaseConfig;

/// A query parameter with its type stated, as the unnamed-statement protocol
/// requires (no server round trip to infer it).
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// A pool plus the settings it was built from. Cheap to share behind an `Arc`.
pub struct Database {
    pool: Pool,
    tls: MakeRustlsConnect,
    config: DatabaseConfig,
}

/// What the detailed health route reports.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PoolStatus {
    pub max: usize,
    pub size: usize,
    pub idle: usize,
    pub in_use: usize,
    pub waiting: usize,
}

/// Result of one statement: its rows and, for writes, how many it touched.
#[derive(Debug)]
pub struct QueryOutput {
    pub rows: Vec<Row>,
    pub rows_affected: u64,
}

impl Database {
    /// Builds the pool without connecting. Must be called inside a Tokio
    /// runtime: it starts the idle sweep.
    pub fn new(config: &DatabaseConfig) -> Result<Arc<Self>, DbError> {
        let tls = super::tls::connector(&config.url)?;
        let mut pg = config.url.pg_config().clone();
        pg.connect_timeout(config.connect_timeout);
        let manager = Manager::from_config(
            pg,
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let idle_timeout = config.idle_timeout;
        let pool = Pool::builder(manager)
            .max_size(config.pool_max)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(config.connect_timeout),
                create: Some(config.connect_timeout),
                recycle: Some(config.connect_timeout),
            })
            .pre_recycle(Hook::sync_fn(move |_client, metrics| {
                // `last_used` is the time since the last checkout, which is
                // never shorter than the time the connection sat idle.
                if metrics.last_used() > idle_timeout {
                    Err(HookError::message("idle past DATABASE_IDLE_TIMEOUT_SECS"))
                } else {
                    Ok(())
                }
            }))
            .build()
            .map_err(|err| DbError::Tls(format!("pool could not be built: {err}")))?;
        spawn_idle_sweep(&pool, idle_timeout);
        Ok(Arc::new(Database {
            pool,
            tls,
            config: config.clone(),
        }))
    }

    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    pub fn status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max: status.max_size,
            size: status.size,
            idle: status.available,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
    }

    /// A checked-out connection, for work that needs one connection across
    /// statements (transactions). Prefer [`Database::query`], which retries.
    pub async fn connection(&self) -> Result<Object, DbError> {
        self.pool.get().await.map_err(|err| self.pool_error(err))
    }

    /// Runs one statement, retrying once on a fresh connection when the first
    /// one turns out to be dead. A statement whose connection died mid-flight
    /// may have run: writes that must happen once need an idempotency key.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<QueryOutput, DbError> {
        let client = self.connection().await?;
        match self.run_on(client, sql, params).await {
            Err(Failure::DeadConnection(err)) => {
                tracing::warn!(target: "gatehouse::db", error = %err, "connection was dead; retrying once on a fresh one");
                let client = self.connection().await?;
                self.run_on(client, sql, params)
                    .await
                    .map_err(Failure::into_db_error)
            }
            other => other.map_err(Failure::into_db_error),
        }
    }

    /// Like [`Database::query`], keeping only the first row.
    pub async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.rows.into_iter().next())
    }

    async fn run_on(
        &self,
        client: Object,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<QueryOutput, Failure> {
        let timeout = self.config.statement_timeout;
        let work = async {
            let stream = client
                .query_typed_raw(sql, params.iter().map(|(value, ty)| (*value, ty.clone())))
                .await?;
            collect(stream).await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(err)) if connection_was_dead(&err) => {
                drop(Object::take(client));
                Err(Failure::DeadConnection(err))
            }
            Ok(Err(err)) => Err(Failure::Other(DbError::query(err))),
            Err(_elapsed) => {
                // Stop the work on the server, and never reuse a connection
                // whose protocol state is unknown.
                let cancel = client.cancel_token();
                let tls = self.tls.clone();
                drop(Object::take(client));
                tokio::spawn(async move {
                    let _ = cancel.cancel_query(tls).await;
                });
                Err(Failure::Other(DbError::StatementTimeout { timeout }))
            }
        }
    }

    fn pool_error(&self, err: PoolError) -> DbError {
        let target = self.config.url.display_target();
        match err {
            PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => DbError::PoolExhausted {
                max: self.config.pool_max,
                timeout: self.config.connect_timeout,
            },
            PoolError::Timeout(_) => DbError::ConnectTimeout {
                target,
                timeout: self.config.connect_timeout,
            },
            PoolError::Backend(source) => DbError::Connect { target, source },
            other => DbError::Tls(format!("pool error: {other}")),
        }
    }

    /// Closes every connection now (tests, shutdown).
    pub fn close(&self) {
        self.pool.close();
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("status", &self.status())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Ends the idle sweep, which holds only a weak reference.
        self.pool.close();
    }
}

enum Failure {
    DeadConnection(tokio_postgres::Error),
    Other(DbError),
}

impl Failure {
    fn into_db_error(self) -> DbError {
        match self {
            Failure::DeadConnection(err) => DbError::Query(err),
            Failure::Other(err) => err,
        }
    }
}

/// A connection that was closed, reset, or terminated by an administrator
/// (`pg_terminate_backend`, a failover) is worth one retry elsewhere.
fn connection_was_dead(err: &tokio_postgres::Error) -> bool {
    err.is_closed()
        || err.code() == Some(&SqlState::ADMIN_SHUTDOWN)
        || err.code() == Some(&SqlState::CRASH_SHUTDOWN)
        || err
            .source()
            .is_some_and(|source| source.is::<std::io::Error>())
}

async fn collect(stream: tokio_postgres::RowStream) -> Result<QueryOutput, tokio_postgres::Error> {
    let mut stream = std::pin::pin!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.next().await {
        rows.push(row?);
    }
    let rows_affected = stream.rows_affected().unwrap_or(0);
    Ok(QueryOutput {
        rows,
        rows_affected,
    })
}

/// Closes idle connections while the process runs, so an instance that sits
/// idle does not hold server connection slots. Frozen instances cannot run
/// it; the checkout check covers them.
fn spawn_idle_sweep(pool: &Pool, idle_timeout: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = pool.weak();
    let period = (idle_timeout / 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
    runtime.spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            ticker.tick().await;
            let Some(pool) = weak.upgrade() else { return };
            if pool.is_closed() {
                return;
            }
            let started = Instant::now();
            let result = pool.retain(|_, metrics| metrics.last_used() <= idle_timeout);
            if !result.removed.is_empty() {
                tracing::debug!(
                    target: "gatehouse::db",
                    closed = result.removed.len(),
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "closed idle connections"
                );
            }
        }
    });
}

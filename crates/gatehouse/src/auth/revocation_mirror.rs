//! The revocation mirror: each process keeps the revocation state (revoked
//! token ids until their expiry, subjects' cutoffs) in memory, so checking
//! a credential costs no round trip.
//!
//! It is brought up to date incrementally from Postgres (runtime migration
//! 6, `gatehouse_revocation_changes`: the rows written since the last read)
//! at most once per `REVOCATION_SYNC_MS`, and off the request path while
//! requests keep coming: the first request that finds the state three
//! quarters of that old starts the read in the background and is answered
//! from memory at once. Only a request that finds it older than the whole
//! interval (the first after a quiet spell) waits for the read; concurrent
//! requests share that one query. A revocation
//! through another instance is therefore refused here within
//! `REVOCATION_SYNC_MS`; one through this instance at once, since
//! [`crate::auth::Authenticator::revoke_token`] and
//! [`crate::auth::Authenticator::revoke_subject`] record it here too.
//!
//! When Postgres cannot be read, the last state keeps being served for at
//! most `REVOCATION_MAX_STALENESS_SECS` after the last successful read;
//! past that, credentials that need the check are refused with a 503
//! (`revocation_unavailable`), never accepted blindly and never a 401.
//! Each change of that condition is logged once.
//!
//! The rule applied to what the mirror holds is
//! [`RevocationState::verdict`], the same as everywhere else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_postgres::types::Type;

use crate::auth::refusal::Refusal;
use crate::auth::revocation::RevocationState;
use crate::db::{DbError, LazyDatabase};
use crate::reason::Reason;
use crate::single_flight::Flights;

/// The revocations in force, as last read plus what this process wrote
/// since. Pure data: merging and expiry are unit-tested below.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    tokens: HashMap<String, RevokedToken>,
    cutoffs: HashMap<String, f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct RevokedToken {
    revoked_at: f64,
    expires_at: f64,
}

/// One row of `gatehouse_revocation_changes`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Token {
        id: String,
        revoked_at: f64,
        expires_at: f64,
    },
    Cutoff {
        subject: String,
        not_before: f64,
    },
}

impl Revocations {
    /// Merges a row read from the database. A token's row is the
    /// database's word (it may be read again, unchanged); a cutoff only
    /// ever moves later, as its upsert does, so a read that raced this
    /// process's own newer cutoff never moves it back.
    pub(crate) fn apply(&mut self, change: Change, now: f64) {
        match change {
            Change::Token {
                id,
                revoked_at,
                expires_at,
            } => {
                if expires_at <= now {
                    self.tokens.remove(&id);
                } else {
                    self.tokens.insert(
                        id,
                        RevokedToken {
                            revoked_at,
                            expires_at,
                        },
                    );
                }
            }
            Change::Cutoff {
                subject,
                not_before,
            } => self.record_cutoff(subject, not_before),
        }
    }

    /// A token this process revoked: kept as the database keeps the first
    /// revocation of an id (`ON CONFLICT DO NOTHING`).
    pub(crate) fn record_token(&mut self, id: String, revoked_at: f64, expires_at: f64) {
        self.tokens.entry(id).or_insert(RevokedToken {
            revoked_at,
            expires_at,
        });
    }

    pub(crate) fn record_cutoff(&mut self, subject: String, not_before: f64) {
        let cutoff = self.cutoffs.entry(subject).or_insert(not_before);
        *cutoff = cutoff.max(not_before);
    }

    /// Drops the tokens past their expiry: they are refused as expired.
    pub(crate) fn prune(&mut self, now: f64) {
        self.tokens.retain(|_, token| token.expires_at > now);
    }

    /// What `gatehouse_revocation_state` would answer for this credential.
    pub(crate) fn state_of(&self, token_id: &str, subject: &str, now: f64) -> RevocationState {
        RevocationState {
            token_revoked_at: self
                .tokens
                .get(token_id)
                .filter(|token| token.expires_at > now)
                .map(|token| token.revoked_at),
            subject_not_before: self.cutoffs.get(subject).copied(),
        }
    }

    pub(crate) fn len(&self) -> (usize, usize) {
        (self.tokens.len(), self.cutoffs.len())
    }
}

/// Where the mirror stands, for logging each change once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    /// Never read.
    Cold,
    /// The last read succeeded.
    Fresh,
    /// Reads fail; the last state is served, within the staleness bound.
    Stale,
    /// Past the bound (or never read): checks are refused.
    Unavailable,
}

impl Health {
    fn name(self) -> &'static str {
        match self {
            Health::Cold => "cold",
            Health::Fresh => "fresh",
            Health::Stale => "stale",
            Health::Unavailable => "unavailable",
        }
    }
}

/// Who reads: a request (its failure counts) or the cold-start prefetch
/// (its failure is left for the first request to meet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Request,
    Prefetch,
}

/// Why the last read failed, kept to answer with (no secret in it).
#[derive(Debug, Clone)]
struct Failure {
    schema_outdated: bool,
    detail: String,
    hint: String,
}

impl Failure {
    fn of(err: &DbError) -> Failure {
        Failure {
            schema_outdated: err.is_schema_outdated(),
            detail: err.public_detail(),
            hint: err.hint(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    revocations: Revocations,
    /// The snapshot of the last read (`pg_snapshot` as text), the `since`
    /// of the next; None: never read.
    horizon: Option<String>,
    /// When the snapshot of the last successful read was taken (at most).
    synced_at: Option<Instant>,
    /// When the next read is due from: the last success's start, or the
    /// last failure's end (so an outage is not retried by every request).
    attempted_at: Option<Instant>,
    health: Health,
    last_failure: Option<Failure>,
}

/// Process-wide; owned by the [`crate::auth::Authenticator`].
pub(crate) struct RevocationMirror {
    sync_every: Duration,
    /// From this age on, a request starts the next read in the background.
    read_ahead: Duration,
    max_staleness: Duration,
    inner: RwLock<Inner>,
    flights: Flights<(), ()>,
    /// A background read was started and has not finished: one at a time.
    reading_ahead: AtomicBool,
}

impl std::fmt::Debug for RevocationMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.read();
        f.debug_struct("RevocationMirror")
            .field("sync_every", &self.sync_every)
            .field("max_staleness", &self.max_staleness)
            .field("entries", &inner.revocations.len())
            .field("health", &inner.health)
            .finish()
    }
}

/// One statement: the rows and the next horizon come from one snapshot.
const CHANGES: &str = "SELECT kind, key, at, expires_at, horizon::text FROM gatehouse_revocation_changes($1::text::pg_snapshot)";

fn unix_now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl RevocationMirror {
    pub(crate) fn new(sync_every: Duration, max_staleness: Duration) -> Self {
        RevocationMirror {
            sync_every,
            read_ahead: sync_every.mul_f64(0.75),
            max_staleness,
            inner: RwLock::new(Inner {
                revocations: Revocations::default(),
                horizon: None,
                synced_at: None,
                attempted_at: None,
                health: Health::Cold,
                last_failure: None,
            }),
            flights: Flights::default(),
            reading_ahead: AtomicBool::new(false),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn due(&self) -> bool {
        self.older_than(self.sync_every)
    }

    /// Whether the last attempt (or none) is at least `age` old.
    fn older_than(&self, age: Duration) -> bool {
        self.read()
            .attempted_at
            .is_none_or(|at| at.elapsed() >= age)
    }

    /// The revocation state of one credential: from memory, read again
    /// first (shared with concurrent requests) when older than
    /// `REVOCATION_SYNC_MS`. Refused when the state is older than
    /// `REVOCATION_MAX_STALENESS_SECS`.
    pub(crate) async fn state(
        self: &Arc<Self>,
        database: &Arc<LazyDatabase>,
        token_id: &str,
        subject: &str,
    ) -> Result<RevocationState, Refusal> {
        if self.due() {
            self.flights.run((), || self.sync(database)).await;
            // Still due only when the flight joined was the cold-start read
            // and it failed: read once more, as a request, whose failure counts.
            if self.due() {
                self.flights.run((), || self.sync(database)).await;
            }
        } else if self.older_than(self.read_ahead) {
            self.read_ahead(database);
        }
        {
            let inner = self.read();
            if inner
                .synced_at
                .is_some_and(|at| at.elapsed() <= self.max_staleness)
            {
                return Ok(inner
                    .revocations
                    .state_of(token_id, subject, unix_now_f64()));
            }
        }
        Err(self.unavailable())
    }

    /// The first read, started at cold start so that the first request
    /// finds the state loaded (or joins the read in flight) instead of
    /// opening the first database connection itself. A failure here is
    /// not recorded: the first request makes its own attempt and reports it.
    pub(crate) async fn prepare(&self, database: &LazyDatabase) {
        if self.due() {
            self.flights
                .run((), || self.sync_as(database, Attempt::Prefetch))
                .await;
        }
    }

    /// Starts the next read in the background, unless one is under way:
    /// the request goes on with the state it has, which is within the
    /// interval. A request that reaches the bound meanwhile joins this read
    /// (the same single flight). Its failure counts as a request's: it is
    /// recorded and logged once, and the next attempt waits an interval.
    fn read_ahead(self: &Arc<Self>, database: &Arc<LazyDatabase>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.reading_ahead.swap(true, Ordering::AcqRel) {
            return;
        }
        let mirror = Arc::clone(self);
        let database = Arc::clone(database);
        runtime.spawn(async move {
            mirror
                .flights
                .run((), || {
                    mirror.sync_older_than(&database, Attempt::Request, mirror.read_ahead)
                })
                .await;
            mirror.reading_ahead.store(false, Ordering::Release);
        });
    }

    /// Reads what changed since the last read and merges it. Never fails:
    /// a failure is recorded, and [`RevocationMirror::state`] decides.
    async fn sync(&self, database: &LazyDatabase) {
        self.sync_as(database, Attempt::Request).await;
    }

    async fn sync_as(&self, database: &LazyDatabase, attempt: Attempt) {
        self.sync_older_than(database, attempt, self.sync_every)
            .await;
    }

    /// Reads when the last attempt is at least `age` old (another flight may
    /// have just finished).
    async fn sync_older_than(&self, database: &LazyDatabase, attempt: Attempt, age: Duration) {
        if !self.older_than(age) {
            return;
        }
        let since = self.read().horizon.clone();
        let started = Instant::now();
        let fetched = fetch(database, since.as_deref()).await;
        let read = started.elapsed();
        let now = unix_now_f64();
        let mut inner = self.write();
        match fetched {
            Ok((changes, horizon)) => {
                let rows = changes.len();
                for change in changes {
                    inner.revocations.apply(change, now);
                }
                inner.revocations.prune(now);
                inner.horizon = horizon;
                let outage = inner.synced_at.map(|at| at.elapsed());
                inner.synced_at = Some(started);
                inner.attempted_at = Some(started);
                inner.last_failure = None;
                let (tokens, cutoffs) = inner.revocations.len();
                let was = std::mem::replace(&mut inner.health, Health::Fresh);
                match was {
                    Health::Cold => tracing::info!(
                        target: "gatehouse::auth::revocation",
                        event = "revocation_mirror",
                        state = "loaded",
                        rows,
                        revoked_tokens = tokens,
                        subject_cutoffs = cutoffs,
                        read_ms = read.as_secs_f64() * 1000.0,
                        sync_ms = started.elapsed().as_secs_f64() * 1000.0,
                        "revocation state loaded into memory"
                    ),
                    Health::Stale | Health::Unavailable => tracing::info!(
                        target: "gatehouse::auth::revocation",
                        event = "revocation_mirror",
                        state = "recovered",
                        was = was.name(),
                        rows,
                        revoked_tokens = tokens,
                        subject_cutoffs = cutoffs,
                        stale_for_ms = outage.map_or(0, |d| d.as_millis() as u64),
                        "revocation state read again: checks are current"
                    ),
                    Health::Fresh => {}
                }
            }
            Err(err) if attempt == Attempt::Prefetch => {
                tracing::debug!(
                    target: "gatehouse::auth::revocation",
                    error = %Failure::of(&err).detail,
                    "the revocation state could not be read at cold start; the first request reads it"
                );
            }
            Err(err) => {
                let failure = Failure::of(&err);
                inner.attempted_at = Some(Instant::now());
                let serving = inner
                    .synced_at
                    .is_some_and(|at| at.elapsed() <= self.max_staleness);
                let next = if serving {
                    Health::Stale
                } else {
                    Health::Unavailable
                };
                if inner.health != next {
                    let age_ms = inner.synced_at.map(|at| at.elapsed().as_millis() as u64);
                    let was = std::mem::replace(&mut inner.health, next).name();
                    if serving {
                        tracing::warn!(
                            target: "gatehouse::auth::revocation",
                            event = "revocation_mirror",
                            state = "stale",
                            was,
                            error = %failure.detail,
                            last_sync_age_ms = age_ms,
                            max_staleness_secs = self.max_staleness.as_secs_f64(),
                            "the revocation state could not be read: serving the last one read until it is REVOCATION_MAX_STALENESS_SECS old"
                        );
                    } else {
                        tracing::error!(
                            target: "gatehouse::auth::revocation",
                            event = "revocation_mirror",
                            state = "unavailable",
                            was,
                            error = %failure.detail,
                            last_sync_age_ms = age_ms,
                            max_staleness_secs = self.max_staleness.as_secs_f64(),
                            "the revocation state could not be read and none recent enough is held: credentials that need the check are refused (503)"
                        );
                    }
                }
                inner.last_failure = Some(failure);
            }
        }
    }

    /// The refusal while the state is too old, logging the change once.
    fn unavailable(&self) -> Refusal {
        let mut inner = self.write();
        let age = inner.synced_at.map(|at| at.elapsed());
        let failure = inner.last_failure.clone().unwrap_or_else(|| Failure {
            schema_outdated: false,
            detail: "the revocation state has not been read".to_owned(),
            hint: "retry shortly".to_owned(),
        });
        if inner.health != Health::Unavailable {
            let was = std::mem::replace(&mut inner.health, Health::Unavailable).name();
            tracing::error!(
                target: "gatehouse::auth::revocation",
                event = "revocation_mirror",
                state = "unavailable",
                was,
                error = %failure.detail,
                last_sync_age_ms = age.map(|d| d.as_millis() as u64),
                max_staleness_secs = self.max_staleness.as_secs_f64(),
                "the revocation state is older than REVOCATION_MAX_STALENESS_SECS: credentials that need the check are refused (503)"
            );
        }
        drop(inner);
        if failure.schema_outdated {
            return Refusal::revealing(
                Reason::SchemaOutdated,
                "the revocation tables or functions (gatehouse_revoked_tokens, gatehouse_revocation_changes) are missing from this database: its schema is older than this build",
                "run `gatehouse migrate` against DATABASE_URL, or set TOKEN_REVOCATION=off",
            );
        }
        let held = match age {
            Some(age) => format!(
                "the last one held is {:.1} s old, past REVOCATION_MAX_STALENESS_SECS ({} s)",
                age.as_secs_f64(),
                self.max_staleness.as_secs_f64()
            ),
            None => "none has been read since this instance started".to_owned(),
        };
        Refusal::revealing(
            Reason::RevocationUnavailable,
            format!(
                "whether this credential was revoked cannot be told: the revocation state could not be read from the database ({}), and {held}",
                failure.detail
            ),
            format!(
                "this is our dependency failing, not your credential: retry shortly; {}",
                failure.hint
            ),
        )
    }

    /// A token this process just revoked: refused here from now on.
    pub(crate) fn record_token(&self, token_id: &str, revoked_at: f64, expires_at: f64) {
        self.write()
            .revocations
            .record_token(token_id.to_owned(), revoked_at, expires_at);
    }

    /// A cutoff this process just wrote: in force here from now on.
    pub(crate) fn record_cutoff(&self, subject: &str, not_before: f64) {
        self.write()
            .revocations
            .record_cutoff(subject.to_owned(), not_before);
    }
}

/// The rows written by transactions the snapshot `since` (text; None:
/// everything) did not see, and the snapshot they were read with.
async fn fetch(
    database: &LazyDatabase,
    since: Option<&str>,
) -> Result<(Vec<Change>, Option<String>), DbError> {
    let Some(db) = database.get()? else {
        // Revocation is checked only with DATABASE_URL set.
        return Ok((Vec::new(), since.map(str::to_owned)));
    };
    let rows = db.query(CHANGES, &[(&since, Type::TEXT)]).await?.rows;
    let mut changes = Vec::with_capacity(rows.len());
    let mut horizon = None;
    for row in rows {
        let mut read = || -> Result<(), tokio_postgres::Error> {
            let kind: &str = row.try_get(0)?;
            match kind {
                "t" => changes.push(Change::Token {
                    id: row.try_get(1)?,
                    revoked_at: row.try_get(2)?,
                    expires_at: row.try_get(3)?,
                }),
                "s" => changes.push(Change::Cutoff {
                    subject: row.try_get(1)?,
                    not_before: row.try_get(2)?,
                }),
                _ => horizon = row.try_get::<_, Option<String>>(4)?,
            }
            Ok(())
        };
        read().map_err(DbError::query)?;
    }
    // The function always returns its snapshot; without one the next read
    // starts from the beginning, which is safe.
    Ok((changes, horizon))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str, revoked_at: f64, expires_at: f64) -> Change {
        Change::Token {
            id: id.to_owned(),
            revoked_at,
            expires_at,
        }
    }

    fn cutoff(subject: &str, not_before: f64) -> Change {
        Change::Cutoff {
            subject: subject.to_owned(),
            not_before,
        }
    }

    #[test]
    fn rows_merge_idempotently_and_cutoffs_only_move_later() {
        let mut mirror = Revocations::default();
        mirror.apply(token("jti:a", 10.0, 1000.0), 50.0);
        mirror.apply(cutoff("ns:alice", 40.0), 50.0);
        // Read again (the horizon re-reads rows of transactions that were
        // running): nothing changes.
        mirror.apply(token("jti:a", 10.0, 1000.0), 50.0);
        mirror.apply(cutoff("ns:alice", 40.0), 50.0);
        assert_eq!(mirror.len(), (1, 1));
        let state = mirror.state_of("jti:a", "ns:alice", 50.0);
        assert_eq!(state.token_revoked_at, Some(10.0));
        assert_eq!(state.subject_not_before, Some(40.0));
        // A read that raced a newer local cutoff does not move it back.
        mirror.record_cutoff("ns:alice".to_owned(), 60.0);
        mirror.apply(cutoff("ns:alice", 40.0), 61.0);
        assert_eq!(
            mirror.state_of("x", "ns:alice", 61.0).subject_not_before,
            Some(60.0)
        );
        mirror.apply(cutoff("ns:alice", 70.0), 71.0);
        assert_eq!(
            mirror.state_of("x", "ns:alice", 71.0).subject_not_before,
            Some(70.0)
        );
    }

    #[test]
    fn the_database_row_wins_over_a_local_record_and_the_first_revocation_stays() {
        let mut mirror = Revocations::default();
        mirror.record_token("jti:a".to_owned(), 12.0, 500.0);
        // Revoked again locally: the first revocation stands, as in SQL.
        mirror.record_token("jti:a".to_owned(), 20.0, 900.0);
        assert_eq!(
            mirror.state_of("jti:a", "s", 13.0).token_revoked_at,
            Some(12.0)
        );
        mirror.apply(token("jti:a", 11.5, 500.0), 13.0);
        assert_eq!(
            mirror.state_of("jti:a", "s", 13.0).token_revoked_at,
            Some(11.5)
        );
    }

    #[test]
    fn tokens_leave_at_their_expiry() {
        let mut mirror = Revocations::default();
        mirror.apply(token("jti:a", 10.0, 100.0), 50.0);
        mirror.apply(token("jti:b", 10.0, 200.0), 50.0);
        // Expired: not revoked any more (the token is refused as expired),
        // as gatehouse_revocation_state's `expires_at > now()`.
        assert_eq!(mirror.state_of("jti:a", "s", 100.0).token_revoked_at, None);
        assert_eq!(
            mirror.state_of("jti:a", "s", 99.9).token_revoked_at,
            Some(10.0)
        );
        mirror.prune(150.0);
        assert_eq!(mirror.len(), (1, 0));
        // A row read already past its expiry is not kept.
        mirror.apply(token("jti:c", 10.0, 140.0), 150.0);
        assert_eq!(mirror.len(), (1, 0));
        // Nor a record of one.
        mirror.record_token("jti:d".to_owned(), 10.0, 140.0);
        mirror.prune(150.0);
        assert_eq!(mirror.len(), (1, 0));
    }

    #[test]
    fn the_verdict_is_the_one_rule() {
        let mut mirror = Revocations::default();
        mirror.apply(cutoff("ns:bob", 100.4), 0.0);
        let state = mirror.state_of("jti:none", "ns:bob", 0.0);
        assert!(state.verdict(Some(99.0)).is_some());
        assert!(state.verdict(Some(100.0)).is_none());
        assert!(state.verdict(None).is_some());
        assert!(
            mirror
                .state_of("jti:none", "ns:carol", 0.0)
                .verdict(None)
                .is_none()
        );
    }

    #[tokio::test]
    async fn without_a_read_nothing_is_accepted_and_the_answer_is_a_503() {
        let mirror = Arc::new(RevocationMirror::new(
            Duration::from_millis(0),
            Duration::from_secs(1),
        ));
        let lazy = Arc::new(LazyDatabase::new(None));
        // No database at all: the read returns nothing and succeeds.
        assert!(mirror.state(&lazy, "jti:a", "s").await.is_ok());
        let never = Arc::new(RevocationMirror::new(
            Duration::from_secs(60),
            Duration::from_secs(60),
        ));
        never.write().attempted_at = Some(Instant::now());
        let refused = never.state(&lazy, "jti:a", "s").await.unwrap_err();
        assert_eq!(refused.reason, Reason::RevocationUnavailable);
    }

    #[tokio::test]
    async fn past_three_quarters_of_the_interval_the_read_starts_in_the_background() {
        let mirror = Arc::new(RevocationMirror::new(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ));
        let lazy = Arc::new(LazyDatabase::new(None));
        let synced = Instant::now() - Duration::from_millis(800);
        {
            let mut inner = mirror.write();
            inner.attempted_at = Some(synced);
            inner.synced_at = Some(synced);
        }
        // Answered from memory, without waiting for the read...
        assert!(mirror.state(&lazy, "jti:a", "s").await.is_ok());
        // ...which runs in the background (no database: it reads nothing).
        for _ in 0..100 {
            if mirror.read().attempted_at != Some(synced)
                && !mirror.reading_ahead.load(Ordering::Acquire)
            {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(mirror.read().attempted_at > Some(synced), "no read ahead");
        assert!(!mirror.reading_ahead.load(Ordering::Acquire));
        // Before three quarters, nothing starts.
        let fresh = Instant::now();
        mirror.write().attempted_at = Some(fresh);
        assert!(mirror.state(&lazy, "jti:a", "s").await.is_ok());
        tokio::task::yield_now().await;
        assert_eq!(mirror.read().attempted_at, Some(fresh));
    }
}

//! Reliability of writes (issue 5 §6), through the compiled `tasks` function
//! over HTTP: a task write that was acknowledged (201) is never lost, not
//! when the function's database connections are killed mid-request and not
//! when Postgres restarts or crashes; a POST retried with the same
//! `Idempotency-Key` creates one task, not two.
//!
//! Every failure a client sees along the way must be a 503 problem document
//! (never a 500, never a hang), and a retry with the same key must end in the
//! one task. Each test fails, rather than passes, when its fault never
//! actually hit a request.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::auth::{bearer, now, start, unique_secret};
use crate::support::db::TestDb;
use crate::support::function::{VercelFunction, block_on};
use crate::support::http_client::{Response, send};
use crate::support::mint::{jose, secret_spec};
use crate::support::pg_cluster::{Outage, PgCluster};
use crate::support::tcp_proxy::Proxy;
use crate::tasks::TASKS;

/// The refusals a database outage may produce: the insert's, and the
/// revocation check's that runs before it.
const OUTAGE_REASONS: [&str; 2] = ["database_unavailable", "session_store_unavailable"];

/// The longest any single request may take, fault or not.
const MAX_REQUEST: Duration = Duration::from_secs(10);

/// What the pool logs when it retries a statement on a fresh connection.
const POOL_RETRY_LOG: &str = "connection was dead";

/// One `POST /api/tasks` and what came of it.
#[derive(Debug, Clone)]
struct Attempt {
    key: Option<String>,
    at: Instant,
    elapsed: Duration,
    /// 201 or 503; anything else fails the test where it is received.
    status: u16,
    /// The task's id on 201.
    id: Option<String>,
    replayed: bool,
}

impl Attempt {
    fn acknowledged(&self) -> bool {
        self.status == 201
    }
}

/// A client of one `tasks` function, as one principal.
struct Client {
    addr: SocketAddr,
    authorization: String,
}

impl Client {
    fn new(function: &VercelFunction, secret: &str, subject: &str) -> Client {
        let token = jose(&[secret_spec(
            "HS256",
            secret,
            &json!({ "sub": subject, "exp": now() + 3600 }),
        )])
        .remove(0);
        Client {
            addr: function.addr(),
            authorization: bearer(&token),
        }
    }

    /// Posts `title` (with `key` as its `Idempotency-Key`) and checks the
    /// answer's shape: a 201 carrying the task, or a 503 problem document
    /// naming the outage. Anything else panics with the response.
    #[track_caller]
    fn post(&self, key: Option<&str>, title: &str) -> Attempt {
        let mut headers = vec![
            ("authorization", self.authorization.as_str()),
            ("content-type", "application/json"),
        ];
        if let Some(key) = key {
            headers.push(("idempotency-key", key));
        }
        let body = json!({ "title": title }).to_string();
        let at = Instant::now();
        let response = send(self.addr, "POST", "/api/tasks", &headers, &body);
        let elapsed = at.elapsed();
        assert!(
            elapsed < MAX_REQUEST,
            "a POST took {elapsed:?} (at most {MAX_REQUEST:?}): {response}"
        );
        let mut attempt = Attempt {
            key: key.map(str::to_owned),
            at,
            elapsed,
            status: response.status,
            id: None,
            replayed: response.header("idempotent-replayed") == Some("true"),
        };
        match response.status {
            201 => {
                let task = response.json();
                assert_eq!(task["title"], title, "{response}");
                attempt.id = Some(task["id"].as_str().unwrap().to_owned());
            }
            503 => assert_outage(&response),
            _ => panic!("a write during a database fault must be a 201 or a 503: {response}"),
        }
        attempt
    }

    /// Every task of this principal, through `GET /api/tasks`, page by page.
    #[track_caller]
    fn list(&self) -> BTreeMap<String, String> {
        let mut tasks = BTreeMap::new();
        let mut path = "/api/tasks?limit=100".to_owned();
        for _page in 0..100 {
            let response = send(
                self.addr,
                "GET",
                &path,
                &[("authorization", self.authorization.as_str())],
                "",
            );
            assert_eq!(response.status, 200, "{response}");
            let body = response.json();
            for item in body["items"].as_array().unwrap() {
                tasks.insert(
                    item["id"].as_str().unwrap().to_owned(),
                    item["title"].as_str().unwrap().to_owned(),
                );
            }
            match body["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/tasks?limit=100&cursor={cursor}"),
                None => return tasks,
            }
        }
        panic!("more than 100 pages of tasks");
    }
}

/// A 503 problem document naming the database outage, with its request id.
#[track_caller]
fn assert_outage(response: &Response) {
    assert_eq!(response.status, 503, "{response}");
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json"),
        "a refusal is a problem document: {response}"
    );
    let body = response.json();
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        OUTAGE_REASONS.contains(&reason),
        "a database fault is answered with one of {OUTAGE_REASONS:?}: {response}"
    );
    assert_eq!(body["request_id"].as_str(), Some(response.request_id()));
}

/// Keys and the task each one's first 201 acknowledged; panics if a later
/// 201 for the same key named another task.
#[track_caller]
fn acknowledged(attempts: &[Attempt]) -> BTreeMap<String, String> {
    let mut acked: BTreeMap<String, String> = BTreeMap::new();
    for attempt in attempts.iter().filter(|attempt| attempt.acknowledged()) {
        let (Some(key), Some(id)) = (&attempt.key, &attempt.id) else {
            continue;
        };
        let first = acked.entry(key.clone()).or_insert_with(|| id.clone());
        assert_eq!(
            first, id,
            "Idempotency-Key {key} acknowledged two different tasks"
        );
    }
    acked
}

/// Posts `title` under `key` until it is acknowledged, at most `tries`
/// times; returns every attempt.
#[track_caller]
fn post_until_acknowledged(client: &Client, key: &str, title: &str, tries: usize) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    for _ in 0..tries {
        let attempt = client.post(Some(key), title);
        let done = attempt.acknowledged();
        attempts.push(attempt);
        if done {
            return attempts;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "POST with Idempotency-Key {key} not acknowledged in {tries} tries: {:?}",
        attempts.last()
    );
}

/// Re-sends every acknowledged key after the fault: each must replay the
/// task it first acknowledged.
#[track_caller]
fn assert_replays(
    client: &Client,
    acked: &BTreeMap<String, String>,
    titles: &BTreeMap<String, String>,
) {
    for (key, id) in acked {
        let retry = client.post(Some(key), &titles[key]);
        assert_eq!(retry.status, 201, "replay of {key}: {retry:?}");
        assert!(retry.replayed, "a retry after a 201 replays: {retry:?}");
        assert_eq!(
            retry.id.as_ref(),
            Some(id),
            "replay of {key} names another task"
        );
    }
}

/// `(id, title)` of every task, and the number of Idempotency-Key rows, read
/// over a direct connection (no proxy, no pool).
async fn stored(url: &str) -> (BTreeMap<String, String>, i64) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|err| panic!("connect to {url}: {err}"));
    tokio::spawn(connection);
    let tasks = client
        .query("SELECT id::text, title FROM gatehouse_tasks", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let keys: i64 = client
        .query_one("SELECT count(*) FROM gatehouse_idempotency_keys", &[])
        .await
        .unwrap()
        .get(0);
    (tasks, keys)
}

/// Exactly the acknowledged tasks are stored, one per key, with their
/// titles, and the warm function lists them all.
#[track_caller]
fn assert_every_write_kept(
    url: &str,
    client: &Client,
    acked: &BTreeMap<String, String>,
    titles: &BTreeMap<String, String>,
) {
    let expected: BTreeMap<String, String> = acked
        .iter()
        .map(|(key, id)| (id.clone(), titles[key].clone()))
        .collect();
    let (tasks, keys) = block_on(stored(url));
    let lost: Vec<_> = expected
        .keys()
        .filter(|id| !tasks.contains_key(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged tasks lost: {lost:?}");
    let extra: Vec<_> = tasks
        .iter()
        .filter(|(id, _)| !expected.contains_key(*id))
        .collect();
    assert!(
        extra.is_empty(),
        "tasks no 201 acknowledged (a key created two?): {extra:?}"
    );
    assert_eq!(tasks, expected, "stored titles differ");
    assert_eq!(
        keys,
        i64::try_from(acked.len()).unwrap(),
        "one ledger row per key"
    );
    assert_eq!(
        client.list(),
        expected,
        "GET /api/tasks lists every task once"
    );
}

/// The address a `postgres://` URL points at.
pub(crate) fn server_addr(url: &str) -> SocketAddr {
    let config: tokio_postgres::Config = url.parse().unwrap();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    (host.as_str(), port)
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap_or_else(|| panic!("{host} resolves to no address"))
}

/// `url` with its host and port replaced by `127.0.0.1:<port>`.
pub(crate) fn through_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"));
    format!(
        "{scheme}://{}127.0.0.1:{port}{path}",
        user.unwrap_or_default()
    )
}

/// A runtime for the proxy's tasks, running on its own threads while the
/// test drives the function synchronously.
pub(crate) fn proxy_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The `tasks` function reaching `db` through a fresh proxy.
fn behind_proxy(
    runtime: &tokio::runtime::Runtime,
    db: &TestDb,
    secret: &str,
) -> (Proxy, VercelFunction) {
    let proxy = runtime.block_on(Proxy::start(server_addr(&db.url)));
    let url = through_port(&db.url, proxy.port);
    let function = start(
        TASKS,
        &[("DATABASE_URL", url.as_str()), ("JWT_SECRET", secret)],
    );
    (proxy, function)
}

#[test]
fn acknowledged_posts_survive_connections_killed_mid_request() {
    const KEYS: usize = 120;
    const WORKERS: usize = 3;
    const TRIES_UNDER_FIRE: usize = 8;
    let started = Instant::now();
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let runtime = proxy_runtime();
    let secret = unique_secret("reliability");
    let (proxy, function) = behind_proxy(&runtime, &db, &secret);
    let client = Client::new(&function, &secret, "ada");
    assert_eq!(client.list().len(), 0, "the pool is warm before the kills");

    let keys: Vec<String> = (0..KEYS)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let titles: BTreeMap<String, String> = keys
        .iter()
        .enumerate()
        .map(|(n, key)| (key.clone(), format!("killed mid-request {n}")))
        .collect();
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut attempts, kills) = std::thread::scope(|scope| {
        // Kills at a few milliseconds' interval, mostly at once (a statement
        // may be in flight, and commit, while its answer is lost), every
        // fourth silently (the connection dies at its next write).
        let killer = scope.spawn(|| {
            let mut kills = 0u64;
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                if kills % 4 == 3 {
                    proxy.kill_existing();
                } else {
                    proxy.kill_now();
                }
                kills += 1;
                std::thread::sleep(Duration::from_micros(8_000 + (kills * 7_919) % 20_000));
            }
            kills
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let (client, keys, titles) = (&client, &keys, &titles);
                scope.spawn(move || {
                    let mut attempts = Vec::new();
                    for key in keys.iter().skip(worker).step_by(WORKERS) {
                        for _ in 0..TRIES_UNDER_FIRE {
                            let attempt = client.post(Some(key), &titles[key]);
                            let done = attempt.acknowledged();
                            attempts.push(attempt);
                            if done || Instant::now() > deadline {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                    attempts
                })
            })
            .collect();
        let attempts: Vec<Attempt> = workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect();
        stop.store(true, Ordering::SeqCst);
        (attempts, killer.join().unwrap())
    });
    let under_fire = attempts.len();
    let first_tries_failed = keys
        .iter()
        .filter(|key| {
            attempts
                .iter()
                .find(|attempt| attempt.key.as_ref() == Some(*key))
                .is_some_and(|attempt| !attempt.acknowledged())
        })
        .count();
    let failures = attempts
        .iter()
        .filter(|attempt| !attempt.acknowledged())
        .count();
    // Acknowledged before the client ever asked again: the pool's own retry
    // found the first run committed.
    let replayed_by_pool = keys
        .iter()
        .filter(|key| {
            attempts
                .iter()
                .find(|attempt| attempt.key.as_ref() == Some(*key))
                .is_some_and(|attempt| attempt.acknowledged() && attempt.replayed)
        })
        .count();

    // The kills have stopped: keys never acknowledged are retried, same key.
    let unacked: Vec<String> = keys
        .iter()
        .filter(|key| !acknowledged(&attempts).contains_key(*key))
        .cloned()
        .collect();
    for key in &unacked {
        attempts.extend(post_until_acknowledged(&client, key, &titles[key], 10));
    }
    let acked = acknowledged(&attempts);
    assert_eq!(acked.len(), KEYS, "every key acknowledged in the end");
    // Keys whose first 201 was a replay: a run whose answer was lost had
    // committed, and the retry returned its task instead of a second one.
    let committed_unanswered = keys
        .iter()
        .filter(|key| {
            attempts
                .iter()
                .find(|attempt| attempt.key.as_ref() == Some(*key) && attempt.acknowledged())
                .is_some_and(|attempt| attempt.replayed)
        })
        .count();
    assert_replays(&client, &acked, &titles);
    assert_every_write_kept(&db.url, &client, &acked, &titles);

    let killed = proxy.killed.load(Ordering::SeqCst);
    let in_flight = proxy.killed_in_flight.load(Ordering::SeqCst);
    let accepted = proxy.accepted.load(Ordering::SeqCst);
    let pool_retries = function.process.stderr().matches(POOL_RETRY_LOG).count();
    let slowest = attempts
        .iter()
        .map(|attempt| attempt.elapsed)
        .max()
        .unwrap_or_default();
    eprintln!(
        "killed mid-request: {KEYS} keys, {under_fire} POSTs under {kills} kills \
         ({killed} connections closed, {in_flight} with a statement in flight, {accepted} accepted), \
         {failures} answered 503 ({first_tries_failed} first tries), {replayed_by_pool} first tries \
         replayed by the pool's retry, {committed_unanswered} keys first acknowledged by a replay, \
         {pool_retries} pool retries logged, {} retried after the kills; \
         slowest POST {slowest:?}; {:?} in all",
        unacked.len(),
        started.elapsed()
    );
    assert!(
        in_flight > 0 && accepted > 1,
        "no kill hit a statement in flight ({killed} connections killed, {accepted} accepted): \
         the test proved nothing; kill more often"
    );
    assert!(
        failures + pool_retries > 0,
        "no request noticed a kill (no 503, no pool retry): the test proved nothing"
    );
}

/// Installs a trigger that holds every insert of a task whose title starts
/// with `slow` for 1.5 s before its statement commits.
const SLOW_INSERTS: &str = "
    CREATE FUNCTION reliability_slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$;
    CREATE TRIGGER reliability_slow_insert AFTER INSERT ON gatehouse_tasks
    FOR EACH ROW WHEN (NEW.title LIKE 'slow%') EXECUTE FUNCTION reliability_slow_insert();";

/// Posts a `slow` task through the proxy and kills every connection once
/// the insert is running on the server: it goes on and commits, its answer
/// is lost, and the pool retries the statement on a fresh connection while
/// the first run still holds its row. Returns the response, the database,
/// the connections killed in flight, and the pool retries logged.
fn killed_while_committing(key: Option<&str>, title: &str) -> (Attempt, TestDb, usize, usize) {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    block_on(db.execute(SLOW_INSERTS));
    let runtime = proxy_runtime();
    let secret = unique_secret("reliability");
    let (proxy, function) = behind_proxy(&runtime, &db, &secret);
    let client = Client::new(&function, &secret, "ada");
    // Connected on the proxy's runtime, which keeps running its connection.
    let watcher = runtime.block_on(async {
        let (watcher, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        watcher
    });
    let posted = std::thread::scope(|scope| {
        let poster = scope.spawn(|| client.post(key, title));
        // Wait until the insert sleeps in the trigger, then kill.
        let deadline = Instant::now() + Duration::from_secs(10);
        let sql = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND wait_event = 'PgSleep'",
            db.name
        );
        loop {
            let sleeping: i64 = runtime
                .block_on(watcher.query_one(&sql, &[]))
                .unwrap()
                .get(0);
            if sleeping > 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the insert never reached the server"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        proxy.kill_now();
        poster.join()
    });
    let Ok(attempt) = posted else {
        panic!("the POST was answered neither 201 nor 503: see the panic above");
    };
    let in_flight = proxy.killed_in_flight.load(Ordering::SeqCst);
    let retries = function.process.stderr().matches(POOL_RETRY_LOG).count();
    drop(function);
    (attempt, db, in_flight, retries)
}

#[test]
fn a_post_killed_while_committing_is_replayed_not_duplicated() {
    let key = uuid::Uuid::new_v4().to_string();
    let title = "slow, keyed";
    let (attempt, db, in_flight, retries) = killed_while_committing(Some(&key), title);
    assert!(in_flight > 0, "the kill missed the statement in flight");
    assert!(retries > 0, "the pool did not retry the statement");
    assert_eq!(attempt.status, 201, "{attempt:?}");
    // The answer came from the pool's retry, which found the first run's
    // task under the key: replayed, not created again.
    assert!(attempt.replayed, "{attempt:?}");
    let (tasks, keys) = block_on(stored(&db.url));
    let id = attempt.id.unwrap();
    assert_eq!(tasks, BTreeMap::from([(id, title.to_owned())]));
    assert_eq!(keys, 1);
}

/// The same fault without an `Idempotency-Key`. `store::create` re-runs the
/// insert under the same id; when the first run commits while the re-run
/// waits on its row, the re-run's `ON CONFLICT DO NOTHING` skips and its own
/// read sees a snapshot from before that commit, so the row is read again in
/// a fresh statement (this test caught the 500 that answered before).
#[test]
fn a_post_without_a_key_killed_while_committing_is_acknowledged_once() {
    let title = "slow, no key";
    let (attempt, db, in_flight, retries) = killed_while_committing(None, title);
    assert!(in_flight > 0 && retries > 0, "the kill missed");
    assert_eq!(attempt.status, 201, "{attempt:?}");
    let (tasks, _) = block_on(stored(&db.url));
    assert_eq!(
        tasks,
        BTreeMap::from([(attempt.id.unwrap(), title.to_owned())])
    );
}

/// A writer posting new keys one after another, each until acknowledged,
/// until `stop` is set; every attempt goes to `log`.
fn write_continuously(
    client: &Client,
    stop: &AtomicBool,
    log: &Mutex<Vec<Attempt>>,
    titles: &Mutex<BTreeMap<String, String>>,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0.. {
        if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
            return;
        }
        let key = uuid::Uuid::new_v4().to_string();
        let title = format!("under load {n}");
        titles.lock().unwrap().insert(key.clone(), title.clone());
        // The same key until it is acknowledged, however long the outage.
        while Instant::now() < deadline {
            let attempt = client.post(Some(&key), &title);
            let done = attempt.acknowledged();
            log.lock().unwrap().push(attempt);
            if done {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether `condition` holds within two seconds (a log line may still be on
/// its way from the child's stderr).
fn wait_for(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn acknowledged_writes_survive(outage: Outage) {
    let started = Instant::now();
    let cluster = PgCluster::start();
    let name = "gatehouse_reliability";
    block_on(cluster.create_migrated_database(name));
    let url = cluster.url(name);
    let secret = unique_secret("restart");
    let mut function = start(
        TASKS,
        &[
            ("DATABASE_URL", url.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "2"),
        ],
    );
    let client = Client::new(&function, &secret, "ada");
    let boot_time = || {
        block_on(async {
            let row = cluster
                .connect(name)
                .await
                .query_one("SELECT pg_postmaster_start_time()::text", &[])
                .await
                .unwrap();
            row.get::<_, String>(0)
        })
    };
    let first_boot = boot_time();

    // Acknowledged before anything happens.
    let titles: Mutex<BTreeMap<String, String>> = Mutex::default();
    let log: Mutex<Vec<Attempt>> = Mutex::default();
    for n in 0..10 {
        let key = uuid::Uuid::new_v4().to_string();
        let title = format!("before {n}");
        let attempts = post_until_acknowledged(&client, &key, &title, 1);
        titles.lock().unwrap().insert(key, title);
        log.lock().unwrap().extend(attempts);
    }

    // The pool's "connection was dead; retrying" events: how a fault that no
    // client saw as a 503 still shows it met the requests.
    let pool_retries = || function.process.stderr().matches(POOL_RETRY_LOG).count();
    let retries_before_outage = pool_retries();

    // The outage under load: a writer keeps posting through it.
    let stop = AtomicBool::new(false);
    let (down_at, up_at) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| write_continuously(&client, &stop, &log, &titles));
        let acks = || {
            log.lock()
                .unwrap()
                .iter()
                .filter(|a| a.acknowledged())
                .count()
        };
        let before = acks();
        let until = Instant::now() + Duration::from_secs(20);
        while acks() < before + 5 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        let down_at = Instant::now();
        cluster.outage(outage, Duration::from_millis(500));
        let up_at = Instant::now();
        let acked_after = || {
            log.lock()
                .unwrap()
                .iter()
                .filter(|a| a.at > up_at && a.acknowledged())
                .count()
        };
        let until = Instant::now() + Duration::from_secs(20);
        while acked_after() < 5 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        (down_at, up_at)
    });
    let second_boot = boot_time();
    assert_ne!(first_boot, second_boot, "the server did not restart");
    let under_load: Vec<Attempt> = log.lock().unwrap().clone();
    let during = under_load
        .iter()
        .filter(|a| a.at >= down_at && a.at <= up_at)
        .count();
    let refused = under_load.iter().filter(|a| !a.acknowledged()).count();
    // After the server is back, the warm function recovers at once: its
    // pool drops the dead connections instead of failing on them.
    let after: Vec<&Attempt> = under_load.iter().filter(|a| a.at > up_at).collect();
    let recovered_in = after.iter().position(|a| a.acknowledged());
    assert!(
        recovered_in.is_some_and(|n| n < 3),
        "no 201 within 3 attempts after the server came back: {after:?}"
    );
    let retried_keys = {
        let refused_keys: BTreeSet<&String> = under_load
            .iter()
            .filter(|a| !a.acknowledged())
            .filter_map(|a| a.key.as_ref())
            .collect();
        refused_keys.len()
    };
    if outage == Outage::Crash {
        assert!(
            refused > 0 && retried_keys > 0,
            "the writer never hit the crash ({during} attempts while it was down): the test proved nothing"
        );
    }
    // Whatever the outage, it met the writer: refused requests, or dead
    // pooled connections retried on fresh ones.
    let met_under_load = wait_for(|| refused > 0 || pool_retries() > retries_before_outage);
    assert!(
        met_under_load,
        "the {outage:?} never met a request ({during} attempts while it was down, no 503, no pool retry): the test proved nothing"
    );

    // Again with the function idle: its pooled connections all belong to
    // the server that went away; the next write must still land, once.
    // The fault must land: the idle function holds pooled connections to the
    // server about to go away (the server closes them as it stops; the pool
    // must notice, drop them and connect anew, not hand one out).
    let pooled = block_on(async {
        let row = cluster
            .connect(name)
            .await
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND backend_type = 'client backend'
                    AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    });
    assert!(
        pooled > 0,
        "the idle function held no connection to the server: its restart proved nothing"
    );
    cluster.outage(outage, Duration::from_millis(200));
    assert_ne!(boot_time(), second_boot, "the server did not restart");
    let key = uuid::Uuid::new_v4().to_string();
    let title = "after an idle restart".to_owned();
    let idle = post_until_acknowledged(&client, &key, &title, 5);
    titles.lock().unwrap().insert(key, title);
    log.lock().unwrap().extend(idle.iter().cloned());
    assert!(
        function.process.exit_status().is_none(),
        "the function exited\n{}",
        function.process.report()
    );

    let attempts = log.lock().unwrap().clone();
    let titles = titles.into_inner().unwrap();
    let acked = acknowledged(&attempts);
    assert_eq!(
        acked.len(),
        titles.len(),
        "every key acknowledged in the end"
    );
    assert_replays(&client, &acked, &titles);
    assert_every_write_kept(&url, &client, &acked, &titles);
    eprintln!(
        "{outage:?}: {} keys acknowledged, {} POSTs under load ({during} while down, {refused} answered 503 \
         on {retried_keys} keys, first 201 after recovery at attempt {}), {} tries after the idle outage, \
         {} pool retries logged; {:?} in all",
        acked.len(),
        under_load.len(),
        recovered_in.unwrap_or_default() + 1,
        idle.len(),
        function.process.stderr().matches(POOL_RETRY_LOG).count(),
        started.elapsed()
    );
}

#[test]
fn acknowledged_posts_survive_a_postgres_restart() {
    acknowledged_writes_survive(Outage::FastRestart);
}

#[test]
fn acknowledged_posts_survive_a_postgres_crash() {
    acknowledged_writes_survive(Outage::Crash);
}

#[test]
fn proxy_urls_keep_credentials_and_database() {
    assert_eq!(
        through_port("postgres://u:p@db.example:6543/name?sslmode=disable", 7),
        "postgres://u:p@127.0.0.1:7/name?sslmode=disable"
    );
    assert_eq!(
        through_port("postgres://127.0.0.1/x", 9),
        "postgres://127.0.0.1:9/x"
    );
}

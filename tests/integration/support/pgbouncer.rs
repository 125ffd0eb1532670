//! A real PgBouncer of the test's own in front of the shared PostgreSQL, in
//! `pool_mode = transaction`, as serverless deployments reach Postgres
//! (Neon's `-pooler` hosts and Supabase's Supavisor on 6543 pool by
//! transaction; RDS Proxy pins otherwise). One server connection per
//! database, so every client connection of every function takes turns on
//! it: anything that leans on session state (a named prepared statement, a
//! session `SET`, a session advisory lock, a temporary table) breaks or
//! leaks here. Stopped on drop, also when the test panics.
//!
//! PgBouncer refuses to run as root: as root (containers, CI images) it is
//! run as the `postgres` user, who then owns its directory.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use super::db::admin_url;
use super::function::{TempDir, free_port};
use super::pg_cluster::{postgres_user, running_as_root};

const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PgBouncer {
    child: Child,
    dir: TempDir,
    pub port: u16,
}

impl PgBouncer {
    /// In front of the server of `TEST_DATABASE_URL` (its host and port;
    /// every database name passes through, as user `postgres`).
    #[track_caller]
    pub fn start() -> PgBouncer {
        let program = pgbouncer();
        let (host, port) = server_of(&admin_url());
        let dir = TempDir::new();
        let run_as = running_as_root().then(|| {
            postgres_user().unwrap_or_else(|| {
                panic!("running as root, and there is no `postgres` user to run PgBouncer as")
            })
        });
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .unwrap_or_else(|err| panic!("chown {}: {err}", dir.path().display()));
        }
        let mut failures = String::new();
        // A port free a moment ago may be taken when PgBouncer binds it.
        for _attempt in 0..5 {
            let listen = free_port();
            let config = dir.path().join("pgbouncer.ini");
            let log = dir.path().join("pgbouncer.log");
            std::fs::write(
                &config,
                format!(
                    "[databases]\n\
                     * = host={host} port={port} user=postgres\n\
                     [pgbouncer]\n\
                     listen_addr = 127.0.0.1\n\
                     listen_port = {listen}\n\
                     unix_socket_dir =\n\
                     auth_type = any\n\
                     pool_mode = transaction\n\
                     default_pool_size = 1\n\
                     max_client_conn = 500\n\
                     max_db_connections = 1\n\
                     server_reset_query =\n\
                     logfile = {}\n",
                    log.display()
                ),
            )
            .unwrap_or_else(|err| panic!("write {}: {err}", config.display()));
            let mut command = Command::new(&program);
            command
                .arg(&config)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if let Some((uid, gid)) = run_as {
                command.uid(uid).gid(gid).env("HOME", dir.path());
            }
            let mut child = command
                .spawn()
                .unwrap_or_else(|err| panic!("cannot run {}: {err}", program.display()));
            let addr = SocketAddr::from(([127, 0, 0, 1], listen));
            let deadline = Instant::now() + START_TIMEOUT;
            while Instant::now() < deadline {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return PgBouncer {
                        child,
                        dir,
                        port: listen,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    failures.push_str(&format!("exited {status}\n"));
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            failures.push_str(&std::fs::read_to_string(&log).unwrap_or_default());
        }
        panic!("PgBouncer did not start:\n{failures}");
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`, through the pooler.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// PgBouncer's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    /// The prepared statements the one server connection behind `database`
    /// holds, read through the pooler (so on that very connection). Named
    /// statements would outlive their transaction there and collide with
    /// another client's.
    pub async fn prepared_statements(&self, database: &str) -> i64 {
        let url = self.url(database);
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .unwrap_or_else(|err| panic!("connect to {url}: {err}\n{}", self.log()));
        tokio::spawn(connection);
        // The simple protocol: this probe prepares nothing itself.
        let rows = client
            .simple_query("SELECT count(*) FROM pg_prepared_statements")
            .await
            .unwrap_or_else(|err| panic!("pg_prepared_statements: {err}"));
        rows.iter()
            .find_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no count from pg_prepared_statements"))
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pgbouncer` on PATH or where Debian installs it; a missing one fails
/// with the fix (tests/run installs it).
#[track_caller]
fn pgbouncer() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("pgbouncer"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| {
            let debian = PathBuf::from("/usr/sbin/pgbouncer");
            debian.is_file().then_some(debian)
        })
        .unwrap_or_else(|| {
            panic!(
                "pgbouncer is not installed; the pooler tests need it. \
                 Fix: run tests/run (it installs it), or as root: apt-get install -y pgbouncer"
            )
        })
}

/// The host and port of a `postgres://` URL (defaults: 127.0.0.1, 5432).
fn server_of(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match host_port.rsplit_once(':') {
        Some((host, port)) => (
            host.to_owned(),
            port.parse().unwrap_or_else(|_| panic!("port of {url}")),
        ),
        None if host_port.is_empty() => ("127.0.0.1".to_owned(), 5432),
        None => (host_port.to_owned(), 5432),
    }
}

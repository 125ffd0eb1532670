//! A throw-away PostgreSQL cluster of the test's own (`initdb` in a
//! temporary directory, on a free port) that a test may restart or crash
//! without touching the shared server other tests use. Stopped and removed on
//! drop, also when the test panics.
//!
//! Run as root (containers, CI images), the server programs refuse to start:
//! they are then run as the `postgres` user, who owns the directory.

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tokio_postgres::NoTls;

use super::function::{TempDir, free_port};

/// How a test takes the server away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// `pg_ctl restart -m fast`: sessions are terminated, the server shuts
    /// down cleanly and comes back.
    FastRestart,
    /// `pg_ctl stop -m immediate`, a pause with nothing listening, then
    /// `start`: a crash, followed by crash recovery from the WAL.
    Crash,
}

#[derive(Debug)]
pub struct PgCluster {
    /// Holds the data directory, the socket and the server log.
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    /// The `postgres` user's uid and gid when the test runs as root.
    run_as: Option<(u32, u32)>,
}

impl PgCluster {
    /// `initdb` (trust auth, superuser `postgres`) and start on a free
    /// loopback port. Durability settings stay at their defaults (`fsync`,
    /// `synchronous_commit` on).
    #[track_caller]
    pub fn start() -> PgCluster {
        let bin = server_bin();
        let dir = TempDir::new();
        let run_as = if running_as_root() {
            let ids = postgres_user().unwrap_or_else(|| {
                panic!(
                    "running as root, and there is no `postgres` user to run the server as \
                     (install postgresql: Debian: apt-get install postgresql)"
                )
            });
            std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1))
                .unwrap_or_else(|err| panic!("chown {}: {err}", dir.path().display()));
            Some(ids)
        } else {
            None
        };
        let mut cluster = PgCluster {
            dir,
            bin,
            port: 0,
            run_as,
        };
        let data = cluster.data();
        let initdb = cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
            ],
        );
        assert!(
            initdb.status.success(),
            "initdb failed:\n{}",
            output_text(&initdb)
        );
        // A port that was free a moment ago may be taken by the time the
        // server binds it: try a few.
        let mut failures = String::new();
        for _attempt in 0..5 {
            cluster.port = free_port();
            let started = cluster.pg_ctl(&["start"], true);
            if started.status.success() {
                return cluster;
            }
            failures.push_str(&output_text(&started));
            failures.push_str(&cluster.log());
        }
        panic!("the throw-away PostgreSQL did not start:\n{failures}");
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The server log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// Takes the server away as `outage` says and waits until it accepts
    /// connections again. `down` runs while nothing listens (a crash only).
    #[track_caller]
    pub fn outage(&self, outage: Outage, down: Duration) {
        match outage {
            Outage::FastRestart => self.expect_ok(&["-m", "fast", "restart"], true),
            Outage::Crash => {
                self.expect_ok(&["-m", "immediate", "stop"], false);
                std::thread::sleep(down);
                self.expect_ok(&["start"], true);
            }
        }
    }

    #[track_caller]
    fn expect_ok(&self, args: &[&str], with_options: bool) {
        let output = self.pg_ctl(args, with_options);
        assert!(
            output.status.success(),
            "pg_ctl {} failed:\n{}\n--- server log ---\n{}",
            args.join(" "),
            output_text(&output),
            self.log()
        );
    }

    /// `pg_ctl -D <data> -w [-l <log> -o <server options>] <args>`.
    fn pg_ctl(&self, args: &[&str], with_options: bool) -> Output {
        let data = self.data();
        let log = self.dir.path().join("postgres.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c shared_buffers=16MB -c max_connections=40",
            self.port,
            self.dir.path().display()
        );
        let mut all = vec!["-D", path_str(&data), "-w", "-t", "60"];
        if with_options {
            // `-l` sends the server's output to a file: without it the
            // server would inherit (and hold open) this call's pipes.
            all.extend(["-l", path_str(&log), "-o", options.as_str()]);
        }
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut command = Command::new(self.bin.join(program));
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid).env("HOME", self.dir.path());
        }
        command
            .output()
            .unwrap_or_else(|err| panic!("cannot run {program}: {err}"))
    }

    /// Creates `name` and applies Gatehouse's migrations to it, as
    /// `gatehouse migrate` does.
    pub async fn create_migrated_database(&self, name: &str) {
        self.connect("postgres")
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|err| panic!("CREATE DATABASE {name}: {err}"));
        let url = self.url(name);
        let env = gatehouse::config::Env::from_pairs([("DATABASE_URL", url.as_str())]);
        let config = gatehouse::config::Config::load(&env, gatehouse::config::Needs::DATABASE)
            .unwrap_or_else(|errors| panic!("test configuration invalid: {errors}"));
        let settings = config.database.expect("DATABASE_URL is set");
        let db = gatehouse::db::Database::new(&settings).expect("pool");
        gatehouse::db::migrations::apply(&db, &[&gatehouse_app::migrations::APP])
            .await
            .unwrap_or_else(|err| panic!("migrations on {name}: {err}"));
        db.close();
    }

    /// A direct connection (no pool, no proxy) to `database`.
    pub async fn connect(&self, database: &str) -> tokio_postgres::Client {
        let url = self.url(database);
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .unwrap_or_else(|err| panic!("connect to {url}: {err}\n{}", self.log()));
        tokio::spawn(connection);
        client
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self.pg_ctl(&["-m", "immediate", "stop"], false);
        }
        // `dir` is removed when it drops, after this.
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`, or the
/// directory of an `initdb` on `PATH`.
#[track_caller]
fn server_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "initdb and pg_ctl were found neither under /usr/lib/postgresql/*/bin nor on PATH: \
             install postgresql (Debian: apt-get install postgresql)"
        )
    })
}

pub fn running_as_root() -> bool {
    // `/proc/self` belongs to the effective user.
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// The `postgres` user's uid and gid, from `/etc/passwd`.
pub fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn output_text(output: &Output) -> String {
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

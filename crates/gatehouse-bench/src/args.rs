//! Command-line options, parsed by hand (a dozen flags).

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: gatehouse-bench [options]
       gatehouse-bench launch --bin PATH --work DIR [options]   (see launch --help)
       gatehouse-bench compare --base DIR --new DIR [options]   (see compare --help)

Measures the release function binaries (cold start, size, memory, throughput)
and prints a markdown report on stdout; progress goes to stderr. Build first:
`cargo build --release --workspace` (bench/run does it all).

  --root DIR          workspace root (default: the current directory)
  --bin-dir DIR       the release binaries (default: ROOT/target/release)
  --out-dir DIR       where reports are written (default: ROOT/bench/results)
  --runs N            measured cold starts per binary (default 50)
  --duration D        measured wrk run, in wrk's syntax (default 10s)
  --warmup D          wrk warm-up run before each measured run (default 2s; 0 skips it)
  --threads N         wrk threads (default 2)
  --connections N     wrk connections (default 32)
  --admin-url URL     PostgreSQL URL used to drop and recreate the bench database
                      (default postgres://postgres@127.0.0.1:5432/postgres)
  --db-name NAME      the bench database, dropped and recreated each run (default gatehouse_bench)
  --no-db             skip everything that needs PostgreSQL (health-detailed)
  --env KEY=VALUE     extra environment for the function binaries (repeatable; wins over
                      the default VERCEL_ENV=production)
  --fail-on-miss      exit 3 when a target is not met (default: report only, exit 0)
  -h, --help          show this

Exit status: 0 measured (targets met or not), 1 a measurement failed, 2 bad usage,
3 a target was missed and --fail-on-miss was given.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub root: PathBuf,
    pub bin_dir: PathBuf,
    pub out_dir: PathBuf,
    pub runs: usize,
    pub duration: String,
    pub warmup: String,
    pub threads: u32,
    pub connections: u32,
    pub admin_url: String,
    pub db_name: String,
    pub use_db: bool,
    pub env: Vec<(String, String)>,
    pub fail_on_miss: bool,
}

impl Options {
    /// The environment every function binary starts with (before
    /// `VERCEL_IPC_PATH` and `VERCEL_DEV_PORT`): a production deployment.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("VERCEL_ENV".to_owned(), "production".to_owned())];
        for (key, value) in &self.env {
            env.retain(|(existing, _)| existing != key);
            env.push((key.clone(), value.clone()));
        }
        env
    }

    pub fn warmup_enabled(&self) -> bool {
        !matches!(self.warmup.as_str(), "0" | "0s" | "")
    }
}

pub const LAUNCH_USAGE: &str = "\
usage: gatehouse-bench launch --bin PATH --work DIR [options]

Starts one function binary as Vercel does, for the bash benchmarks (bench/auth-session,
bench/tasks): with nothing of this process's environment but the --env pairs, a fresh
Unix socket WORK/NAME.sock in VERCEL_IPC_PATH that it listens on, and a free loopback
port in VERCEL_DEV_PORT (crates/gatehouse-launch, as the harness and the tests start
them). Once the server-started frame has arrived it prints one line on stdout:

  ready url=http://127.0.0.1:PORT port=PORT pid=PID ipc=SOCKET ready_ms=MS

(PID is the function's), then keeps reading the socket, as Vercel does, so that the
function never blocks writing a frame, until the function exits (status 1, with a
message), its own parent exits (it then stops the function), or it is killed. A signal
ends this process without stopping the function: signal the function's PID as well.

  --bin PATH          the function binary
  --work DIR          an existing scratch directory, for the socket
  --name NAME         names the socket and the messages (default: the binary's file name)
  --env KEY=VALUE     the function's environment (repeatable; PATH too, if it needs one)
  --stdout FILE       the function's stdout (default: this process's stderr)
  --stderr FILE       the function's stderr (default: this process's stderr)
  -h, --help          show this

Exit status: 1 the function did not become ready, or exited; 2 bad usage.";

/// `gatehouse-bench launch`: one function, started for a bash caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchOptions {
    pub bin: PathBuf,
    pub work: PathBuf,
    pub name: Option<String>,
    pub env: Vec<(String, String)>,
    pub stdout: Option<PathBuf>,
    pub stderr: Option<PathBuf>,
}

pub const COMPARE_USAGE: &str = "\
usage: gatehouse-bench compare --base DIR --new DIR [options]

Two builds of the functions side by side in one run (say, target/release of two work
trees): sizes (and gzip -9 sizes), cold starts (exec -> first 200) of health,
health-detailed and auth-session with a JWT, then the throughput of health,
health-detailed, auth-session with a JWT and tasks, each on both builds at once, for
several rounds in alternating order; prints markdown tables with the ratio of the medians
(new / base) on stdout. Production, DATABASE_URL set, revocation on, the default log
level: what deployments run. Each build migrates its own database with its own CLI.

  --base DIR          the base build's binaries (with its `gatehouse` CLI, which migrates)
  --new DIR           the other build's binaries
  --rounds N          rounds (default 3)
  --duration D        measured wrk run per case, build and round (default 5s)
  --warmup D          wrk run before each measured one, discarded (default 1s)
  --threads N         wrk threads (default 2)
  --connections N     wrk connections (default 32)
  --admin-url URL     PostgreSQL URL to recreate the database with
                      (default postgres://postgres@127.0.0.1:5432/postgres)
  --db-name NAME      the databases' prefix: NAME_base and NAME_new are dropped and
                      recreated (default gatehouse_bench_compare)
  -h, --help          show this";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareOptions {
    pub base: PathBuf,
    pub new: PathBuf,
    pub rounds: usize,
    pub duration: String,
    pub warmup: String,
    pub threads: u32,
    pub connections: u32,
    pub admin_url: String,
    pub db_name: String,
}

impl CompareOptions {
    /// For the check of each function's first answer.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(10)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<Options>),
    Launch(LaunchOptions),
    Compare(CompareOptions),
    /// The usage text asked for.
    Help(&'static str),
}

/// A command line that cannot run, and the usage text to show with it.
#[derive(Debug, PartialEq, Eq)]
pub struct BadUsage {
    pub message: String,
    pub usage: &'static str,
}

pub fn parse(args: impl Iterator<Item = String>) -> Result<Parsed, BadUsage> {
    let mut args = args.peekable();
    if args.peek().map(String::as_str) == Some("launch") {
        args.next();
        return parse_launch(args).map_err(|message| BadUsage {
            message,
            usage: LAUNCH_USAGE,
        });
    }
    if args.peek().map(String::as_str) == Some("compare") {
        args.next();
        return parse_compare(args).map_err(|message| BadUsage {
            message,
            usage: COMPARE_USAGE,
        });
    }
    parse_run(args).map_err(|message| BadUsage {
        message,
        usage: USAGE,
    })
}

fn parse_launch(mut args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let (mut bin, mut work, mut name, mut stdout, mut stderr) = (None, None, None, None, None);
    let mut env = Vec::new();
    while let Some(arg) = args.next() {
        let (flag, inline) = split_inline(&arg);
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help(LAUNCH_USAGE)),
            "--bin" => bin = Some(PathBuf::from(value("--bin")?)),
            "--work" => work = Some(PathBuf::from(value("--work")?)),
            "--name" => name = Some(value("--name")?),
            "--stdout" => stdout = Some(PathBuf::from(value("--stdout")?)),
            "--stderr" => stderr = Some(PathBuf::from(value("--stderr")?)),
            "--env" => env.push(env_pair(&value("--env")?)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Parsed::Launch(LaunchOptions {
        bin: bin.ok_or("--bin is required")?,
        work: work.ok_or("--work is required")?,
        name,
        env,
        stdout,
        stderr,
    }))
}

fn parse_compare(mut args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let (mut base, mut new) = (None, None);
    let mut options = CompareOptions {
        base: PathBuf::new(),
        new: PathBuf::new(),
        rounds: 3,
        duration: "5s".to_owned(),
        warmup: "1s".to_owned(),
        threads: 2,
        connections: 32,
        admin_url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
        db_name: "gatehouse_bench_compare".to_owned(),
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = split_inline(&arg);
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help(COMPARE_USAGE)),
            "--base" => base = Some(PathBuf::from(value("--base")?)),
            "--new" => new = Some(PathBuf::from(value("--new")?)),
            "--rounds" => options.rounds = number(&value("--rounds")?, "--rounds", 1)?,
            "--duration" => options.duration = value("--duration")?,
            "--warmup" => options.warmup = value("--warmup")?,
            "--threads" => options.threads = number(&value("--threads")?, "--threads", 1)?,
            "--connections" => {
                options.connections = number(&value("--connections")?, "--connections", 1)?
            }
            "--admin-url" => options.admin_url = value("--admin-url")?,
            "--db-name" => options.db_name = value("--db-name")?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.connections < options.threads {
        return Err(format!(
            "--connections ({}) must be at least --threads ({}), as wrk requires",
            options.connections, options.threads
        ));
    }
    check_db_name(&options.db_name)?;
    options.base = base.ok_or("--base is required")?;
    options.new = new.ok_or("--new is required")?;
    Ok(Parsed::Compare(options))
}

/// It is dropped and recreated, and quoted into SQL.
fn check_db_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "--db-name {name}: use lowercase letters, digits and _ only (it is dropped and recreated)"
        ));
    }
    Ok(())
}

/// `--flag=value` as the flag and its value; `--env` keeps its `=` (its
/// value is `KEY=VALUE`, so `--env=K=V` is not accepted).
fn split_inline(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") && flag != "--env" => {
            (flag.to_owned(), Some(value.to_owned()))
        }
        _ => (arg.to_owned(), None),
    }
}

fn env_pair(pair: &str) -> Result<(String, String), String> {
    let (key, value) = pair
        .split_once('=')
        .ok_or_else(|| format!("--env {pair}: expected KEY=VALUE"))?;
    Ok((key.to_owned(), value.to_owned()))
}

fn parse_run(mut args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut root: Option<PathBuf> = None;
    let mut bin_dir: Option<PathBuf> = None;
    let mut out_dir: Option<PathBuf> = None;
    let mut options = Options {
        root: PathBuf::from("."),
        bin_dir: PathBuf::new(),
        out_dir: PathBuf::new(),
        runs: 50,
        duration: "10s".to_owned(),
        warmup: "2s".to_owned(),
        threads: 2,
        connections: 32,
        admin_url: "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
        db_name: "gatehouse_bench".to_owned(),
        use_db: true,
        env: Vec::new(),
        fail_on_miss: false,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = split_inline(&arg);
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help(USAGE)),
            "--root" => root = Some(PathBuf::from(value("--root")?)),
            "--bin-dir" => bin_dir = Some(PathBuf::from(value("--bin-dir")?)),
            "--out-dir" => out_dir = Some(PathBuf::from(value("--out-dir")?)),
            "--runs" => options.runs = number(&value("--runs")?, "--runs", 1)?,
            "--duration" => options.duration = value("--duration")?,
            "--warmup" => options.warmup = value("--warmup")?,
            "--threads" => options.threads = number(&value("--threads")?, "--threads", 1)?,
            "--connections" => {
                options.connections = number(&value("--connections")?, "--connections", 1)?
            }
            "--admin-url" => options.admin_url = value("--admin-url")?,
            "--db-name" => options.db_name = value("--db-name")?,
            "--no-db" => options.use_db = false,
            "--fail-on-miss" => options.fail_on_miss = true,
            "--env" => options.env.push(env_pair(&value("--env")?)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.connections < options.threads {
        return Err(format!(
            "--connections ({}) must be at least --threads ({}), as wrk requires",
            options.connections, options.threads
        ));
    }
    check_db_name(&options.db_name)?;
    options.root = root.unwrap_or_else(|| PathBuf::from("."));
    options.bin_dir = bin_dir.unwrap_or_else(|| options.root.join("target/release"));
    options.out_dir = out_dir.unwrap_or_else(|| options.root.join("bench/results"));
    Ok(Parsed::Run(Box::new(options)))
}

fn number<T>(raw: &str, flag: &str, min: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match raw.parse::<T>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!(
            "{flag} {raw}: expected a whole number, at least {min}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Parsed, String> {
        parse(line.split_whitespace().map(str::to_owned)).map_err(|bad| bad.message)
    }

    #[test]
    fn defaults_and_overrides() -> Result<(), String> {
        let Parsed::Run(defaults) = parse_str("")? else {
            return Err("expected options".into());
        };
        assert_eq!(defaults.runs, 50);
        assert_eq!(defaults.bin_dir, PathBuf::from("./target/release"));
        assert_eq!(
            defaults.function_env(),
            vec![("VERCEL_ENV".to_owned(), "production".to_owned())]
        );

        let Parsed::Run(custom) =
            parse_str("--runs=5 --root /w --env VERCEL_ENV=preview --env LOG_LEVEL=warn --no-db")?
        else {
            return Err("expected options".into());
        };
        assert_eq!(custom.runs, 5);
        assert_eq!(custom.out_dir, PathBuf::from("/w/bench/results"));
        assert!(!custom.use_db);
        assert_eq!(
            custom.function_env(),
            vec![
                ("VERCEL_ENV".to_owned(), "preview".to_owned()),
                ("LOG_LEVEL".to_owned(), "warn".to_owned())
            ]
        );
        Ok(())
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse_str("--runs 0").is_err());
        assert!(parse_str("--runs").is_err());
        assert!(parse_str("--threads 4 --connections 2").is_err());
        assert!(parse_str("--db-name postgres;drop").is_err());
        assert!(parse_str("--env NOEQUALS").is_err());
        assert!(parse_str("--frobnicate").is_err());
        assert_eq!(parse_str("--help"), Ok(Parsed::Help(USAGE)));
    }

    #[test]
    fn compare_takes_its_own_options() -> Result<(), String> {
        let Parsed::Compare(compare) =
            parse_str("compare --base /a/release --new=/b/release --rounds 5")?
        else {
            return Err("expected compare options".into());
        };
        assert_eq!(compare.base, PathBuf::from("/a/release"));
        assert_eq!(compare.new, PathBuf::from("/b/release"));
        assert_eq!((compare.rounds, compare.duration.as_str()), (5, "5s"));
        let usage = |line: &str| parse(line.split_whitespace().map(str::to_owned)).err();
        for line in [
            "compare --new /b",
            "compare --base /a",
            "compare --base /a --new /b --rounds 0",
            "compare --base /a --new /b --db-name x;y",
        ] {
            assert_eq!(
                usage(line).map(|bad| bad.usage),
                Some(COMPARE_USAGE),
                "{line}"
            );
        }
        Ok(())
    }

    #[test]
    fn launch_takes_its_own_options() -> Result<(), String> {
        let Parsed::Launch(launch) = parse_str(
            "launch --bin /r/tasks --work=/tmp/w --name tasks --env PATH=/bin --env A=b=c \
             --stdout /tmp/w/tasks.out --stderr /tmp/w/tasks.err",
        )?
        else {
            return Err("expected launch options".into());
        };
        assert_eq!(launch.bin, PathBuf::from("/r/tasks"));
        assert_eq!(launch.work, PathBuf::from("/tmp/w"));
        assert_eq!(launch.name.as_deref(), Some("tasks"));
        assert_eq!(
            launch.env,
            vec![
                ("PATH".to_owned(), "/bin".to_owned()),
                ("A".to_owned(), "b=c".to_owned())
            ]
        );
        assert_eq!(launch.stderr, Some(PathBuf::from("/tmp/w/tasks.err")));
        assert_eq!(parse_str("launch --help"), Ok(Parsed::Help(LAUNCH_USAGE)));
        Ok(())
    }

    #[test]
    fn launch_refuses_bad_input_with_its_usage() {
        let usage = |line: &str| parse(line.split_whitespace().map(str::to_owned)).err();
        for line in [
            "launch --work /tmp",
            "launch --bin /r/tasks",
            "launch --bin /r/tasks --work /tmp --runs 5",
            "launch --bin /r/tasks --work /tmp --env NOEQUALS",
        ] {
            assert_eq!(
                usage(line).map(|bad| bad.usage),
                Some(LAUNCH_USAGE),
                "{line}"
            );
        }
        assert_eq!(usage("--bin /r/tasks").map(|bad| bad.usage), Some(USAGE));
    }
}

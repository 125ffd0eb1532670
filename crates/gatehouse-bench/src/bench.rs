//! The measurements, in order: sizes, database, cold starts, load and memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::args::Options;
use crate::function::{self, Launch, Memory, Running};
use crate::jwt_issuer::JwtIssuer;
use crate::stats::Summary;
use crate::system::{self, FunctionBin, Machine};
use crate::{db, http, wrk};

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Sequential requests to `health-detailed` before its first memory sample.
pub const DETAILED_WARM_REQUESTS: usize = 100;
/// Headers Vercel adds to every invocation: with both internal ones set the
/// runtime writes an `end` frame to the IPC socket after each request, and
/// `x-vercel-id` becomes the request id (no id is generated).
pub const VERCEL_INVOCATION_HEADERS: [&str; 3] = [
    "x-vercel-id: bench1::gatehouse-bench-0001",
    "x-vercel-internal-invocation-id: gatehouse-bench",
    "x-vercel-internal-request-id: 1",
];

#[derive(Debug)]
pub struct Results {
    pub machine: Machine,
    pub load_at_start: String,
    pub runs: usize,
    pub function_env: Vec<(String, String)>,
    pub database: Option<String>,
    /// The PostgreSQL server's `ssl` setting, when the database was used.
    pub database_ssl: Option<String>,
    pub sizes: Vec<Size>,
    pub cold: Vec<Cold>,
    /// `psql -c 'select 1'` over TLS and without, timed the same way, in
    /// the same run: the yardstick for the TLS cold start.
    pub psql: Option<PsqlConnect>,
    pub loads: Vec<LoadRun>,
    pub memory: Vec<MemorySample>,
    /// Warnings about the run itself (stale binaries), shown at the top.
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub struct Size {
    pub name: String,
    /// `None` for the CLI, reported for information.
    pub route: Option<String>,
    pub bytes: u64,
}

#[derive(Debug)]
pub struct Cold {
    pub bin: String,
    /// A variation of the environment, if any.
    pub variant: Option<String>,
    /// A series shown to explain another (no target of its own).
    pub diagnostic: bool,
    pub route: String,
    pub ready: Summary,
    pub first_200: Summary,
    pub load_before: String,
}

#[derive(Debug)]
pub struct PsqlConnect {
    /// The psql binary itself (Debian's `pg_wrapper` Perl script skipped).
    pub psql: String,
    /// `sslmode=require`: exec → result → exit.
    pub tls: Summary,
    /// `sslmode=disable`, alternated with the TLS runs.
    pub plain: Summary,
}

#[derive(Debug)]
pub struct LoadRun {
    pub bin: String,
    pub label: String,
    pub command: String,
    pub load: wrk::Load,
    pub ipc_frames: u64,
    pub load_before: String,
    pub raw: String,
}

#[derive(Debug)]
pub struct MemorySample {
    pub bin: String,
    pub moment: String,
    /// Taken after serving requests (what the RSS target is about).
    pub warm: bool,
    pub memory: Memory,
}

/// What every phase needs.
struct Ctx<'a> {
    opts: &'a Options,
    bin_dir: PathBuf,
    env: Vec<(String, String)>,
    work: PathBuf,
}

/// The scratch directory (sockets, captured stderr), removed however the run ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(opts: &Options) -> Result<Results, String> {
    let root = opts
        .root
        .canonicalize()
        .map_err(|err| format!("--root {}: {err}", opts.root.display()))?;
    let machine = Machine::probe(&root);
    if machine.wrk == "not installed" {
        return Err("wrk is not installed: apt-get update && apt-get install -y wrk".to_owned());
    }
    let load_at_start = system::load_average();
    let cargo_toml_path = root.join("Cargo.toml");
    let cargo_toml = std::fs::read_to_string(&cargo_toml_path)
        .map_err(|err| format!("read {}: {err}", cargo_toml_path.display()))?;
    let bins = system::function_bins(&cargo_toml);
    // The one function for all routes, measured on the same paths.
    let tables = system::table_bins(&cargo_toml, "/api/health");
    let tables_detailed = system::table_bins(&cargo_toml, "/api/health/detailed");
    if bins.is_empty() {
        return Err(format!(
            "no [[bin]] with a path under api/ in {}",
            cargo_toml_path.display()
        ));
    }
    let bin_dir = if opts.bin_dir.is_absolute() {
        opts.bin_dir.clone()
    } else {
        std::env::current_dir()
            .map_err(|err| format!("current directory: {err}"))?
            .join(&opts.bin_dir)
    };
    for bin in bins.iter().chain(&tables) {
        if !bin_dir.join(&bin.name).is_file() {
            return Err(format!(
                "{} is missing: build first with `cargo build --release --workspace`",
                bin_dir.join(&bin.name).display()
            ));
        }
    }
    let measured: Vec<FunctionBin> = bins.iter().chain(&tables).cloned().collect();
    let warnings = stale_binaries(&cargo_toml_path, &bin_dir, &measured);
    let health = find(&bins, "health")?;
    let detailed = if opts.use_db {
        Some(find(&bins, "health-detailed")?)
    } else {
        None
    };

    let work = std::env::temp_dir().join(format!("gatehouse-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|err| format!("create {}: {err}", work.display()))?;
    let _scratch = Scratch(work.clone());
    let mut ctx = Ctx {
        opts,
        bin_dir,
        env: opts.function_env(),
        work,
    };

    progress("binary sizes");
    let sizes = sizes(&ctx, &bins, &tables)?;

    let mut database_ssl = None;
    let database = match &detailed {
        Some(_) => {
            let url = db::database_url(&opts.admin_url, &opts.db_name)?;
            progress(&format!(
                "recreating database {} and migrating it",
                opts.db_name
            ));
            db::recreate(&opts.admin_url, &opts.db_name)?;
            let cli = ctx.bin_dir.join("gatehouse");
            db::migrate(&cli, &url, &ctx.work)?;
            database_ssl = db::server_ssl(&url).ok();
            if !ctx.env.iter().any(|(key, _)| key == "DATABASE_URL") {
                ctx.env.push(("DATABASE_URL".to_owned(), url.clone()));
            }
            Some(url)
        }
        None => None,
    };

    let mut cold = vec![cold_starts(&ctx, health, Series::plain(), &ctx.env)?];
    for table in &tables {
        cold.push(cold_starts(&ctx, table, Series::plain(), &ctx.env)?);
    }
    let mut psql = None;
    if let (Some(detailed), Some(url)) = (detailed, &database) {
        cold.push(cold_starts(&ctx, detailed, Series::plain(), &ctx.env)?);
        for table in &tables_detailed {
            cold.push(cold_starts(&ctx, table, Series::plain(), &ctx.env)?);
        }
        if database_ssl.as_deref() == Some("on") && !url.contains("sslmode") {
            // Diagnostic: the same without the TLS handshake, to show its share.
            let env = with_var(&ctx.env, "DATABASE_URL", &format!("{url}?sslmode=disable"));
            let series = Series::diagnostic("sslmode=disable");
            cold.push(cold_starts(&ctx, detailed, series, &env)?);
            progress(&format!(
                "psql -c 'select 1', sslmode=require and disable alternated x{}",
                opts.runs
            ));
            psql = Some(db::psql_connect_times(url, opts.runs)?);
        }
    }
    if let Some(session) = bins.iter().find(|bin| bin.name == "auth-session") {
        cold.extend(jwt_cold_starts(&ctx, session, database.as_deref())?);
    }

    let mut loads = Vec::new();
    let mut memory = Vec::new();
    load_health(&ctx, health, &mut loads, &mut memory)?;
    if let Some(detailed) = detailed {
        load_detailed(&ctx, detailed, &mut loads, &mut memory)?;
    }

    Ok(Results {
        machine,
        load_at_start,
        runs: opts.runs,
        function_env: opts.function_env(),
        database,
        database_ssl,
        sizes,
        cold,
        psql,
        loads,
        memory,
        warnings,
    })
}

/// Binaries older than the root Cargo.toml may not reflect its
/// `[profile.release]` (it changed after the build, or the build was skipped).
fn stale_binaries(cargo_toml: &Path, bin_dir: &Path, bins: &[FunctionBin]) -> Vec<String> {
    let modified = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
    };
    let Some(manifest) = modified(cargo_toml) else {
        return Vec::new();
    };
    let stale: Vec<&str> = bins
        .iter()
        .filter(|bin| modified(&bin_dir.join(&bin.name)).is_some_and(|built| built < manifest))
        .map(|bin| bin.name.as_str())
        .collect();
    if stale.is_empty() {
        return Vec::new();
    }
    let warning = format!(
        "the root Cargo.toml changed after these binaries were built: {}. Their figures may not reflect \
         its current `[profile.release]`; rebuild (bench/run does) and measure again.",
        stale.join(", ")
    );
    progress(&format!("warning: {warning}"));
    vec![warning]
}

fn find<'b>(bins: &'b [FunctionBin], name: &str) -> Result<&'b FunctionBin, String> {
    bins.iter()
        .find(|bin| bin.name == name)
        .ok_or_else(|| format!("no [[bin]] named {name} under api/ in the root Cargo.toml"))
}

fn progress(message: &str) {
    eprintln!("[gatehouse-bench] {message}");
}

fn sizes(ctx: &Ctx<'_>, bins: &[FunctionBin], tables: &[FunctionBin]) -> Result<Vec<Size>, String> {
    let size_of = |name: &str| {
        let path = ctx.bin_dir.join(name);
        std::fs::metadata(&path)
            .map(|meta| meta.len())
            .map_err(|err| format!("{}: {err}", path.display()))
    };
    let mut sizes = Vec::new();
    for bin in bins {
        sizes.push(Size {
            name: bin.name.clone(),
            route: Some(bin.route.clone()),
            bytes: size_of(&bin.name)?,
        });
    }
    for table in tables {
        sizes.push(Size {
            name: table.name.clone(),
            route: Some("every route".to_owned()),
            bytes: size_of(&table.name)?,
        });
    }
    if let Ok(bytes) = size_of("gatehouse") {
        sizes.push(Size {
            name: "gatehouse".to_owned(),
            route: None,
            bytes,
        });
    }
    Ok(sizes)
}

fn launch<'a>(ctx: &'a Ctx<'_>, bin: &'a Path, tag: String) -> Launch<'a> {
    launch_with(ctx, bin, tag, &ctx.env)
}

fn launch_with<'a>(
    ctx: &'a Ctx<'_>,
    bin: &'a Path,
    tag: String,
    env: &'a [(String, String)],
) -> Launch<'a> {
    Launch {
        bin,
        env,
        work: &ctx.work,
        tag,
    }
}

fn expect_200(running: &Running, route: &str, headers: &[&str]) -> Result<(), String> {
    let reply = http::get(running.port, route, headers, HTTP_TIMEOUT)
        .map_err(|err| running.failure(&err))?;
    if reply.status == 200 {
        Ok(())
    } else {
        Err(running.failure(&format!(
            "GET {route} answered {}: {}",
            reply.status,
            reply.body_excerpt()
        )))
    }
}

/// What a cold-start series varies: its label, whether it only explains
/// another, and the request's headers.
#[derive(Debug, Clone, Copy)]
struct Series<'a> {
    variant: Option<&'a str>,
    diagnostic: bool,
    headers: &'a [&'a str],
}

impl<'a> Series<'a> {
    fn plain() -> Series<'static> {
        Series {
            variant: None,
            diagnostic: false,
            headers: &[],
        }
    }

    fn diagnostic(variant: &'a str) -> Series<'a> {
        Series {
            variant: Some(variant),
            diagnostic: true,
            headers: &[],
        }
    }
}

fn with_var(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.to_owned(), value.to_owned()));
    env
}

/// `auth-session` from exec to its first JWT-verified 200: the JWKS is
/// fetched from a loopback issuer on that first request. As deployments run
/// it (`DATABASE_URL` set, so the revocation state is read too, over TLS
/// when the server offers it), and without a database beside it.
fn jwt_cold_starts(
    ctx: &Ctx<'_>,
    session: &FunctionBin,
    database: Option<&str>,
) -> Result<Vec<Cold>, String> {
    let issuer = JwtIssuer::start()?;
    let authorization = format!("Authorization: Bearer {}", issuer.token("bench-user")?);
    let headers = [authorization.as_str()];
    let mut base: Vec<(String, String)> = ctx
        .env
        .iter()
        .filter(|(key, _)| key != "DATABASE_URL")
        .cloned()
        .collect();
    base.extend(issuer.env());
    let mut series = Vec::new();
    if let Some(url) = database {
        let env = with_var(&base, "DATABASE_URL", url);
        let label = "JWT via JWKS on loopback, `DATABASE_URL` set, revocation on";
        let run = Series {
            variant: Some(label),
            diagnostic: false,
            headers: &headers,
        };
        series.push(cold_starts(ctx, session, run, &env)?);
    }
    let label = "JWT via JWKS on loopback, no `DATABASE_URL`";
    let run = Series {
        variant: Some(label),
        diagnostic: false,
        headers: &headers,
    };
    series.push(cold_starts(ctx, session, run, &base)?);
    let starts = series.len() * (ctx.opts.runs + 1);
    let fetched = issuer.requests();
    if fetched < starts as u64 {
        return Err(format!(
            "the loopback JWKS was fetched {fetched} times for {starts} cold starts: a start verified \
             its token without fetching the keys, so the series does not measure what it says"
        ));
    }
    Ok(series)
}

/// `runs` measured starts after one discarded one (page cache, first
/// connection to PostgreSQL): exec → ready, then → first 200.
fn cold_starts(
    ctx: &Ctx<'_>,
    bin: &FunctionBin,
    series: Series<'_>,
    env: &[(String, String)],
) -> Result<Cold, String> {
    let path = ctx.bin_dir.join(&bin.name);
    let runs = ctx.opts.runs;
    let load_before = system::load_average();
    let mut ready = Vec::with_capacity(runs);
    let mut first_200 = Vec::with_capacity(runs);
    let shown = match series.variant {
        Some(variant) => format!("{} ({variant})", bin.name),
        None => bin.name.clone(),
    };
    progress(&format!(
        "cold starts: {shown} x{runs} (load average {load_before})"
    ));
    for run in 0..=runs {
        let prefix = series
            .variant
            .map(|variant| format!("{}-", slug(variant)))
            .unwrap_or_default();
        let tag = format!("{}-cold-{prefix}{run}", bin.name);
        let running = function::start(&launch_with(ctx, &path, tag, env))?;
        expect_200(&running, &bin.route, series.headers)?;
        let to_first_200 = running.started.elapsed();
        let to_ready = running.ready_after;
        running.stop()?;
        if run > 0 {
            ready.push(millis(to_ready));
            first_200.push(millis(to_first_200));
        }
    }
    Ok(Cold {
        bin: bin.name.clone(),
        variant: series.variant.map(str::to_owned),
        diagnostic: series.diagnostic,
        route: bin.route.clone(),
        ready: Summary::of(&ready).ok_or("no cold start measured")?,
        first_200: Summary::of(&first_200).ok_or("no cold start measured")?,
        load_before,
    })
}

/// A file-name-safe short form of a series label.
fn slug(label: &str) -> String {
    label
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn sample(
    running: &Running,
    bin: &str,
    moment: &str,
    warm: bool,
    memory: &mut Vec<MemorySample>,
) -> Result<(), String> {
    memory.push(MemorySample {
        bin: bin.to_owned(),
        moment: moment.to_owned(),
        warm,
        memory: running.memory()?,
    });
    Ok(())
}

/// A warm-up run (discarded), then the measured one.
fn measured_load(
    ctx: &Ctx<'_>,
    running: &Running,
    bin: &FunctionBin,
    label: &str,
    headers: &[&str],
    frames: &Arc<AtomicU64>,
) -> Result<LoadRun, String> {
    let url = format!("http://127.0.0.1:{}{}", running.port, bin.route);
    let mut settings = wrk::Settings {
        threads: ctx.opts.threads,
        connections: ctx.opts.connections,
        duration: &ctx.opts.warmup,
        headers,
    };
    if ctx.opts.warmup_enabled() {
        progress(&format!("wrk warm-up {}: {}", ctx.opts.warmup, label));
        wrk::run(&settings, &url).map_err(|err| running.failure(&err))?;
    }
    settings.duration = &ctx.opts.duration;
    let load_before = system::load_average();
    progress(&format!(
        "wrk {}: {label} (load average {load_before})",
        ctx.opts.duration
    ));
    // wrk prints the real port; the report shows a placeholder so runs compare.
    let command = settings.command_line(&format!("http://127.0.0.1:$PORT{}", bin.route));
    let frames_before = frames.load(Ordering::Relaxed);
    let (load, raw) = wrk::run(&settings, &url).map_err(|err| running.failure(&err))?;
    // Let the IPC reader catch up with the last `end` frames.
    std::thread::sleep(Duration::from_millis(200));
    let ipc_frames = frames.load(Ordering::Relaxed) - frames_before;
    Ok(LoadRun {
        bin: bin.name.clone(),
        label: label.to_owned(),
        command,
        load,
        ipc_frames,
        load_before,
        raw,
    })
}

fn load_health(
    ctx: &Ctx<'_>,
    bin: &FunctionBin,
    loads: &mut Vec<LoadRun>,
    memory: &mut Vec<MemorySample>,
) -> Result<(), String> {
    let path = ctx.bin_dir.join(&bin.name);
    let mut running = function::start(&launch(ctx, &path, format!("{}-load", bin.name)))?;
    let frames = running.drain_ipc();
    expect_200(&running, &bin.route, &[])?;
    sample(&running, &bin.name, "after 1 request", false, memory)?;

    let plain = format!("GET {}", bin.route);
    loads.push(measured_load(ctx, &running, bin, &plain, &[], &frames)?);
    sample(&running, &bin.name, "after the load test", true, memory)?;

    let label = format!("GET {} + Vercel invocation headers", bin.route);
    loads.push(measured_load(
        ctx,
        &running,
        bin,
        &label,
        &VERCEL_INVOCATION_HEADERS,
        &frames,
    )?);
    sample(
        &running,
        &bin.name,
        "after the load test with invocation headers",
        true,
        memory,
    )?;
    running.stop()
}

fn load_detailed(
    ctx: &Ctx<'_>,
    bin: &FunctionBin,
    loads: &mut Vec<LoadRun>,
    memory: &mut Vec<MemorySample>,
) -> Result<(), String> {
    let path = ctx.bin_dir.join(&bin.name);
    let mut running = function::start(&launch(ctx, &path, format!("{}-load", bin.name)))?;
    let frames = running.drain_ipc();
    progress(&format!(
        "{}: {DETAILED_WARM_REQUESTS} sequential requests",
        bin.name
    ));
    for _ in 0..DETAILED_WARM_REQUESTS {
        expect_200(&running, &bin.route, &[])?;
    }
    let moment = format!("after {DETAILED_WARM_REQUESTS} sequential requests");
    sample(&running, &bin.name, &moment, true, memory)?;
    let label = format!("GET {} (database round trip)", bin.route);
    loads.push(measured_load(ctx, &running, bin, &label, &[], &frames)?);
    sample(&running, &bin.name, "after the load test", true, memory)?;
    running.stop()
}

impl Results {
    /// Everything measured, as JSON; the report adds its verdicts.
    pub fn to_json(&self) -> Value {
        json!({
            "machine": self.machine.to_json(),
            "load_average_at_start": self.load_at_start,
            "runs": self.runs,
            "function_env": self.function_env.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>(),
            "database": self.database.is_some(),
            "database_ssl": self.database_ssl,
            "sizes": self.sizes.iter().map(|size| json!({
                "name": size.name, "route": size.route, "bytes": size.bytes,
            })).collect::<Vec<_>>(),
            "cold_starts": self.cold.iter().map(|cold| json!({
                "bin": cold.bin,
                "variant": cold.variant,
                "diagnostic": cold.diagnostic,
                "route": cold.route,
                "exec_to_ready": cold.ready.to_json(),
                "exec_to_first_200": cold.first_200.to_json(),
                "load_average_before": cold.load_before,
            })).collect::<Vec<_>>(),
            "psql_select_1": self.psql.as_ref().map(|psql| json!({
                "psql": psql.psql,
                "sslmode_require": psql.tls.to_json(),
                "sslmode_disable": psql.plain.to_json(),
            })),
            "loads": self.loads.iter().map(|run| json!({
                "bin": run.bin,
                "label": run.label,
                "command": run.command,
                "wrk": run.load.to_json(),
                "ipc_frames": run.ipc_frames,
                "load_average_before": run.load_before,
            })).collect::<Vec<_>>(),
            "memory": self.memory.iter().map(|sample| json!({
                "bin": sample.bin,
                "moment": sample.moment,
                "warm": sample.warm,
                "vm_rss_kib": sample.memory.rss_kib,
                "vm_hwm_kib": sample.memory.hwm_kib,
            })).collect::<Vec<_>>(),
            "warnings": self.warnings,
        })
    }
}

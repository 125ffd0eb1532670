//! `gatehouse-bench compare`: two builds of the functions side by side, in
//! one run, on one machine. Both builds' processes run at once; each round
//! measures every case on both, in alternating order, so load from other
//! work hits both alike, and the verdict is the ratio of the medians over
//! the rounds. For a change to the release profile (opt-level per crate) or
//! any change that must not make anything slower.
//!
//! The cases are what deployments run: production, `DATABASE_URL` set,
//! revocation on, the default log level. Each build gets its own database,
//! migrated by its own `gatehouse` CLI, so builds with different schemas
//! compare (an older base has fewer migrations). Cold starts (exec → first
//! 200, the JWKS fetched over loopback for the JWT) are measured the same
//! way, a few starts per build and round.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::args::CompareOptions;
use crate::function::{self, Launch, Running};
use crate::jwt_issuer::JwtIssuer;
use crate::report::{bytes, ms, thousands};
use crate::{db, http, system, wrk};

const BUILDS: [&str; 2] = ["base", "new"];

struct Case {
    label: &'static str,
    bin: &'static str,
    path: &'static str,
    /// Sends the issuer's token.
    authenticated: bool,
    /// Also timed from exec to its first 200 (the JWT's keys fetched over
    /// loopback and, with revocation on, the revocation state read first).
    cold_start: bool,
}

/// Cold starts per build and round, after one discarded start per build.
const COLD_STARTS_PER_ROUND: usize = 5;

const CASES: &[Case] = &[
    Case {
        label: "`GET /api/health` (no database)",
        bin: "health",
        path: "/api/health",
        authenticated: false,
        cold_start: true,
    },
    Case {
        label: "`GET /api/health/detailed` (one database round trip)",
        bin: "health-detailed",
        path: "/api/health/detailed",
        authenticated: false,
        cold_start: true,
    },
    Case {
        label: "`GET /api/auth/session`, JWT, `DATABASE_URL` set, revocation on",
        bin: "auth-session",
        path: "/api/auth/session",
        authenticated: true,
        cold_start: true,
    },
    Case {
        label: "`GET /api/tasks` (the caller's tasks: one query, revocation on)",
        bin: "tasks",
        path: "/api/tasks",
        authenticated: true,
        cold_start: false,
    },
];

#[derive(Debug, Default)]
struct Series {
    requests_per_sec: Vec<f64>,
    p99_ms: Vec<f64>,
    failed: u64,
}

pub fn run(opts: &CompareOptions) -> Result<String, String> {
    // Absolute: the CLI that migrates runs in a scratch directory.
    let absolute = |dir: &PathBuf| {
        std::fs::canonicalize(dir).map_err(|err| format!("{}: {err}", dir.display()))
    };
    let (base, new) = (absolute(&opts.base)?, absolute(&opts.new)?);
    let dirs = [&base, &new];
    for dir in dirs {
        for case in CASES {
            let bin = dir.join(case.bin);
            if !bin.is_file() {
                return Err(format!(
                    "{} is missing: build that tree with `cargo build --release --workspace`",
                    bin.display()
                ));
            }
        }
    }
    let work = std::env::temp_dir().join(format!("gatehouse-compare-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|err| format!("create {}: {err}", work.display()))?;
    let _scratch = Scratch(work.clone());

    let issuer = JwtIssuer::start()?;
    let authorization = format!("Authorization: Bearer {}", issuer.token("compare-user")?);
    let mut envs: [Vec<(String, String)>; 2] = [Vec::new(), Vec::new()];
    for ((dir, build), env) in dirs.iter().zip(BUILDS).zip(&mut envs) {
        let name = format!("{}_{build}", opts.db_name);
        let url = db::database_url(&opts.admin_url, &name)?;
        progress(&format!(
            "recreating database {name} and migrating it with the {build} build's CLI"
        ));
        db::recreate(&opts.admin_url, &name)?;
        db::migrate(&dir.join("gatehouse"), &url, &work)?;
        env.push(("VERCEL_ENV".to_owned(), "production".to_owned()));
        env.push(("DATABASE_URL".to_owned(), url));
        env.extend(issuer.env());
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Two builds side by side, {}\n\nbase: `{}`\nnew: `{}`\n\n{} rounds; in each, every case \
         on both builds (order alternated by round), `wrk -t{} -c{} -d{}` after a {} warm-up. \
         Production, `DATABASE_URL` set (TLS when the server offers it), revocation on, default \
         log level. Load average at start: {}.\n",
        system::now_utc(),
        base.display(),
        new.display(),
        opts.rounds,
        opts.threads,
        opts.connections,
        opts.duration,
        opts.warmup,
        system::load_average()
    );
    sizes(&mut out, dirs)?;
    cold_starts(&mut out, opts, dirs, &envs, &authorization, &work)?;

    let _ = writeln!(
        out,
        "\n| case | base req/s (rounds) | new req/s (rounds) | new / base (medians) | p99 base → new (medians) | non-2xx |\n|---|---|---|---:|---|---:|"
    );
    for case in CASES {
        let running: Vec<Running> = dirs
            .iter()
            .zip(BUILDS)
            .zip(&envs)
            .map(|((dir, build), env)| start(dir, case, build, env, &work))
            .collect::<Result<_, _>>()?;
        let headers: Vec<&str> = if case.authenticated {
            vec![authorization.as_str()]
        } else {
            Vec::new()
        };
        for (process, build) in running.iter().zip(BUILDS) {
            let reply = http::get(process.port, case.path, &headers, opts.timeout())
                .map_err(|err| process.failure(&err))?;
            if reply.status != 200 {
                return Err(process.failure(&format!(
                    "{build}: GET {} answered {}: {}",
                    case.path,
                    reply.status,
                    reply.body_excerpt()
                )));
            }
        }
        let mut series = [Series::default(), Series::default()];
        for round in 0..opts.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for index in order {
                let process = &running[index];
                let url = format!("http://127.0.0.1:{}{}", process.port, case.path);
                let mut settings = wrk::Settings {
                    threads: opts.threads,
                    connections: opts.connections,
                    duration: &opts.warmup,
                    headers: &headers,
                };
                wrk::run(&settings, &url).map_err(|err| process.failure(&err))?;
                settings.duration = &opts.duration;
                progress(&format!(
                    "round {}/{}: {} on {}",
                    round + 1,
                    opts.rounds,
                    case.bin,
                    BUILDS[index]
                ));
                let (load, _) = wrk::run(&settings, &url).map_err(|err| process.failure(&err))?;
                let entry = &mut series[index];
                entry.requests_per_sec.push(load.requests_per_sec);
                entry.p99_ms.push(load.p99_ms);
                entry.failed += load.non_2xx + load.socket_errors();
            }
        }
        for process in running {
            process.stop()?;
        }
        let [base, new] = &series;
        let ratio = median(&new.requests_per_sec) / median(&base.requests_per_sec);
        let rounds = |values: &[f64]| {
            values
                .iter()
                .map(|value| thousands(*value))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio:.2} | {} → {} | {} / {} |",
            case.label,
            rounds(&base.requests_per_sec),
            rounds(&new.requests_per_sec),
            ms(median(&base.p99_ms)),
            ms(median(&new.p99_ms)),
            base.failed,
            new.failed
        );
    }
    Ok(out)
}

/// Exec → first 200 of each cold case on both builds, alternated by round:
/// the median of each build's starts and their ratio.
fn cold_starts(
    out: &mut String,
    opts: &CompareOptions,
    dirs: [&PathBuf; 2],
    envs: &[Vec<(String, String)>; 2],
    authorization: &str,
    work: &Path,
) -> Result<(), String> {
    let _ = writeln!(
        out,
        "\n{COLD_STARTS_PER_ROUND} cold starts per build and round, after one discarded start.\n\n\
         | cold start, exec → first 200 | base (median) | new (median) | new / base | exec → ready, base → new |\n\
         |---|---:|---:|---:|---|"
    );
    for case in CASES.iter().filter(|case| case.cold_start) {
        let headers: Vec<&str> = if case.authenticated {
            vec![authorization]
        } else {
            Vec::new()
        };
        let mut first_200 = [Vec::new(), Vec::new()];
        let mut ready = [Vec::new(), Vec::new()];
        for round in 0..opts.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for index in order {
                progress(&format!(
                    "round {}/{}: cold starts of {} on {}",
                    round + 1,
                    opts.rounds,
                    case.bin,
                    BUILDS[index]
                ));
                let discarded = usize::from(round == 0);
                for run in 0..COLD_STARTS_PER_ROUND + discarded {
                    let tag = format!("{}-{}-cold-{round}-{run}", case.bin, BUILDS[index]);
                    let bin = dirs[index].join(case.bin);
                    let running = function::start(&Launch {
                        bin: &bin,
                        env: &envs[index],
                        work,
                        tag,
                    })?;
                    let reply = http::get(running.port, case.path, &headers, opts.timeout())
                        .map_err(|err| running.failure(&err))?;
                    let elapsed = running.started.elapsed();
                    if reply.status != 200 {
                        return Err(running.failure(&format!(
                            "{}: GET {} answered {}: {}",
                            BUILDS[index],
                            case.path,
                            reply.status,
                            reply.body_excerpt()
                        )));
                    }
                    let to_ready = running.ready_after;
                    running.stop()?;
                    if run >= discarded {
                        first_200[index].push(elapsed.as_secs_f64() * 1000.0);
                        ready[index].push(to_ready.as_secs_f64() * 1000.0);
                    }
                }
            }
        }
        let [base, new] = [median(&first_200[0]), median(&first_200[1])];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {} → {} |",
            case.label,
            ms(base),
            ms(new),
            new / base,
            ms(median(&ready[0])),
            ms(median(&ready[1]))
        );
    }
    Ok(())
}

/// Each function's size, and gzip -9's size of it: the platforms' zip
/// (deflate) lands close to it; `deploy/*/check` gives theirs exactly.
fn sizes(out: &mut String, dirs: [&PathBuf; 2]) -> Result<(), String> {
    let _ = writeln!(
        out,
        "| function | base | new | base gzip -9 | new gzip -9 |\n|---|---:|---:|---:|---:|"
    );
    for case in CASES {
        let mut row = format!("| `{}` |", case.bin);
        let mut zipped = String::new();
        for dir in dirs {
            let path = dir.join(case.bin);
            let size = std::fs::metadata(&path)
                .map_err(|err| format!("{}: {err}", path.display()))?
                .len();
            let _ = write!(row, " {} |", bytes(size));
            let _ = write!(zipped, " {} |", bytes(gzip_size(&path)?));
        }
        let _ = writeln!(out, "{row}{zipped}");
    }
    Ok(())
}

fn gzip_size(path: &Path) -> Result<u64, String> {
    let output = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map_err(|err| format!("could not run gzip: {err}"))?;
    if !output.status.success() {
        return Err(format!("gzip -9 {} failed", path.display()));
    }
    Ok(output.stdout.len() as u64)
}

fn start(
    dir: &Path,
    case: &Case,
    build: &str,
    env: &[(String, String)],
    work: &Path,
) -> Result<Running, String> {
    let bin = dir.join(case.bin);
    let mut running = function::start(&Launch {
        bin: &bin,
        env,
        work,
        tag: format!("{}-{build}", case.bin),
    })?;
    // Vercel reads the socket all along; so must we, or `end` frames stall.
    running.drain_ipc();
    Ok(running)
}

fn median(values: &[f64]) -> f64 {
    crate::stats::Summary::of(values).map_or(f64::NAN, |summary| summary.median)
}

fn progress(message: &str) {
    eprintln!("[gatehouse-bench compare] {message}");
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

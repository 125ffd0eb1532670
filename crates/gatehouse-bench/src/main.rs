//! `gatehouse-bench`: the benchmark harness of the Gatehouse functions.
//!
//! Drives the release binaries from outside, as the platform does, and
//! measures what the issue sets targets for: cold start (exec → ready, and →
//! first 200 with a database query), binary size, warm memory, and
//! throughput/latency under `wrk`. Prints a markdown report on stdout and
//! writes it, with a JSON copy, under `bench/results/`.
//!
//! Run it through `bench/run` (builds, installs wrk, starts PostgreSQL).
//! It reports whether targets are met; it is never part of the test suite.

mod args;
mod bench;
mod compare;
mod db;
mod function;
mod http;
mod jwt_issuer;
mod launch;
mod report;
mod stats;
mod system;
mod wrk;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match args::parse(std::env::args().skip(1)) {
        Ok(args::Parsed::Run(options)) => measure(&options),
        Ok(args::Parsed::Launch(options)) => launch::run(&options),
        Ok(args::Parsed::Compare(options)) => match compare::run(&options) {
            Ok(markdown) => {
                println!("{markdown}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("gatehouse-bench compare: {message}");
                ExitCode::FAILURE
            }
        },
        Ok(args::Parsed::Help(usage)) => {
            println!("{usage}");
            ExitCode::SUCCESS
        }
        Err(bad) => {
            eprintln!("gatehouse-bench: {}\n\n{}", bad.message, bad.usage);
            ExitCode::from(2)
        }
    }
}

/// The benchmark run: measure, report, save, judge the targets.
fn measure(options: &args::Options) -> ExitCode {
    let results = match bench::run(options) {
        Ok(results) => results,
        Err(message) => {
            eprintln!("gatehouse-bench: measurement failed: {message}");
            return ExitCode::FAILURE;
        }
    };
    let checks = report::checks(&results);
    let markdown = report::markdown(&results, &checks);
    println!("{markdown}");
    match save(&options.out_dir, &results, &checks, &markdown) {
        Ok(path) => eprintln!("[gatehouse-bench] report written to {path}"),
        Err(message) => eprintln!("gatehouse-bench: could not save the report: {message}"),
    }
    let missed: Vec<&str> = checks
        .iter()
        .filter(|check| !check.met)
        .map(|check| check.what.as_str())
        .collect();
    if missed.is_empty() {
        eprintln!("[gatehouse-bench] every target met");
    } else {
        eprintln!("[gatehouse-bench] targets not met: {}", missed.join("; "));
        if options.fail_on_miss {
            return ExitCode::from(3);
        }
    }
    ExitCode::SUCCESS
}

/// `OUT/<timestamp>.md` and `.json`, and `OUT/latest.md`.
fn save(
    out_dir: &Path,
    results: &bench::Results,
    checks: &[report::Check],
    markdown: &str,
) -> Result<String, String> {
    std::fs::create_dir_all(out_dir).map_err(|err| format!("{}: {err}", out_dir.display()))?;
    let stamp: String = results
        .machine
        .date_utc
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let write = |name: String, text: &str| {
        let path = out_dir.join(name);
        std::fs::write(&path, text).map_err(|err| format!("{}: {err}", path.display()))?;
        Ok::<_, String>(path)
    };
    let mut value = results.to_json();
    value["checks"] = report::checks_json(checks);
    let json = serde_json::to_string_pretty(&value).map_err(|err| err.to_string())?;
    let path = write(format!("{stamp}.md"), markdown)?;
    write(format!("{stamp}.json"), &json)?;
    write("latest.md".to_owned(), markdown)?;
    Ok(path.display().to_string())
}

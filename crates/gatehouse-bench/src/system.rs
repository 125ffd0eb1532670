//! The machine and the build the figures come from, and the binaries to
//! measure (read from the root Cargo.toml, as Vercel's builder does).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Machine {
    pub date_utc: String,
    pub nproc: String,
    pub cpu_model: String,
    pub mem_total: String,
    pub kernel: String,
    pub rustc: String,
    pub wrk: String,
    pub commit: String,
    pub release_profile: String,
}

impl Machine {
    pub fn probe(root: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let cpu_model = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".to_owned());
        let mem_total = field(&meminfo, "MemTotal")
            .and_then(|kib| kib.trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(
                || "unknown".to_owned(),
                |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
            );
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| format!("Linux {} ({})", release.trim(), std::env::consts::ARCH))
            .unwrap_or_else(|_| "unknown".to_owned());
        let nproc = command_line("nproc", &[], root)
            .or_else(|| {
                std::thread::available_parallelism()
                    .ok()
                    .map(|n| n.to_string())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let commit = match command_line("git", &["rev-parse", "--short=12", "HEAD"], root) {
            Some(sha) => {
                let dirty = command_line(
                    "git",
                    &["status", "--porcelain", "--untracked-files=no"],
                    root,
                )
                .is_some_and(|status| !status.is_empty());
                if dirty {
                    format!("{sha} (work tree modified)")
                } else {
                    sha
                }
            }
            None => "unknown".to_owned(),
        };
        let cargo_toml = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
        Machine {
            date_utc: now_utc(),
            nproc,
            cpu_model,
            mem_total,
            kernel,
            rustc: command_line("rustc", &["--version"], root)
                .unwrap_or_else(|| "unknown".to_owned()),
            wrk: command_line("wrk", &["--version"], root)
                .and_then(|text| text.lines().next().map(str::to_owned))
                .map(|line| {
                    line.split(" Copyright")
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                })
                .unwrap_or_else(|| "not installed".to_owned()),
            commit,
            release_profile: release_profile(&cargo_toml),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "date_utc": self.date_utc,
            "nproc": self.nproc,
            "cpu_model": self.cpu_model,
            "mem_total": self.mem_total,
            "kernel": self.kernel,
            "rustc": self.rustc,
            "wrk": self.wrk,
            "commit": self.commit,
            "release_profile": self.release_profile,
        })
    }
}

/// The 1, 5 and 15 minute load averages: how busy the shared machine was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// `2026-05-01T12:00:00Z`, from `date` (coreutils) to stay dependency-free.
pub fn now_utc() -> String {
    command_line("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"], Path::new("/")).unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        format!("unix {secs}")
    })
}

/// A function binary: its `[[bin]]` name and the route its file serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionBin {
    pub name: String,
    /// `api/health/detailed.rs` serves `/api/health/detailed`.
    pub route: String,
}

/// The binaries built from `api/`: the `[[bin]]` entries of the root
/// Cargo.toml whose `path` is under `api/`, in file order.
pub fn function_bins(cargo_toml: &str) -> Vec<FunctionBin> {
    let mut bins = Vec::new();
    let mut in_bin = false;
    let mut name: Option<String> = None;
    let mut path: Option<String> = None;
    let mut flush = |name: &mut Option<String>, path: &mut Option<String>| {
        if let (Some(name), Some(path)) = (name.take(), path.take())
            && path.starts_with("api/")
        {
            let route = format!("/{}", path.trim_end_matches(".rs"));
            bins.push(FunctionBin { name, route });
        }
    };
    for line in cargo_toml.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') {
            flush(&mut name, &mut path);
            in_bin = line == "[[bin]]";
            continue;
        }
        if !in_bin {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().trim_matches('"').to_owned();
            match key.trim() {
                "name" => name = Some(value),
                "path" => path = Some(value),
                _ => {}
            }
        }
    }
    flush(&mut name, &mut path);
    bins
}

/// The binaries serving the whole route table in one function (the one
/// Lambda for all routes): the `[[bin]]` entries whose `path` is under
/// `lambda/`, each measured on `route` (`/api/health`) beside the function
/// per route.
pub fn table_bins(cargo_toml: &str, route: &str) -> Vec<FunctionBin> {
    let mut bins = Vec::new();
    let (mut in_bin, mut name, mut path) = (false, None::<String>, None::<String>);
    let mut flush = |name: &mut Option<String>, path: &mut Option<String>| {
        if let (Some(name), Some(path)) = (name.take(), path.take())
            && path.starts_with("lambda/")
        {
            bins.push(FunctionBin {
                name,
                route: route.to_owned(),
            });
        }
    };
    for line in cargo_toml.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') {
            flush(&mut name, &mut path);
            in_bin = line == "[[bin]]";
            continue;
        }
        if let (true, Some((key, value))) = (in_bin, line.split_once('=')) {
            let value = value.trim().trim_matches('"').to_owned();
            match key.trim() {
                "name" => name = Some(value),
                "path" => path = Some(value),
                _ => {}
            }
        }
    }
    flush(&mut name, &mut path);
    bins
}

/// `[profile.release]` as one line: `opt-level = 3, lto = "thin", ...`.
fn release_profile(cargo_toml: &str) -> String {
    let mut inside = false;
    let mut settings = Vec::new();
    for line in cargo_toml.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') {
            inside = line == "[profile.release]";
        } else if inside && !line.is_empty() {
            settings.push(line.to_owned());
        }
    }
    if settings.is_empty() {
        "defaults".to_owned()
    } else {
        settings.join(", ")
    }
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// The trimmed stdout (or stderr, which `wrk --version` uses) of a command.
fn command_line(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() {
        return Some(stdout);
    }
    let text = if stdout.is_empty() {
        String::from_utf8_lossy(&output.stderr).trim().to_owned()
    } else {
        stdout
    };
    (program == "wrk" && !text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO_TOML: &str = r#"
[package]
name = "gatehouse-functions"
autobins = false

[[bin]]
name = "health"
path = "api/health.rs"

[[bin]]
path = "api/health/detailed.rs"  # path first
name = "health-detailed"

[[bin]]
name = "tool"
path = "src/bin/tool.rs"

[[bin]]
name = "all-routes"
path = "lambda/all-routes.rs"

[dependencies]
gatehouse.workspace = true

[profile.release]
opt-level = 3
lto = "thin" # comment
"#;

    #[test]
    fn finds_the_function_bins() {
        let bins: Vec<(String, String)> = function_bins(CARGO_TOML)
            .into_iter()
            .map(|bin| (bin.name, bin.route))
            .collect();
        assert_eq!(
            bins,
            [
                ("health".to_owned(), "/api/health".to_owned()),
                (
                    "health-detailed".to_owned(),
                    "/api/health/detailed".to_owned()
                )
            ]
        );
        assert!(function_bins("[package]\nname = \"x\"\n").is_empty());
        assert_eq!(
            table_bins(CARGO_TOML, "/api/health"),
            [FunctionBin {
                name: "all-routes".to_owned(),
                route: "/api/health".to_owned()
            }]
        );
    }

    #[test]
    fn reads_the_release_profile() {
        assert_eq!(release_profile(CARGO_TOML), "opt-level = 3, lto = \"thin\"");
        assert_eq!(release_profile(""), "defaults");
    }
}

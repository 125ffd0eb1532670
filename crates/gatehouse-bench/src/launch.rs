//! `gatehouse-bench launch`: one function started through `gatehouse-launch`
//! for a bash benchmark, which cannot listen on a Unix socket or read NUL
//! framed JSON itself. It prints one `ready …` line and then stands in for
//! the platform's end of the socket until the function or its caller goes.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsFd as _;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::thread;
use std::time::Duration;

use gatehouse_launch::StartError;

use crate::args::LaunchOptions;
use crate::function::{self, READY_TIMEOUT};

/// How often the function and the caller are checked on.
const WATCH_EVERY: Duration = Duration::from_millis(100);

pub fn run(options: &LaunchOptions) -> ExitCode {
    match serve(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse-bench launch: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Returns once the caller is gone (`Ok`, the function is stopped on the
/// way out) or the function failed to start or exited (`Err`).
fn serve(options: &LaunchOptions) -> Result<(), String> {
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| function::bin_name(&options.bin));
    let caller = std::os::unix::process::parent_id();
    let ready = gatehouse_launch::Launch::new(&options.bin, &options.work)
        .socket_name(&name)
        .envs(options.env.iter().map(|(key, value)| (key, value)))
        .stdout(output(options.stdout.as_deref())?)
        .stderr(output(options.stderr.as_deref())?)
        .ready_timeout(READY_TIMEOUT)
        .start()
        .map_err(|err| match err {
            StartError::Spawn(err) => format!("{name}: {err}"),
            StartError::NotReady(not_ready) => {
                let problem = not_ready.reason.to_string();
                match &options.stderr {
                    Some(path) => function::failure(&name, not_ready.process.id(), path, &problem),
                    None => format!("{name} (pid {}): {problem}", not_ready.process.id()),
                }
            }
        })?;
    let socket = options.work.join(format!("{name}.sock"));
    let addr = ready.addr();
    let mut process = ready.process;
    let pid = process.id();
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "ready url=http://{addr} port={port} pid={pid} ipc={socket} ready_ms={ms:.3}",
        port = ready.port,
        socket = socket.display(),
        ms = ready.ready_after.as_secs_f64() * 1000.0,
    )
    .and_then(|()| stdout.flush())
    .map_err(|err| format!("{name}: cannot print the ready line: {err}"))?;
    drop(stdout);

    let ipc = ready.ipc;
    thread::spawn(move || function::drain(ipc, |_| ()));
    loop {
        thread::sleep(WATCH_EVERY);
        if let Ok(Some(status)) = process.try_wait() {
            return Err(format!("{name} (pid {pid}) exited on its own ({status})"));
        }
        // Reparented: the caller died without stopping us (killed, or a
        // `set -e` exit that skipped its clean-up). Dropping `process`
        // stops the function.
        if std::os::unix::process::parent_id() != caller {
            return Ok(());
        }
    }
}

/// A file the caller named, or this process's stderr: never its stdout,
/// which carries the ready line alone.
fn output(path: Option<&Path>) -> Result<Stdio, String> {
    match path {
        Some(path) => File::create(path)
            .map(Stdio::from)
            .map_err(|err| format!("create {}: {err}", path.display())),
        None => std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map(Stdio::from)
            .map_err(|err| format!("duplicate stderr: {err}")),
    }
}

//! A function binary started for a measurement, through `gatehouse-launch`
//! (the start the integration tests use too): a fresh Unix socket in
//! `VERCEL_IPC_PATH`, a free port in `VERCEL_DEV_PORT`, and "ready" is the
//! moment the `server-started` frame's NUL byte arrives. Its stderr goes to
//! a file in the scratch directory, quoted when a measurement fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gatehouse_launch::{Ipc, KillOnDrop, StartError};

/// How long a binary may take to report ready before the run is a failure.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Launch<'a> {
    pub bin: &'a Path,
    /// The whole environment (the harness's own is not inherited).
    pub env: &'a [(String, String)],
    /// Scratch directory for the socket and the captured stderr.
    pub work: &'a Path,
    /// Unique per start: names the socket and the stderr file.
    pub tag: String,
}

/// A started function. Killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Running {
    process: KillOnDrop,
    name: String,
    pub port: u16,
    /// Just before `spawn` (fork + exec).
    pub started: Instant,
    /// From `started` to the `server-started` frame's NUL byte being read.
    pub ready_after: Duration,
    ipc: Option<Ipc>,
    stderr_path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now, in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size, in KiB (`VmHWM`).
    pub hwm_kib: u64,
}

pub fn start(launch: &Launch<'_>) -> Result<Running, String> {
    let name = bin_name(launch.bin);
    let stderr_path = launch.work.join(format!("{}.stderr", launch.tag));
    let stderr = File::create(&stderr_path)
        .map_err(|err| format!("create {}: {err}", stderr_path.display()))?;
    let ready = gatehouse_launch::Launch::new(launch.bin, launch.work)
        .socket_name(&launch.tag)
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .stderr(stderr)
        .ready_timeout(READY_TIMEOUT)
        .start()
        .map_err(|err| match err {
            StartError::Spawn(err) => err.to_string(),
            StartError::NotReady(not_ready) => failure(
                &name,
                not_ready.process.id(),
                &stderr_path,
                &not_ready.reason.to_string(),
            ),
        })?;
    Ok(Running {
        process: ready.process,
        name,
        port: ready.port,
        started: ready.started,
        ready_after: ready.ready_after,
        ipc: Some(ready.ipc),
        stderr_path,
    })
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    pub fn memory(&self) -> Result<Memory, String> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).map_err(|err| format!("read {path}: {err}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .ok_or_else(|| format!("{path} has no {name} line"))
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            hwm_kib: field("VmHWM:")?,
        })
    }

    /// Keeps reading the IPC socket (as Vercel does) so the runtime's
    /// blocking writes of `end` frames never stall; returns the count of
    /// frames received after `server-started`.
    pub fn drain_ipc(&mut self) -> Arc<AtomicU64> {
        let frames = Arc::new(AtomicU64::new(0));
        if let Some(ipc) = self.ipc.take() {
            let counter = frames.clone();
            thread::spawn(move || drain(ipc, |_| counter.fetch_add(1, Ordering::Relaxed)));
        }
        frames
    }

    /// Fails if the process died on its own (a crash under load); otherwise
    /// kills it.
    pub fn stop(mut self) -> Result<(), String> {
        match self.process.try_wait() {
            Ok(Some(status)) => Err(self.failure(&format!("exited on its own ({status})"))),
            _ => Ok(()),
        }
    }

    /// An error message naming the binary, with the end of its stderr.
    pub fn failure(&self, problem: &str) -> String {
        failure(&self.name, self.pid(), &self.stderr_path, problem)
    }
}

/// Reads frames until the function closes the socket, handing each to
/// `on_frame`.
pub fn drain<T>(mut ipc: Ipc, mut on_frame: impl FnMut(&[u8]) -> T) {
    while let Ok(Some(frame)) = ipc.next_frame() {
        on_frame(frame);
    }
}

/// The binary's file name, for messages.
pub fn bin_name(bin: &Path) -> String {
    bin.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| bin.display().to_string())
}

/// `name (pid PID): problem`, with the last lines of the stderr file.
pub fn failure(name: &str, pid: u32, stderr_path: &Path, problem: &str) -> String {
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    let mut message = format!("{name} (pid {pid}): {problem}");
    if !tail.is_empty() {
        message.push_str("\n  stderr (last lines):");
        for line in tail.into_iter().rev() {
            message.push_str("\n    ");
            message.push_str(line);
        }
    }
    message
}

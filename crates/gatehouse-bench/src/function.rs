//! Starts a function binary the way Vercel does: a fresh Unix socket in
//! `VERCEL_IPC_PATH`, a free port in `VERCEL_DEV_PORT`, and "ready" is the
//! moment the `server-started` frame (JSON, then a NUL byte) arrives.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

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
    child: Child,
    name: String,
    pub port: u16,
    /// Just before `spawn` (fork + exec).
    pub started: Instant,
    /// From `started` to the `server-started` frame's NUL byte being read.
    pub ready_after: Duration,
    ipc: Option<UnixStream>,
    stderr_path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now, in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size, in KiB (`VmHWM`).
    pub hwm_kib: u64,
}

#[derive(Debug)]
struct Frame {
    at: Instant,
    json: Vec<u8>,
    stream: UnixStream,
}

pub fn start(launch: &Launch<'_>) -> Result<Running, String> {
    let name = launch
        .bin
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| launch.bin.display().to_string());
    let port = free_port()?;
    let socket = launch.work.join(format!("{}.sock", launch.tag));
    let _ = std::fs::remove_file(&socket);
    let listener =
        UnixListener::bind(&socket).map_err(|err| format!("bind {}: {err}", socket.display()))?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(first_frame(&listener));
    });
    let stderr_path = launch.work.join(format!("{}.stderr", launch.tag));
    let stderr = File::create(&stderr_path)
        .map_err(|err| format!("create {}: {err}", stderr_path.display()))?;
    let mut command = Command::new(launch.bin);
    command
        .env_clear()
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .env("VERCEL_IPC_PATH", &socket)
        .env("VERCEL_DEV_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);

    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|err| format!("could not start {}: {err}", launch.bin.display()))?;
    let mut running = Running {
        child,
        name,
        port,
        started,
        ready_after: Duration::ZERO,
        ipc: None,
        stderr_path,
    };

    // The reader thread stamps the frame's arrival; this loop only watches
    // for a child that died or a timeout, so its polling adds nothing.
    let outcome = loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(outcome) => break outcome,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err("the IPC reader stopped".to_owned());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            break Err(format!("exited ({status}) before it reported ready"));
        }
        if started.elapsed() > READY_TIMEOUT {
            break Err(format!(
                "sent no server-started frame within {READY_TIMEOUT:?}"
            ));
        }
    };
    if outcome.is_err() {
        // Unblock the reader thread if it still waits in accept().
        let _ = UnixStream::connect(&socket);
    }
    let _ = std::fs::remove_file(&socket);
    let frame = outcome.map_err(|problem| running.failure(&problem))?;
    running.ready_after = frame.at.duration_since(started);
    check_frame(&frame.json, port).map_err(|problem| running.failure(&problem))?;
    running.ipc = Some(frame.stream);
    Ok(running)
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
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
        if let Some(mut stream) = self.ipc.take() {
            let counter = frames.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 64 * 1024];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let nuls = buf[..n].iter().filter(|byte| **byte == 0).count() as u64;
                    counter.fetch_add(nuls, Ordering::Relaxed);
                }
            });
        }
        frames
    }

    /// Fails if the process died on its own (a crash under load); otherwise
    /// kills it.
    pub fn stop(mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(self.failure(&format!("exited on its own ({status})"))),
            _ => Ok(()),
        }
    }

    /// An error message naming the binary, with the end of its stderr.
    pub fn failure(&self, problem: &str) -> String {
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let mut message = format!("{} (pid {}): {problem}", self.name, self.child.id());
        if !tail.is_empty() {
            message.push_str("\n  stderr (last lines):");
            for line in tail.into_iter().rev() {
                message.push_str("\n    ");
                message.push_str(line);
            }
        }
        message
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|err| format!("no free port: {err}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|err| format!("no free port: {err}"))
}

fn first_frame(listener: &UnixListener) -> Result<Frame, String> {
    let (mut stream, _) = listener
        .accept()
        .map_err(|err| format!("IPC accept: {err}"))?;
    stream
        .set_read_timeout(Some(READY_TIMEOUT))
        .map_err(|err| format!("IPC set_read_timeout: {err}"))?;
    let mut json = Vec::with_capacity(128);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream
            .read(&mut chunk)
            .map_err(|err| format!("IPC read: {err}"))?;
        if n == 0 {
            return Err("closed the IPC socket before the server-started frame".to_owned());
        }
        if let Some(end) = chunk[..n].iter().position(|byte| *byte == 0) {
            let at = Instant::now();
            json.extend_from_slice(&chunk[..end]);
            stream
                .set_read_timeout(None)
                .map_err(|err| format!("IPC set_read_timeout: {err}"))?;
            return Ok(Frame { at, json, stream });
        }
        json.extend_from_slice(&chunk[..n]);
    }
}

fn check_frame(json: &[u8], port: u16) -> Result<(), String> {
    let text = String::from_utf8_lossy(json);
    let frame: serde_json::Value = serde_json::from_slice(json)
        .map_err(|err| format!("first IPC frame is not JSON ({err}): {text}"))?;
    if frame["type"] != "server-started" {
        return Err(format!("first IPC frame is not server-started: {text}"));
    }
    if frame["payload"]["httpPort"] != port {
        return Err(format!(
            "server-started reports another port than {port}: {text}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_ready_frame() {
        let frame = br#"{"type":"server-started","payload":{"initDuration":0,"httpPort":4001}}"#;
        assert_eq!(check_frame(frame, 4001), Ok(()));
        assert!(check_frame(frame, 4002).is_err());
        assert!(check_frame(br#"{"type":"log","payload":{}}"#, 4001).is_err());
        assert!(check_frame(b"Dev server listening: 4001", 4001).is_err());
    }
}

//! Starts a function binary the way Vercel does, for everything that runs
//! one from outside: the integration tests (`tests/integration/support/
//! function.rs`), the benchmark harness (`gatehouse-bench`) and, through
//! `gatehouse-bench launch`, the bash benchmarks (`bench/auth-session`,
//! `bench/tasks`).
//!
//! The protocol, as `vercel_runtime` 2.x speaks it: the platform listens on
//! a fresh Unix socket and names it in `VERCEL_IPC_PATH`, names the port to
//! serve in `VERCEL_DEV_PORT`, and starts the binary with the function's
//! environment and nothing of its own. The function binds the port,
//! connects to the socket and sends `{"type":"server-started",…}` followed
//! by a NUL byte: that byte is "ready". Its later frames (`end`, one per
//! invocation carrying Vercel's internal headers) come on the same
//! connection, read through [`Ipc`].
//!
//! One implementation, so that what "ready" means, what is checked about the
//! first frame and how exec → ready is timed cannot drift apart between the
//! tests that prove the protocol and the benchmarks that time it.
//!
//! ```no_run
//! # fn main() -> Result<(), gatehouse_launch::StartError> {
//! let scratch = std::env::temp_dir();
//! let ready = gatehouse_launch::Launch::new("target/release/health", &scratch)
//!     .env("VERCEL_ENV", "production")
//!     .start()?;
//! println!("{} ready after {:?}", ready.addr(), ready.ready_after);
//! # Ok(())
//! # }
//! ```
//!
//! [`Launch::start`] starts in one call. A caller that reads the child's
//! piped output while it starts (the tests capture it in memory) calls
//! [`Launch::spawn`], takes the pipes from [`Starting::process_mut`], then
//! [`Starting::wait_ready`].

mod child;
mod error;
mod ipc;

use std::ffi::OsString;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

pub use child::KillOnDrop;
pub use error::{NotReady, Reason, SpawnError, StartError};
pub use ipc::Ipc;

/// How long a function may take to send `server-started` unless the caller
/// says otherwise: a cold start is milliseconds, so this only bounds a
/// function that hangs.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// What to start and how. Nothing of the caller's environment is passed on:
/// the function gets the [`Launch::env`] pairs, `VERCEL_IPC_PATH` and
/// `VERCEL_DEV_PORT`, as a deployed function gets its project's variables
/// and the platform's. Its stdin is closed; stdout and stderr are discarded
/// unless the caller gives them somewhere to go.
#[derive(Debug)]
pub struct Launch {
    bin: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    scratch: PathBuf,
    socket_name: String,
    current_dir: Option<PathBuf>,
    stdout: Stdio,
    stderr: Stdio,
    ready_timeout: Duration,
}

impl Launch {
    /// Starts `bin`, its IPC socket created in `scratch`, an existing
    /// directory the caller owns (and removes).
    pub fn new(bin: impl Into<PathBuf>, scratch: impl Into<PathBuf>) -> Launch {
        Launch {
            bin: bin.into(),
            args: Vec::new(),
            env: Vec::new(),
            scratch: scratch.into(),
            socket_name: "ipc".to_owned(),
            current_dir: None,
            stdout: Stdio::null(),
            stderr: Stdio::null(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }

    /// One variable of the function's environment.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Launch {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Variables of the function's environment; a later pair wins over an
    /// earlier one with the same key.
    pub fn envs<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Launch
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.env.extend(
            vars.into_iter()
                .map(|(key, value)| (key.into(), value.into())),
        );
        self
    }

    /// An argument. Vercel passes none; the launcher's own tests start
    /// their test binary as a stand-in function, which needs its filter.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Launch {
        self.args.push(arg.into());
        self
    }

    /// The socket is `SCRATCH/NAME.sock` (default `ipc.sock`): a caller that
    /// starts several functions in one directory names each.
    pub fn socket_name(mut self, name: impl Into<String>) -> Launch {
        self.socket_name = name.into();
        self
    }

    /// The function's working directory (default: the caller's). A test
    /// gives it an empty one, so that no `.env` file is read.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Launch {
        self.current_dir = Some(dir.into());
        self
    }

    /// Where the function's stdout goes (default: discarded).
    pub fn stdout(mut self, stdout: impl Into<Stdio>) -> Launch {
        self.stdout = stdout.into();
        self
    }

    /// Where the function's stderr, its log, goes (default: discarded).
    pub fn stderr(mut self, stderr: impl Into<Stdio>) -> Launch {
        self.stderr = stderr.into();
        self
    }

    /// How long the function may take to send `server-started`, from just
    /// before it is spawned (default [`DEFAULT_READY_TIMEOUT`]).
    pub fn ready_timeout(mut self, timeout: Duration) -> Launch {
        self.ready_timeout = timeout;
        self
    }

    /// Spawns the function and waits for it to be ready.
    pub fn start(self) -> Result<Ready, StartError> {
        Ok(self.spawn()?.wait_ready()?)
    }

    /// Creates the socket, chooses the port and spawns the function, without
    /// waiting: [`Starting::wait_ready`] does.
    pub fn spawn(self) -> Result<Starting, SpawnError> {
        let socket = self.scratch.join(format!("{}.sock", self.socket_name));
        // A socket file left by an earlier run would make bind fail.
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).map_err(|source| SpawnError::Socket {
            path: socket.clone(),
            source,
        })?;
        let timeout = self.ready_timeout;
        let (sender, first_frame) = mpsc::channel();
        // The reader stamps the frame's arrival itself, so that exec → ready
        // owes nothing to how often `wait_ready` polls.
        thread::spawn(move || {
            let _ = sender.send(read_first_frame(&listener, timeout));
        });
        match self.spawn_child(&socket) {
            Ok((process, port, started)) => Ok(Starting {
                process,
                port,
                socket,
                started,
                timeout,
                first_frame,
            }),
            Err(err) => {
                release(&socket);
                Err(err)
            }
        }
    }

    fn spawn_child(self, socket: &Path) -> Result<(KillOnDrop, u16, Instant), SpawnError> {
        // `vercel_runtime` binds the port it is given and reports that
        // number, so the launcher must choose it. The probe is held until
        // just before the spawn, to keep the window in which another
        // process could take the port short.
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(SpawnError::Port)?;
        let port = probe.local_addr().map_err(SpawnError::Port)?.port();
        let mut command = Command::new(&self.bin);
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env)
            .env("VERCEL_IPC_PATH", socket)
            .env("VERCEL_DEV_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(self.stdout)
            .stderr(self.stderr);
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        drop(probe);
        let started = Instant::now();
        let child = command.spawn().map_err(|source| SpawnError::Spawn {
            bin: self.bin.clone(),
            source,
        })?;
        Ok((KillOnDrop::from(child), port, started))
    }
}

/// A spawned function that has not reported ready yet.
#[derive(Debug)]
pub struct Starting {
    process: KillOnDrop,
    port: u16,
    socket: PathBuf,
    started: Instant,
    timeout: Duration,
    first_frame: Receiver<Result<FirstFrame, Reason>>,
}

#[derive(Debug)]
struct FirstFrame {
    /// When the read that brought the frame's NUL byte returned.
    at: Instant,
    json: Vec<u8>,
    ipc: Ipc,
}

impl Starting {
    /// The process, to take its piped stdout and stderr before waiting.
    pub fn process_mut(&mut self) -> &mut KillOnDrop {
        &mut self.process
    }

    /// The port given in `VERCEL_DEV_PORT`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the `server-started` frame and checks it: it must be the
    /// first frame and report the port given. Fails as soon as the process
    /// exits, and at the timeout.
    pub fn wait_ready(self) -> Result<Ready, NotReady> {
        let Starting {
            mut process,
            port,
            socket,
            started,
            timeout,
            first_frame,
        } = self;
        let outcome = loop {
            match first_frame.recv_timeout(Duration::from_millis(20)) {
                Ok(outcome) => break outcome,
                Err(RecvTimeoutError::Disconnected) => {
                    break Err(Reason::Ipc(io::Error::other("the IPC reader stopped")));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if let Ok(Some(status)) = process.try_wait() {
                break Err(Reason::Exited(status));
            }
            if started.elapsed() > timeout {
                break Err(Reason::TimedOut(timeout));
            }
        };
        release(&socket);
        let checked = outcome.and_then(|frame| {
            ipc::check_server_started(&frame.json, port)?;
            Ok(frame)
        });
        match checked {
            Ok(frame) => Ok(Ready {
                process,
                port,
                ipc: frame.ipc,
                started,
                ready_after: frame.at.duration_since(started),
            }),
            Err(reason) => Err(NotReady { process, reason }),
        }
    }
}

/// A function that reported ready. Dropping it kills the process.
#[derive(Debug)]
pub struct Ready {
    pub process: KillOnDrop,
    /// The port it serves HTTP on, on 127.0.0.1.
    pub port: u16,
    /// The rest of the IPC connection: read it (as Vercel does) when the
    /// function will write frames, or it blocks once the socket's buffer
    /// is full.
    pub ipc: Ipc,
    /// Just before the spawn (fork + exec).
    pub started: Instant,
    /// From `started` to the read that brought `server-started`'s NUL byte.
    pub ready_after: Duration,
}

impl Ready {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

/// A loopback port that was free a moment ago (bound to port 0, then
/// released), for a process that must be told its port.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Accepts the function's connection and reads up to the first NUL byte.
fn read_first_frame(listener: &UnixListener, timeout: Duration) -> Result<FirstFrame, Reason> {
    let (stream, _) = listener.accept().map_err(Reason::Ipc)?;
    let mut ipc = Ipc::new(stream);
    ipc.stream()
        .set_read_timeout(Some(timeout))
        .map_err(Reason::Ipc)?;
    let (at, json) = match ipc.next_frame() {
        Ok(Some(frame)) => (Instant::now(), frame.to_vec()),
        Ok(None) => return Err(Reason::ClosedIpc),
        Err(err) => return Err(Reason::Ipc(err)),
    };
    ipc.stream().set_read_timeout(None).map_err(Reason::Ipc)?;
    Ok(FirstFrame { at, json, ipc })
}

/// Removes the socket file (the function, if it connected, keeps its
/// connection) and wakes a reader still waiting in `accept`.
fn release(socket: &Path) {
    let _ = UnixStream::connect(socket);
    let _ = std::fs::remove_file(socket);
}

#[cfg(test)]
mod tests;

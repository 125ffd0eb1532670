//! How a start fails: before the function runs ([`SpawnError`]), or after
//! ([`NotReady`], with the process, whose output says why).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use crate::KillOnDrop;

/// A function that did not report ready, with its process (running, or
/// exited and not reaped yet) for the caller's report: its output tells
/// why. Dropping it kills the process.
#[derive(Debug)]
pub struct NotReady {
    pub process: KillOnDrop,
    pub reason: Reason,
}

/// Why a start failed after the spawn.
#[derive(Debug)]
pub enum Reason {
    /// It exited before `server-started`: a port lost to another process,
    /// a configuration refused at cold start, a crash.
    Exited(ExitStatus),
    /// It connected and closed the socket before a whole frame.
    ClosedIpc,
    /// No `server-started` within the timeout.
    TimedOut(Duration),
    /// Accepting or reading the socket failed.
    Ipc(io::Error),
    /// The first frame is not JSON.
    NotJson(String),
    /// The first frame is JSON, but not `server-started`.
    NotServerStarted(String),
    /// `server-started` names another port than the one given.
    WrongPort { expected: u16, frame: String },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Exited(status) => write!(f, "exited ({status}) before it reported ready"),
            Reason::ClosedIpc => {
                f.write_str("closed the IPC socket before the server-started frame")
            }
            Reason::TimedOut(timeout) => {
                write!(f, "sent no server-started frame within {timeout:?}")
            }
            Reason::Ipc(err) => write!(f, "IPC socket: {err}"),
            Reason::NotJson(frame) => write!(f, "first IPC frame is not JSON: {frame}"),
            Reason::NotServerStarted(frame) => {
                write!(f, "first IPC frame is not server-started: {frame}")
            }
            Reason::WrongPort { expected, frame } => {
                write!(
                    f,
                    "server-started reports another port than {expected}: {frame}"
                )
            }
        }
    }
}

impl std::error::Error for Reason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Reason::Ipc(err) => Some(err),
            _ => None,
        }
    }
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}: {}", self.process.id(), self.reason)
    }
}

impl std::error::Error for NotReady {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.reason)
    }
}

/// A start that failed before the function ran.
#[derive(Debug)]
pub enum SpawnError {
    Socket { path: PathBuf, source: io::Error },
    Port(io::Error),
    Spawn { bin: PathBuf, source: io::Error },
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Socket { path, .. } => write!(f, "cannot listen on {}", path.display()),
            SpawnError::Port(_) => f.write_str("no free loopback port"),
            SpawnError::Spawn { bin, .. } => write!(f, "cannot start {}", bin.display()),
        }?;
        let (SpawnError::Socket { source, .. }
        | SpawnError::Port(source)
        | SpawnError::Spawn { source, .. }) = self;
        write!(f, ": {source}")
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let (SpawnError::Socket { source, .. }
        | SpawnError::Port(source)
        | SpawnError::Spawn { source, .. }) = self;
        Some(source)
    }
}

/// Either failure of [`Launch::start`](crate::Launch::start).
#[derive(Debug)]
pub enum StartError {
    Spawn(SpawnError),
    NotReady(NotReady),
}

impl From<SpawnError> for StartError {
    fn from(err: SpawnError) -> StartError {
        StartError::Spawn(err)
    }
}

impl From<NotReady> for StartError {
    fn from(err: NotReady) -> StartError {
        StartError::NotReady(err)
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spawn(err) => err.fmt(f),
            StartError::NotReady(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Spawn(err) => err.source(),
            StartError::NotReady(err) => Some(&err.reason),
        }
    }
}

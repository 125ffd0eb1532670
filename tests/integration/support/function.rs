//! A compiled binary running as a child process, driven as a platform drives
//! it: a chosen environment (nothing inherited), stdout and stderr captured,
//! killed on drop. Every wait is bounded and fails with the process's own
//! output in the message. Functions under the Vercel protocol are started by
//! `gatehouse-launch`, as the benchmarks start them.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use gatehouse_launch::{Ipc, KillOnDrop, Launch, Reason};
use serde_json::Value;

pub const HEALTH: &str = env!("CARGO_BIN_EXE_health");
pub const HEALTH_DETAILED: &str = env!("CARGO_BIN_EXE_health-detailed");

/// How long a process may take to start, or to answer what a test waits for.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The `gatehouse` CLI. It belongs to another package, so Cargo does not
/// build it for these tests: `tests/run` builds the workspace first. A
/// missing or stale binary fails the test; it is never skipped.
#[track_caller]
pub fn gatehouse_cli() -> PathBuf {
    built_binary(
        "gatehouse",
        &["crates/gatehouse/src", "crates/gatehouse-cli/src", "src"],
        "cargo build --workspace",
    )
}

/// The test-only `panic-probe` function (cargo feature `panic-probe`, which
/// `tests/run` enables), or the binary `GATEHOUSE_PANIC_PROBE` names:
/// `deploy/aws/check` points it at the one cargo-lambda built with the
/// release profile. Missing is a failure with the fix, never a skip.
#[track_caller]
pub fn panic_probe() -> PathBuf {
    if let Some(path) = std::env::var_os("GATEHOUSE_PANIC_PROBE") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "GATEHOUSE_PANIC_PROBE={} is not a file",
            path.display()
        );
        return path;
    }
    built_binary(
        "panic-probe",
        &["crates/gatehouse/src", "tests/functions"],
        "cargo build --features panic-probe",
    )
}

/// `name` in the target directory, failing (with `build`, the command that
/// makes it) when it is missing or older than any file under `sources`.
#[track_caller]
fn built_binary(name: &str, sources: &[&str], build: &str) -> PathBuf {
    let binary = Path::new(HEALTH).with_file_name(name);
    let Ok(built) = std::fs::metadata(&binary).and_then(|meta| meta.modified()) else {
        panic!(
            "{} does not exist: run `{build}` first (tests/run does)",
            binary.display()
        );
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest = sources
        .iter()
        .filter_map(|dir| newest_mtime(&root.join(dir)))
        .max();
    if let Some(newest) = newest {
        assert!(
            built >= newest,
            "{} is older than its sources: run `{build}` first (tests/run does)",
            binary.display()
        );
    }
    binary
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let mtime = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|meta| meta.modified()).ok()
        };
        newest = newest.max(mtime);
    }
    newest
}

/// The test-only `readme-example` function (cargo feature `readme-example`,
/// which `tests/run` enables): README's "Your own function".
#[track_caller]
pub fn readme_example() -> PathBuf {
    built_binary(
        "readme-example",
        &["crates/gatehouse/src", "tests/functions"],
        "cargo build --features readme-example",
    )
}

/// `gatehouse dev --port 0` with only `env` set, once it listens: the
/// process and the loopback address it chose.
#[track_caller]
pub fn start_dev(env: &[(&str, &str)]) -> (Process, SocketAddr) {
    let dev = Process::spawn(
        &gatehouse_cli().to_string_lossy(),
        &["dev", "--port", "0"],
        env,
    );
    dev_ready(dev)
}

/// As [`start_dev`] on a chosen `port`, for a test that must name the
/// address in the server's own environment (a `VERCEL_BRANCH_URL`).
#[track_caller]
pub fn start_dev_on(port: u16, env: &[(&str, &str)]) -> (Process, SocketAddr) {
    let port = port.to_string();
    let dev = Process::spawn(
        &gatehouse_cli().to_string_lossy(),
        &["dev", "--port", &port],
        env,
    );
    dev_ready(dev)
}

/// As [`start_dev`], in `dir` (kept by the caller).
#[track_caller]
pub fn start_dev_at(dir: &Path, env: &[(&str, &str)]) -> (Process, SocketAddr) {
    let dev = Process::spawn_at(
        dir,
        &gatehouse_cli().to_string_lossy(),
        &["dev", "--port", "0"],
        env,
    );
    dev_ready(dev)
}

#[track_caller]
fn dev_ready(mut dev: Process) -> (Process, SocketAddr) {
    let line = dev.wait_stdout_line("gatehouse dev: listening on http://", READY_TIMEOUT);
    let addr: SocketAddr = line
        .rsplit("http://")
        .next()
        .and_then(|addr| addr.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (dev, addr)
}

/// Runs `gatehouse <args>` to completion with only `env` set, in an empty
/// temporary directory (so no `.env` is read), with `stdin` as its input.
pub fn run_cli(args: &[&str], env: &[(&str, &str)], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let dir = TempDir::new();
    let mut child = Command::new(gatehouse_cli())
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gatehouse runs");
    let mut input = child.stdin.take().expect("piped stdin");
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().expect("gatehouse finishes")
}

/// What a child printed, once it exited or was killed at its deadline.
pub struct Finished {
    /// `None` when the deadline passed and the child was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

/// Feeds `input` to a child spawned with piped stdin (when given), stdout and
/// stderr, reads both outputs on their own threads (so a full pipe never
/// stalls it), and waits at most `timeout`, killing it then.
pub fn finish_within(
    mut child: std::process::Child,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Finished {
    use std::io::Write as _;
    let writer = child.stdin.take().map(|mut stdin| {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input.unwrap_or_default());
        })
    });
    let read = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Runs a future to completion on a private runtime, for the async database
/// helpers in otherwise synchronous tests.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
        .block_on(future)
}

/// A directory removed on drop (the IPC socket, the CLI's working directory).
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path =
            std::env::temp_dir().join(format!("gatehouse-it-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port that was free a moment ago. `vercel_runtime` binds the port it is
/// given and reports that number, so the test must choose it; a lost race
/// shows as a bind failure, which [`VercelFunction::start`] retries.
pub fn free_port() -> u16 {
    gatehouse_launch::free_port().expect("a free loopback port")
}

/// Output captured from one stream, with a condition variable so a test can
/// wait for a line without sleeping.
#[derive(Clone, Default)]
struct Captured(Arc<Shared>);

#[derive(Default)]
struct Shared {
    state: Mutex<Stream>,
    changed: Condvar,
}

#[derive(Default)]
struct Stream {
    bytes: Vec<u8>,
    /// End of file: the process closed it (exited).
    closed: bool,
}

impl Captured {
    /// Captures `stream` (a child's pipe) from now on, on its own thread,
    /// copying it to the test's stderr when `forward`.
    fn reading(stream: Option<impl Read + Send + 'static>, forward: bool) -> Captured {
        let captured = Captured::default();
        match stream {
            Some(stream) => captured.spawn_reader(stream, forward),
            None => captured.0.state.lock().unwrap().closed = true,
        }
        captured
    }

    fn spawn_reader(&self, mut stream: impl Read + Send + 'static, forward: bool) {
        let shared = self.0.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                let read = stream.read(&mut chunk);
                let mut state = shared.state.lock().unwrap();
                match read {
                    Ok(0) | Err(_) => {
                        state.closed = true;
                        shared.changed.notify_all();
                        return;
                    }
                    Ok(n) => {
                        if forward {
                            eprint!("{}", String::from_utf8_lossy(&chunk[..n]));
                        }
                        state.bytes.extend_from_slice(&chunk[..n]);
                        shared.changed.notify_all();
                    }
                }
            }
        });
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.state.lock().unwrap().bytes).into_owned()
    }

    fn len(&self) -> usize {
        self.0.state.lock().unwrap().bytes.len()
    }

    /// Waits up to `slice` for output beyond the first `seen` bytes.
    fn wait_change(&self, seen: usize, slice: Duration) {
        let state = self.0.state.lock().unwrap();
        if state.bytes.len() == seen && !state.closed {
            let _ = self.0.changed.wait_timeout(state, slice).unwrap();
        }
    }

    /// Waits until the stream is closed (the process exited).
    fn wait_closed(&self, timeout: Duration) {
        let state = self.0.state.lock().unwrap();
        let _ = self
            .0
            .changed
            .wait_timeout_while(state, timeout, |state| !state.closed)
            .unwrap();
    }
}

/// Whether the child's logs go to the test's stderr (`TEST_LOG=1`).
fn forward_logs() -> bool {
    std::env::var_os("TEST_LOG").is_some_and(|value| !value.is_empty() && value != "0")
}

/// A running child process.
pub struct Process {
    name: String,
    child: KillOnDrop,
    stdout: Captured,
    stderr: Captured,
    /// The working directory, when the process owns it.
    _dir: Option<TempDir>,
}

impl Process {
    /// Starts `program` with exactly `env` (nothing inherited) in a fresh
    /// temporary working directory, so no `.env` file is picked up.
    pub fn spawn(program: &str, args: &[&str], env: &[(&str, &str)]) -> Process {
        Self::spawn_in(TempDir::new(), program, args, env)
    }

    /// As [`Process::spawn`], in `dir`, which the caller keeps: for
    /// processes that share files there (`gatehouse token` and `gatehouse
    /// dev` share `.gatehouse/`).
    pub fn spawn_at(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Process {
        Self::launch(dir, None, program, args, env)
    }

    fn spawn_in(dir: TempDir, program: &str, args: &[&str], env: &[(&str, &str)]) -> Process {
        let path = dir.path().to_owned();
        Self::launch(&path, Some(dir), program, args, env)
    }

    fn launch(
        path: &Path,
        dir: Option<TempDir>,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        let mut child = KillOnDrop::from(
            Command::new(program)
                .args(args)
                .env_clear()
                .envs(env.iter().copied())
                .current_dir(path)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start {program}: {err}")),
        );
        let output = capture(&mut child);
        Self::adopt(program, child, output, dir)
    }

    /// A process started elsewhere (by `gatehouse-launch`), whose output
    /// [`capture`] is already reading.
    fn adopt(
        program: &str,
        child: KillOnDrop,
        (stdout, stderr): (Captured, Captured),
        dir: Option<TempDir>,
    ) -> Process {
        let name = Path::new(program).file_name().map_or_else(
            || program.to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
        Process {
            name,
            child,
            stdout,
            stderr,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Everything the process wrote, for leak checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout(), self.stderr())
    }

    /// `None` while running.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait on a child")
    }

    /// Panics, with the process's output, if it has exited.
    #[track_caller]
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exit_status() {
            panic!(
                "{} exited ({status}) while the test needed it\n{}",
                self.name,
                self.report()
            );
        }
    }

    /// Waits for the process to exit on its own.
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                // The readers finish once the pipes close; give them a moment.
                self.settle_output(Duration::from_secs(2));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}\n{}",
                self.name,
                self.report()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// After exit: lets the readers take in the last output.
    fn settle_output(&self, timeout: Duration) {
        self.stdout.wait_closed(timeout);
        self.stderr.wait_closed(timeout);
    }

    /// Waits for a stdout line containing `needle`; returns that line.
    #[track_caller]
    pub fn wait_stdout_line(&mut self, needle: &str, timeout: Duration) -> String {
        match self.try_wait_line(needle, timeout, true) {
            Ok(line) => line,
            Err(report) => panic!("{report}"),
        }
    }

    /// Waits for a stderr line containing `needle`; returns that line.
    #[track_caller]
    pub fn wait_stderr_line(&mut self, needle: &str, timeout: Duration) -> String {
        match self.try_wait_line(needle, timeout, false) {
            Ok(line) => line,
            Err(report) => panic!("{report}"),
        }
    }

    /// Like [`Process::wait_stdout_line`], but an exit or a timeout is an
    /// `Err` carrying the report, for callers that retry.
    pub fn try_wait_stdout_line(
        &mut self,
        needle: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        self.try_wait_line(needle, timeout, true)
    }

    fn try_wait_line(
        &mut self,
        needle: &str,
        timeout: Duration,
        stdout: bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let captured = if stdout { &self.stdout } else { &self.stderr };
            let seen = captured.len();
            let found = |text: String| {
                text.lines()
                    .find(|line| line.contains(needle))
                    .map(str::to_owned)
            };
            if let Some(line) = found(captured.text()) {
                return Ok(line);
            }
            if let Some(status) = self.exit_status() {
                self.settle_output(Duration::from_secs(2));
                let captured = if stdout { &self.stdout } else { &self.stderr };
                return found(captured.text()).ok_or_else(|| {
                    format!(
                        "{} exited ({status}) before printing {needle:?}\n{}",
                        self.name,
                        self.report()
                    )
                });
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not print {needle:?} within {timeout:?}\n{}",
                    self.name,
                    self.report()
                ));
            }
            let captured = if stdout { &self.stdout } else { &self.stderr };
            captured.wait_change(seen, Duration::from_millis(100));
        }
    }

    /// The message for a start that failed, with the output. When the
    /// process exited, or closed the socket (most likely exiting), it first
    /// waits for the exit and the last output: that says why ("Address
    /// already in use", for a lost port race, among others).
    fn not_ready(&mut self, reason: &Reason) -> String {
        if matches!(reason, Reason::Exited(_) | Reason::ClosedIpc) {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.exit_status().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            self.settle_output(Duration::from_secs(2));
        }
        format!(
            "{} (pid {}) did not start: {reason}\n{}",
            self.name,
            self.pid(),
            self.report()
        )
    }

    /// The tail of the output, for panic messages.
    pub fn report(&self) -> String {
        let tail = |text: String| {
            let start = text.len().saturating_sub(6000);
            let start = (start..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text[start..].to_owned()
        };
        format!(
            "--- {} stdout ---\n{}\n--- {} stderr ---\n{}",
            self.name,
            tail(self.stdout()),
            self.name,
            tail(self.stderr())
        )
    }
}

/// Starts reading a child's piped stdout and stderr, before anything waits
/// on it, so that a full pipe never stalls it.
fn capture(child: &mut std::process::Child) -> (Captured, Captured) {
    (
        Captured::reading(child.stdout.take(), false),
        Captured::reading(child.stderr.take(), forward_logs()),
    )
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() && !forward_logs() {
            eprintln!("{}", self.report());
        }
    }
}

/// A function binary under the Vercel protocol: HTTP on a chosen port, IPC
/// frames on a Unix socket the test listens on.
pub struct VercelFunction {
    pub process: Process,
    pub port: u16,
    frames: Receiver<Value>,
    /// Frames received while waiting for others.
    backlog: Vec<Value>,
}

impl VercelFunction {
    /// Starts `program` with `VERCEL_IPC_PATH`, `VERCEL_DEV_PORT` and `env`,
    /// and waits for its `server-started` frame. Unless `env` names
    /// `ENVIRONMENT` or `VERCEL_ENV`, the function runs as development, as a
    /// developer sets it: a platform-started function without either is
    /// production (see [`VercelFunction::start_as_deployed`]).
    #[track_caller]
    pub fn start(program: &str, env: &[(&str, &str)]) -> VercelFunction {
        let named = env
            .iter()
            .any(|(key, _)| *key == "ENVIRONMENT" || *key == "VERCEL_ENV");
        let mut full: Vec<(&str, &str)> = env.to_vec();
        if !named {
            full.push(("ENVIRONMENT", "development"));
        }
        Self::start_as_deployed(program, &full)
    }

    /// As [`VercelFunction::start`], with exactly `env` (plus the protocol's
    /// variables), as Vercel starts a deployed function: through
    /// `gatehouse-launch`, in an empty working directory (no `.env`), which
    /// also holds the socket.
    #[track_caller]
    pub fn start_as_deployed(program: &str, env: &[(&str, &str)]) -> VercelFunction {
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let dir = TempDir::new();
            let mut starting = Launch::new(program, dir.path())
                .envs(env.iter().copied())
                .current_dir(dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .ready_timeout(READY_TIMEOUT)
                .spawn()
                .unwrap_or_else(|err| panic!("{err}"));
            let output = capture(starting.process_mut());
            match starting.wait_ready() {
                Ok(ready) => {
                    return VercelFunction {
                        process: Process::adopt(program, ready.process, output, Some(dir)),
                        port: ready.port,
                        frames: spawn_frame_reader(ready.ipc),
                        backlog: Vec::new(),
                    };
                }
                Err(not_ready) => {
                    let mut process = Process::adopt(program, not_ready.process, output, Some(dir));
                    let report = process.not_ready(&not_ready.reason);
                    // A port taken between its choice and the bind: try another.
                    if report.contains("in use") {
                        last_failure = report;
                    } else {
                        panic!("{report}");
                    }
                }
            }
        }
        panic!("could not start {program} on a free port in 5 attempts:\n{last_failure}");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The next frame from the socket (not the backlog).
    fn receive_frame(&mut self, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.frames.recv_timeout(Duration::from_millis(100)) {
                Ok(frame) => return Ok(frame),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // The function closed its end: most likely it is exiting.
                    let exit_deadline = Instant::now() + Duration::from_secs(5);
                    while self.process.exit_status().is_none() && Instant::now() < exit_deadline {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    self.process.settle_output(Duration::from_secs(2));
                    return Err(format!(
                        "{} closed its IPC connection\n{}",
                        self.process.name,
                        self.process.report()
                    ));
                }
            }
            if let Some(status) = self.process.exit_status() {
                self.process.settle_output(Duration::from_secs(2));
                return Err(format!(
                    "{} exited ({status}) while an IPC frame was awaited\n{}",
                    self.process.name,
                    self.process.report()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no IPC frame within {timeout:?}\n{}",
                    self.process.report()
                ));
            }
        }
    }

    /// The `end` frame for `invocation_id`; other frames are kept for later.
    #[track_caller]
    pub fn end_frame(&mut self, invocation_id: &str) -> Value {
        let is_match = |frame: &Value| {
            frame["type"] == "end" && frame["payload"]["context"]["invocationId"] == invocation_id
        };
        if let Some(index) = self.backlog.iter().position(is_match) {
            return self.backlog.remove(index);
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = match self.receive_frame(left) {
                Ok(frame) => frame,
                Err(report) => panic!("no end frame for invocation {invocation_id}: {report}"),
            };
            if is_match(&frame) {
                return frame;
            }
            self.backlog.push(frame);
        }
    }

    /// Frames received and not consumed yet.
    pub fn unconsumed_frames(&mut self) -> Vec<Value> {
        while let Ok(frame) = self.frames.try_recv() {
            self.backlog.push(frame);
        }
        std::mem::take(&mut self.backlog)
    }
}

/// Turns the frames after `server-started` into JSON values, until the
/// function closes the connection. A frame that is not JSON is a protocol
/// failure: it is passed on as `{"type":"invalid", "raw": ...}` so the test
/// fails on it.
fn spawn_frame_reader(mut ipc: Ipc) -> Receiver<Value> {
    let (frames, received) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(Some(raw)) = ipc.next_frame() {
            let frame = serde_json::from_slice(raw).unwrap_or_else(
                |_| serde_json::json!({ "type": "invalid", "raw": String::from_utf8_lossy(raw) }),
            );
            if frames.send(frame).is_err() {
                return;
            }
        }
    });
    received
}

/// Every stderr line, parsed: under `LOG_FORMAT=json` each must be a JSON
/// object.
pub fn json_logs(function: &VercelFunction) -> Vec<serde_json::Value> {
    function
        .process
        .stderr()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .filter(serde_json::Value::is_object)
                .unwrap_or_else(|| panic!("not a JSON log line: {line}"))
        })
        .collect()
}

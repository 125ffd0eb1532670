//! A real browser for the tests: Debian's headless Chromium driven by
//! playwright-core through `tests/interop/browser-flow.mjs`, and the
//! loopback sites its pages come from. What a test asserts is what
//! Chromium itself reported (its cookie jar and the DevTools protocol's view
//! of every request), never what our own client assumes.
//!
//! Chromium and playwright-core are installed by `tests/run`; when missing,
//! a test fails with the fix, it is never skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::mint::{interop_dir, node};

/// The whole browser run: a few Chromium launches and ~25 requests take
/// about 3 s here; the script's own watchdog is 90 s.
const FLOW_TIMEOUT: Duration = Duration::from_secs(120);

const CHROMIUM_FIX: &str = "run tests/run (it installs it), or by hand as root: `apt-get update && apt-get install -y --no-install-recommends chromium`";
const NPM_FIX: &str = "run tests/run (it installs it), or by hand: `npm ci --prefix tests/interop`";

/// Debian's `chromium`, as found on `PATH`, after checking playwright-core
/// is installed too: both or a failure naming the fix.
pub fn chromium() -> PathBuf {
    let manifest = interop_dir().join("node_modules/playwright-core/package.json");
    assert!(
        manifest.is_file(),
        "the npm package `playwright-core` is not installed in tests/interop/node_modules: {NPM_FIX}"
    );
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("chromium"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!("`chromium` is not on PATH, and the browser test needs it: {CHROMIUM_FIX}")
        })
}

/// What a [`Site`] answers to one request.
pub struct SiteReply {
    /// Extra response headers, e.g. `Set-Cookie` or CORS headers.
    pub headers: Vec<(String, String)>,
    pub content_type: &'static str,
    pub body: String,
}

type Handler = dyn Fn(&str) -> SiteReply + Send + Sync;

/// Loopback HTTP sites, one per port, each answering every request with
/// what its handler returns for the request's path. The listeners are held
/// from the start, so no other test can take a port before the browser
/// comes.
pub struct Sites {
    pub ports: Vec<u16>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Sites {
    /// `count` sites serving a small HTML page at every path: the frontends.
    pub fn pages(count: usize) -> Sites {
        Sites::start(count, |_path| {
            SiteReply {
            headers: Vec::new(),
            content_type: "text/html; charset=utf-8",
            body: "<!doctype html><html><head><title>frontend</title></head><body>frontend</body></html>".into(),
        }
        })
    }

    /// `count` sites answering with `handler(path)`.
    pub fn start(
        count: usize,
        handler: impl Fn(&str) -> SiteReply + Send + Sync + 'static,
    ) -> Sites {
        let handler: Arc<Handler> = Arc::new(handler);
        let stop = Arc::new(AtomicBool::new(false));
        let mut ports = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..count {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
            listener
                .set_nonblocking(true)
                .expect("a non-blocking listener");
            ports.push(listener.local_addr().expect("its address").port());
            let stop = Arc::clone(&stop);
            let handler = Arc::clone(&handler);
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let handler = Arc::clone(&handler);
                            std::thread::spawn(move || serve(stream, &*handler));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }));
        }
        Sites {
            ports,
            stop,
            threads,
        }
    }
}

impl Drop for Sites {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One request, one answer, connection closed.
fn serve(mut stream: TcpStream, handler: &Handler) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or(target);
    let reply = handler(path);
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nCache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.content_type,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&reply.body);
    let _ = stream.write_all(response.as_bytes());
}

/// What the browser script said, printed (with the servers' output, which
/// [`crate::support::function::Process`] prints itself) when an assertion
/// fails.
pub struct Evidence {
    pub stdout: String,
    pub stderr: String,
}

impl Drop for Evidence {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let pretty = serde_json::from_str::<Value>(&self.stdout)
                .ok()
                .and_then(|value| serde_json::to_string_pretty(&value).ok())
                .unwrap_or_else(|| self.stdout.clone());
            eprintln!(
                "--- browser-flow.mjs stdout ---\n{pretty}\n--- browser-flow.mjs stderr ---\n{}",
                self.stderr
            );
        }
    }
}

/// Runs the browser script with `env` added, within [`FLOW_TIMEOUT`].
pub fn run_flow(env: &[(&str, &str)]) -> (ExitStatus, Evidence) {
    let script = interop_dir().join("browser-flow.mjs");
    let mut child = Command::new(node())
        .arg(&script)
        .current_dir(interop_dir())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run node {}: {err}", script.display()));
    let reader = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            text
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let err = reader(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + FLOW_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait on node") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "{} did not finish within {FLOW_TIMEOUT:?}\n--- stderr ---\n{stderr}",
                script.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let evidence = Evidence {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    (status, evidence)
}

/// Runs the browser script and reads its JSON result, failing when the
/// script failed or when a secret reached what it recorded: it counts the
/// secrets it had to mask, and any but the `token` field it drops on
/// purpose is a leak.
pub fn browse(env: &[(&str, &str)]) -> (Value, Evidence) {
    let (status, evidence) = run_flow(env);
    assert!(status.success(), "browser-flow.mjs failed ({status})");
    let result: Value = serde_json::from_str(&evidence.stdout)
        .unwrap_or_else(|err| panic!("browser-flow.mjs printed no JSON object ({err})"));
    assert_eq!(
        result["secrets_redacted"],
        serde_json::json!(0),
        "a response or the browser's record carried a secret (masked in the output)"
    );
    (result, evidence)
}

/// A step of a leg, failing with its name when absent.
pub fn step<'a>(result: &'a Value, leg: &str, name: &str) -> &'a Value {
    let value = &result["legs"][leg][name];
    assert!(!value.is_null(), "no step {leg}.{name} in the result");
    value
}

/// The requests of a step: the preflight (if any) and the actual one.
pub fn requests(step: &Value) -> (Option<&Value>, &Value) {
    let all = step["network"].as_array().expect("network");
    let preflight = all.iter().find(|r| r["preflight"] == true);
    let actual = all
        .iter()
        .find(|r| r["preflight"] == false)
        .unwrap_or_else(|| panic!("no actual request in {step}"));
    (preflight, actual)
}

/// A JSON array of strings as a list.
pub fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

//! The launcher against a stand-in function: this test binary itself,
//! started with `FAKE_FUNCTION` naming how to behave, runs only
//! [`fake_function`], which speaks (or breaks) the protocol.

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::net::UnixStream;

use serde_json::{Value, json};

use super::*;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("gatehouse-launch-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fake(mode: &str, scratch: &Scratch) -> Launch {
    Launch::new(std::env::current_exe().unwrap(), &scratch.0)
        .arg("tests::fake_function")
        .arg("--exact")
        .arg("--nocapture")
        .env("FAKE_FUNCTION", mode)
        .ready_timeout(Duration::from_secs(10))
}

/// Outside a launcher's test, passes at once. Started by one, behaves as
/// `FAKE_FUNCTION` says and never returns.
#[test]
fn fake_function() {
    let Ok(mode) = std::env::var("FAKE_FUNCTION") else {
        return;
    };
    let port: u16 = std::env::var("VERCEL_DEV_PORT").unwrap().parse().unwrap();
    let ipc_path = std::env::var("VERCEL_IPC_PATH").unwrap();
    let frame = |value: Value| {
        let mut bytes = serde_json::to_vec(&value).unwrap();
        bytes.push(0);
        bytes
    };
    let started =
        |port: u16| frame(json!({"type": "server-started", "payload": {"httpPort": port}}));
    match mode.as_str() {
        "exit" => {
            eprintln!("refusing to start");
            std::process::exit(3);
        }
        "silent" => {}
        "wrong-port" => {
            let mut ipc = UnixStream::connect(&ipc_path).unwrap();
            ipc.write_all(&started(port.wrapping_add(1))).unwrap();
        }
        _ => {
            let _http = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let mut ipc = UnixStream::connect(&ipc_path).unwrap();
            let mut env: Vec<String> = std::env::vars().map(|(key, _)| key).collect();
            env.sort();
            let cwd = std::env::current_dir().unwrap();
            // One write: the frame after server-started arrives in the same
            // read and must not be lost.
            let mut both = started(port);
            both.extend(frame(
                json!({"type": "end", "payload": {"env": env, "cwd": cwd}}),
            ));
            // Logged before ready, so the log is complete once the
            // launcher reports it.
            eprintln!("serving {port}");
            ipc.write_all(&both).unwrap();
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn ready_with_a_cleared_environment_and_later_frames_kept() {
    let scratch = Scratch::new("ready");
    let log = scratch.0.join("stderr");
    let mut ready = fake("ready", &scratch)
        .env("EXTRA", "1")
        .current_dir(&scratch.0)
        .stderr(std::fs::File::create(&log).unwrap())
        .start()
        .unwrap();
    assert!(ready.ready_after > Duration::ZERO);
    assert!(ready.ready_after < Duration::from_secs(10));
    let end: Value = serde_json::from_slice(ready.ipc.next_frame().unwrap().unwrap()).unwrap();
    assert_eq!(end["type"], "end");
    assert_eq!(
        end["payload"]["env"],
        json!([
            "EXTRA",
            "FAKE_FUNCTION",
            "VERCEL_DEV_PORT",
            "VERCEL_IPC_PATH"
        ])
    );
    assert_eq!(
        Path::new(end["payload"]["cwd"].as_str().unwrap()),
        scratch.0.canonicalize().unwrap()
    );
    // The socket file is gone once the function connected.
    assert!(!scratch.0.join("ipc.sock").exists());
    assert!(ready.process.try_wait().unwrap().is_none());
    let pid = ready.process.id();
    drop(ready);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "killed and reaped"
    );
    assert!(std::fs::read_to_string(&log).unwrap().contains("serving"));
}

#[test]
fn an_exit_before_ready_is_reported_with_its_status() {
    let scratch = Scratch::new("exit");
    let Err(StartError::NotReady(not_ready)) = fake("exit", &scratch).start() else {
        panic!("the start must fail");
    };
    assert!(
        matches!(not_ready.reason, Reason::Exited(status) if status.code() == Some(3)),
        "{not_ready}"
    );
}

#[test]
fn a_frame_with_another_port_is_refused() {
    let scratch = Scratch::new("port");
    let Err(StartError::NotReady(not_ready)) = fake("wrong-port", &scratch).start() else {
        panic!("the start must fail");
    };
    assert!(
        matches!(not_ready.reason, Reason::WrongPort { .. }),
        "{not_ready}"
    );
}

#[test]
fn silence_times_out() {
    let scratch = Scratch::new("silent");
    let begun = Instant::now();
    let Err(StartError::NotReady(not_ready)) = fake("silent", &scratch)
        .ready_timeout(Duration::from_millis(300))
        .start()
    else {
        panic!("the start must fail");
    };
    assert!(
        matches!(not_ready.reason, Reason::TimedOut(_)),
        "{not_ready}"
    );
    assert!(begun.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_missing_binary_is_a_spawn_error() {
    let scratch = Scratch::new("missing");
    let err = Launch::new(scratch.0.join("no-such-function"), &scratch.0)
        .start()
        .err()
        .unwrap();
    assert!(
        matches!(err, StartError::Spawn(SpawnError::Spawn { .. })),
        "{err}"
    );
    assert!(!scratch.0.join("ipc.sock").exists());
}

#[test]
fn free_port_binds() {
    let port = free_port().unwrap();
    assert_ne!(port, 0);
    TcpListener::bind(("127.0.0.1", port)).unwrap();
}

//! Tokens minted by other stacks: `jose` (npm, what Better Auth and most Node
//! issuers use) and PyJWT (Python), through the scripts in `tests/interop/`.
//! Their dependencies are installed by `tests/run` (`npm ci` into
//! `tests/interop/node_modules`, a venv in `tests/interop/.venv`); when they
//! are missing a test fails with that fix, it is never skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::function::{Finished, finish_within};

/// How long one minter run may take (Node and Python start-up included).
const MINT_TIMEOUT: Duration = Duration::from_secs(30);

const FIX: &str = "run tests/run (it installs them), or by hand: `npm ci --prefix tests/interop` and `python3 -m venv tests/interop/.venv && tests/interop/.venv/bin/pip install -r tests/interop/requirements.txt`";

/// `tests/interop/`.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// A file of `crates/gatehouse/tests/fixtures/jwt/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/gatehouse/tests/fixtures/jwt")
        .join(name)
}

pub fn fixture_text(name: &str) -> String {
    let path = fixture(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// A fixture JWK, parsed.
pub fn fixture_jwk(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// `program` as found on `PATH`.
pub fn find_program(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!("`{program}` is not on PATH: install Node.js 20+ and Python 3 (Debian: apt-get install nodejs npm python3-venv); then {FIX}")
        })
}

/// The Node.js binary, after checking the npm packages are installed.
pub fn node() -> PathBuf {
    for package in ["jose", "better-auth", "pg"] {
        let manifest = interop_dir()
            .join("node_modules")
            .join(package)
            .join("package.json");
        assert!(
            manifest.is_file(),
            "the npm package `{package}` is not installed in tests/interop/node_modules: {FIX}"
        );
    }
    find_program("node")
}

/// The venv's Python, after checking it exists.
pub fn venv_python() -> PathBuf {
    let python = interop_dir().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "the Python venv tests/interop/.venv (PyJWT) is missing: {FIX}"
    );
    python
}

/// Mints one token per spec with `jose` (see `tests/interop/mint-jose.mjs`).
pub fn jose(specs: &[Value]) -> Vec<String> {
    let script = interop_dir().join("mint-jose.mjs");
    run_minter(&node(), &script, specs, 3)
}

/// One Auth.js session JWE per spec with `@auth/core`'s `encode` (see
/// `tests/interop/mint-authjs.mjs`; `"v4": true` for NextAuth v4).
pub fn authjs(specs: &[Value]) -> Vec<String> {
    let core = interop_dir().join("node_modules/@auth/core/package.json");
    assert!(
        core.is_file(),
        "@auth/core is missing from tests/interop/node_modules: {FIX}"
    );
    let script = interop_dir().join("mint-authjs.mjs");
    run_minter(&node(), &script, specs, 5)
}

/// Mints one token per spec with PyJWT (see `tests/interop/mint_pyjwt.py`).
pub fn pyjwt(specs: &[Value]) -> Vec<String> {
    let script = interop_dir().join("mint_pyjwt.py");
    run_minter(&venv_python(), &script, specs, 3)
}

/// One compact JWE per `encrypt` spec with `jose` (see
/// `tests/interop/mint-jose.mjs`).
pub fn jose_encrypted(specs: &[Value]) -> Vec<String> {
    let script = interop_dir().join("mint-jose.mjs");
    run_minter(&node(), &script, specs, 5)
}

pub fn jose_one(spec: Value) -> String {
    jose(&[spec]).remove(0)
}

/// A spec signing with the private PEM fixture `key_file` (e.g.
/// `rsa-2048.key.pem`), with `kid` in the header when given.
pub fn pem_spec(alg: &str, key_file: &str, kid: Option<&str>, claims: &Value) -> Value {
    let mut header = serde_json::Map::new();
    if let Some(kid) = kid {
        header.insert("kid".into(), Value::String(kid.to_owned()));
    }
    serde_json::json!({
        "alg": alg,
        "key": { "pem_file": fixture(key_file) },
        "header": header,
        "claims": claims,
    })
}

/// A spec signing with a shared secret.
pub fn secret_spec(alg: &str, secret: &str, claims: &Value) -> Value {
    serde_json::json!({ "alg": alg, "key": { "secret": secret }, "claims": claims })
}

/// Runs a minter with the specs on stdin; each printed token must have
/// `segments` parts (3 for a JWS, 5 for a JWE).
fn run_minter(program: &Path, script: &Path, specs: &[Value], segments: usize) -> Vec<String> {
    let input = serde_json::to_vec(specs).expect("specs as JSON");
    let child = Command::new(program)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}; {FIX}", program.display()));
    let Finished {
        status,
        stdout,
        stderr,
    } = finish_within(child, Some(input), MINT_TIMEOUT);
    let Some(status) = status else {
        panic!(
            "{} did not finish within {MINT_TIMEOUT:?}",
            script.display()
        );
    };
    assert!(
        status.success(),
        "{} failed ({status}): {stderr}\nIf a module is missing: {FIX}",
        script.display()
    );
    let tokens: Vec<String> = stdout.lines().map(str::to_owned).collect();
    assert_eq!(
        tokens.len(),
        specs.len(),
        "{} printed {} token(s) for {} spec(s): {stdout}{stderr}",
        script.display(),
        tokens.len(),
        specs.len()
    );
    for token in &tokens {
        assert_eq!(
            token.split('.').count(),
            segments,
            "{} printed something that is not a compact JWS/JWE: {token}",
            script.display()
        );
    }
    tokens
}

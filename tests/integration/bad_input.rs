//! Hostile and malformed requests against the real `health` binary under the
//! Vercel protocol, sent as raw bytes. Each is refused with its documented
//! status and reason (never a 500), and the process keeps serving.

use std::io::Write;
use std::net::SocketAddr;

use crate::support::function::{HEALTH, READY_TIMEOUT, VercelFunction, block_on};
use crate::support::http_client::{Connection, Response, exchange, get, request};

const ALLOW: &str = "GET, HEAD, OPTIONS";

fn start() -> VercelFunction {
    VercelFunction::start(HEALTH, &[])
}

/// The process survived whatever came before: it still answers 200, and
/// nothing panicked.
#[track_caller]
fn assert_still_serving(function: &mut VercelFunction) {
    get(function.addr(), "/api/health", &[]).assert_healthy();
    function.process.assert_running();
    let stderr = function.process.stderr();
    assert!(
        !stderr.contains("panicked"),
        "{}",
        function.process.report()
    );
}

/// The refusal is in the log under the request id the response names, even
/// when the host refused before the pipeline ran.
#[track_caller]
fn assert_logged(function: &mut VercelFunction, response: &Response, reason: &str) {
    let line = function.process.wait_stderr_line(
        &format!("request_id={}", response.request_id()),
        READY_TIMEOUT,
    );
    assert!(line.contains(reason), "{line}");
}

#[test]
fn oversized_headers_are_refused() {
    let mut function = start();
    let addr = function.addr();

    // Within hyper's buffer, over ours: our refusal.
    let big = "a".repeat(40 * 1024);
    let response = get(addr, "/api/health", &[("x-big", &big)]);
    let problem = response.assert_problem(431, "headers_too_large");
    assert_logged(&mut function, &response, "headers_too_large");
    assert!(
        problem["detail"].as_str().unwrap().contains("32768"),
        "{response}"
    );

    // Past hyper's own limits (~400 KB buffer, 100 headers), hyper answers
    // before the function sees the request: a bare 4xx, connection closed.
    let huge = "a".repeat(500 * 1024);
    let response = hyper_refusal(addr, &request("GET", "/api/health", &[("x-huge", &huge)]));
    assert!((400..500).contains(&response.status), "{response}");
    let names: Vec<String> = (0..120).map(|n| format!("x-h{n}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "v")).collect();
    let response = hyper_refusal(addr, &request("GET", "/api/health", &many));
    assert!((400..500).contains(&response.status), "{response}");

    assert_still_serving(&mut function);
}

/// Sends `raw` (written from another thread: the server may stop reading
/// before the end) and reads hyper's answer.
fn hyper_refusal(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut connection = Connection::open(addr);
    let mut writer = connection.writer();
    let raw = raw.to_vec();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&raw);
    });
    let response = connection
        .read_response(false)
        .unwrap_or_else(|err| panic!("no answer to an oversized request: {err}"));
    let _ = sender.join();
    assert_eq!(response.header("connection"), Some("close"), "{response}");
    response
}

#[test]
fn header_values_that_are_not_utf8_are_refused() {
    let mut function = start();
    let mut raw = b"GET /api/health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-name: caf".to_vec();
    raw.extend_from_slice(b"\xe9\r\n\r\n");
    let response = exchange(function.addr(), &raw);
    let problem = response.assert_problem(400, "header_invalid");
    assert!(
        problem["detail"].as_str().unwrap().contains("x-name"),
        "{response}"
    );
    assert_still_serving(&mut function);
}

#[test]
fn broken_percent_encoding_is_refused() {
    let mut function = start();
    for path in [
        "/api/health%zz",
        "/api/health%",
        "/api/health%2",
        "/api/%ff%fe", // well-formed, but not UTF-8
        "/api/health?q=%g1",
        "/api/health?q=100%",
    ] {
        let response = get(function.addr(), path, &[]);
        response.assert_problem(400, "request_malformed");
    }
    // Well-formed encodings pass.
    get(function.addr(), "/api/health?q=a%20b%2Fc&x=%C3%A9", &[]).assert_healthy();
    assert_still_serving(&mut function);
}

#[test]
fn methods_are_checked_and_head_and_options_answered() {
    let mut function = start();
    let addr = function.addr();
    for method in ["BREW", "DELETE", "POST", "PUT", "PATCH"] {
        let response = exchange(
            addr,
            &request(method, "/api/health", &[("content-length", "0")]),
        );
        let problem = response.assert_problem(405, "method_not_allowed");
        assert_eq!(response.header("allow"), Some(ALLOW), "{response}");
        assert!(
            problem["detail"].as_str().unwrap().starts_with(method),
            "{response}"
        );
    }

    // HEAD: the GET headers, no body; the connection stays usable, which it
    // would not if a body had been sent anyway.
    let mut connection = Connection::open(addr);
    let head = connection.send(&request("HEAD", "/api/health", &[]));
    assert_eq!(head.status, 200, "{head}");
    assert_eq!(
        head.header("content-type"),
        Some("application/json"),
        "{head}"
    );
    assert!(!head.request_id().is_empty());
    connection
        .send(&request("GET", "/api/health", &[]))
        .assert_healthy();

    let options = exchange(addr, &request("OPTIONS", "/api/health", &[]));
    assert_eq!(options.status, 204, "{options}");
    assert_eq!(options.header("allow"), Some(ALLOW), "{options}");
    assert!(options.body.is_empty(), "{options}");
    assert!(!options.request_id().is_empty());
    assert_still_serving(&mut function);
}

const LIMIT: usize = 1024 * 1024;

#[test]
fn bodies_over_one_mebibyte_are_refused_however_they_are_framed() {
    let mut function = start();
    let addr = function.addr();

    // Declared too large: refused from the headers, without waiting for a
    // body that is never sent.
    let declared = (LIMIT + 1).to_string();
    let response = exchange(
        addr,
        &request("POST", "/api/health", &[("content-length", &declared)]),
    );
    response.assert_problem(413, "body_too_large");
    assert_logged(&mut function, &response, "body_too_large");

    // Chunked, no length: refused once the limit is crossed.
    let mut connection = Connection::open(addr);
    let mut writer = connection.writer();
    let sender = std::thread::spawn(move || {
        let head = request("POST", "/api/health", &[("transfer-encoding", "chunked")]);
        let chunk = vec![b'x'; 64 * 1024];
        let _ = writer.write_all(&head);
        for _ in 0..(LIMIT / chunk.len() + 2) {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if writer.write_all(&framed).is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let response = connection
        .read_response(false)
        .unwrap_or_else(|err| panic!("no answer to a chunked oversized body: {err}"));
    let _ = sender.join();
    response.assert_problem(413, "body_too_large");
    assert_logged(&mut function, &response, "body_too_large");

    // Exactly at the limit is accepted (GET ignores it).
    let mut connection = Connection::open(addr);
    let mut raw = request(
        "GET",
        "/api/health",
        &[("content-length", &LIMIT.to_string())],
    );
    raw.extend(std::iter::repeat_n(b'x', LIMIT));
    connection.send(&raw).assert_healthy();

    assert_still_serving(&mut function);
}

/// SQL-looking input where it reaches Postgres: the tasks routes' bodies,
/// ids, cursors and keys. Every statement binds its parameters, so such
/// input is stored or refused as text; the tables stay whole.
#[test]
fn sql_looking_input_is_just_text() {
    use crate::tasks::TasksApi;
    use serde_json::json;
    let api = TasksApi::start();
    let token = &api.tokens(&["ada"])[0];
    let title = "'); DROP TABLE gatehouse_tasks; --";
    let created = api.call(
        "POST",
        "/api/tasks",
        token,
        &[(
            "idempotency-key",
            "k'; DELETE FROM gatehouse_idempotency_keys; --",
        )],
        Some(&json!({ "title": title })),
    );
    assert_eq!(created.status, 201, "{created}");
    assert_eq!(created.json()["title"], title, "stored verbatim");
    for path in [
        "/api/tasks?cursor=%27%20OR%20%271%27=%271",
        "/api/tasks?limit=1%20OR%201=1",
    ] {
        api.call("GET", path, token, &[], None)
            .assert_problem(422, "validation_failed");
    }
    api.call("GET", "/api/tasks/1'%20OR%20'1'='1", token, &[], None)
        .assert_problem(404, "not_found");
    let listed = api.call("GET", "/api/tasks", token, &[], None);
    assert_eq!(listed.status, 200, "{listed}");
    assert_eq!(listed.json()["items"][0]["title"], title);
    assert_eq!(
        block_on(
            api.db
                .count("SELECT count(*) FROM gatehouse_idempotency_keys")
        ),
        1,
        "the ledger is whole"
    );
}

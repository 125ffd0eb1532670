//! A deliberately small HTTP/1.1 client over a raw `TcpStream`: it sends
//! exactly the bytes a test writes (malformed ones included) and parses one
//! response at a time, so keep-alive reuse is visible.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// How long a response may take before the test fails.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        match serde_json::from_slice(&self.body) {
            Ok(value) => value,
            Err(err) => panic!("body is not JSON ({err}): {self}"),
        }
    }

    /// The `x-request-id` header, which every response must carry.
    #[track_caller]
    pub fn request_id(&self) -> &str {
        let Some(id) = self.header("x-request-id") else {
            panic!("no x-request-id header: {self}");
        };
        id
    }

    /// Asserts a refusal: `status`, `application/problem+json`, `reason`, and
    /// the same request id in the header and the body. Returns the body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, reason: &str) -> Value {
        assert_eq!(self.status, status, "unexpected status: {self}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "a refusal is a problem document: {self}"
        );
        let body = self.json();
        assert_eq!(body["reason"], reason, "unexpected reason: {self}");
        assert_eq!(body["status"], status, "status field: {self}");
        assert_eq!(
            body["request_id"].as_str(),
            Some(self.request_id()),
            "the body's request_id must be the x-request-id header: {self}"
        );
        body
    }

    /// Asserts the liveness answer.
    #[track_caller]
    pub fn assert_healthy(&self) {
        assert_eq!(self.status, 200, "expected 200: {self}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self}"
        );
        assert_eq!(
            self.json(),
            serde_json::json!({ "status": "healthy" }),
            "{self}"
        );
        assert!(!self.request_id().is_empty(), "{self}");
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        for (key, value) in &self.headers {
            write!(f, "\n{key}: {value}")?;
        }
        let body = self.text();
        let shown: String = body.chars().take(2000).collect();
        write!(f, "\n\n{shown}")
    }
}

/// A request's bytes: `method path`, a `host` header, then `headers`.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    raw.into_bytes()
}

/// `GET path` on a new connection.
#[track_caller]
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    exchange(addr, &request("GET", path, headers))
}

/// `method path` with `headers` and a body (its `content-length` added), on
/// a new connection.
#[track_caller]
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let length = body.len().to_string();
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("content-length", &length));
    let mut raw = request(method, path, &all);
    raw.extend_from_slice(body.as_bytes());
    exchange(addr, &raw)
}

/// Sends `raw` on a new connection and reads one response.
#[track_caller]
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut connection = Connection::open(addr);
    connection.send(raw)
}

/// One TCP connection, reused for as many requests as the server allows.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    /// Bytes read past the previous response.
    buffer: Vec<u8>,
}

impl Connection {
    #[track_caller]
    pub fn open(addr: SocketAddr) -> Connection {
        let stream = match TcpStream::connect_timeout(&addr, RESPONSE_TIMEOUT) {
            Ok(stream) => stream,
            Err(err) => panic!("cannot connect to {addr}: {err}"),
        };
        stream.set_read_timeout(Some(RESPONSE_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(RESPONSE_TIMEOUT)).unwrap();
        Connection {
            stream,
            buffer: Vec::new(),
        }
    }

    /// A second handle on the socket, e.g. to write a body from another
    /// thread while this one reads the answer.
    pub fn writer(&self) -> TcpStream {
        self.stream.try_clone().expect("clone a TcpStream")
    }

    /// Writes `raw` and reads the response (no body read for `HEAD`).
    #[track_caller]
    pub fn send(&mut self, raw: &[u8]) -> Response {
        if let Err(err) = self.stream.write_all(raw) {
            panic!("cannot send the request: {err}");
        }
        match self.read_response(raw.starts_with(b"HEAD ")) {
            Ok(response) => response,
            Err(err) => panic!("no complete response within {RESPONSE_TIMEOUT:?}: {err}"),
        }
    }

    /// Reads one response. `head` means the request was `HEAD`: no body.
    pub fn read_response(&mut self, head: bool) -> io::Result<Response> {
        let end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end;
            }
            self.fill()?;
        };
        let head_text = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end + 4);
        let mut lines = head_text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head || status == 204 || status == 304 || (100..200).contains(&status) {
            return Ok(response);
        }
        if let Some(length) = response.header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| io::Error::other(format!("bad content-length {length:?}")))?;
            while self.buffer.len() < length {
                self.fill()?;
            }
            response.body = self.buffer.drain(..length).collect();
        } else if response
            .header("transfer-encoding")
            .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
        {
            response.body = self.read_chunked()?;
        } else {
            // Delimited by the end of the connection.
            loop {
                match self.fill() {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(err) => return Err(err),
                }
            }
            response.body = std::mem::take(&mut self.buffer);
        }
        Ok(response)
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(end) = find(&self.buffer, b"\r\n") {
                    break end;
                }
                self.fill()?;
            };
            let size_text = String::from_utf8_lossy(&self.buffer[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
            self.buffer.drain(..line_end + 2);
            while self.buffer.len() < size + 2 {
                self.fill()?;
            }
            body.extend(self.buffer.drain(..size));
            self.buffer.drain(..2);
            if size == 0 {
                return Ok(body);
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

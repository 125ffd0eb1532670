//! A minimal HTTP/1.1 client: one `GET` per connection, `Connection: close`.
//! Enough to time a first response and to check a status before a load run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body for an error message, cut short.
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut excerpt: String = text.chars().take(400).collect();
        if excerpt.len() < text.len() {
            excerpt.push('…');
        }
        excerpt
    }
}

/// `headers` are whole header lines without the line break (`Name: value`).
pub fn get(port: u16, path: &str, headers: &[&str], timeout: Duration) -> Result<Reply, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let fail = |what: &str, err: std::io::Error| format!("GET http://{addr}{path}: {what}: {err}");
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|err| fail("connect", err))?;
    stream
        .set_nodelay(true)
        .map_err(|err| fail("set_nodelay", err))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|err| fail("set_read_timeout", err))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|err| fail("set_write_timeout", err))?;
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|err| fail("write", err))?;
    let mut raw = Vec::with_capacity(1024);
    stream
        .read_to_end(&mut raw)
        .map_err(|err| fail("read", err))?;
    parse(&raw).map_err(|problem| format!("GET http://{addr}{path}: {problem}"))
}

fn parse(raw: &[u8]) -> Result<Reply, String> {
    let head_end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("incomplete response ({} bytes)", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let status_line = head.lines().next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| format!("not an HTTP/1.x status line: {status_line:?}"))?;
    Ok(Reply {
        status,
        body: raw[head_end + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response() -> Result<(), String> {
        let reply = parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")?;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, b"{}");
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse(b"SSH-2.0\r\n\r\n").is_err());
        Ok(())
    }
}

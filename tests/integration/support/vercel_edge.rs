//! A loopback stand-in for Vercel's edge in front of the function binaries.
//! Deployed, each binary serves one route and Vercel routes every path of
//! the deployment's host to the binary that owns it, adding its invocation
//! headers. This does the same, one request per connection, so a client
//! (`gatehouse probe`) can be pointed at one base URL, as at a deployment.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Largest request head accepted, as the platform bounds it too.
const MAX_HEAD: usize = 64 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(20);

pub struct VercelEdge {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    forwarded: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl VercelEdge {
    /// Routes each `(path, function address)` exactly; other paths get 404.
    pub fn start(routes: Vec<(&'static str, SocketAddr)>) -> VercelEdge {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the edge");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("edge address");
        let stop = Arc::new(AtomicBool::new(false));
        let forwarded = Arc::new(AtomicUsize::new(0));
        let routes = Arc::new(routes);
        let thread = {
            let (stop, forwarded) = (stop.clone(), forwarded.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let (routes, forwarded) = (routes.clone(), forwarded.clone());
                            std::thread::spawn(move || {
                                let _ = serve(client, &routes, &forwarded);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        VercelEdge {
            addr,
            stop,
            forwarded,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests handed to a function so far.
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for VercelEdge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    mut client: TcpStream,
    routes: &[(&'static str, SocketAddr)],
    forwarded: &AtomicUsize,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > MAX_HEAD {
            return client.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        }
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/");
    let Some((_, backend)) = routes.iter().find(|(route, _)| *route == path) else {
        let body = format!("no function serves {path}");
        return write!(
            client,
            "HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
    };
    let mut content_length = 0usize;
    let mut headers = String::new();
    for line in lines.filter(|line| !line.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name == "content-length" {
            content_length = line
                .split_once(':')
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
        }
        if name == "connection" || name.starts_with("x-vercel-internal-") {
            continue;
        }
        headers.push_str(line);
        headers.push_str("\r\n");
    }
    let mut body = buffer[head_end..].to_vec();
    while body.len() < content_length {
        let n = client.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let id = forwarded.fetch_add(1, Ordering::SeqCst) + 1;
    let mut function = TcpStream::connect(backend)?;
    function.set_read_timeout(Some(IO_TIMEOUT))?;
    write!(
        function,
        "{request_line}\r\n{headers}x-vercel-internal-invocation-id: edge-{id}\r\nx-vercel-internal-request-id: {id}\r\nconnection: close\r\n\r\n"
    )?;
    function.write_all(&body)?;
    let mut response = Vec::new();
    function.read_to_end(&mut response)?;
    // The function closes after one request; so does the edge, and says so.
    let split = find(&response, b"\r\n").map_or(0, |end| end + 2);
    let (status_line, rest) = response.split_at(split);
    client.write_all(status_line)?;
    client.write_all(b"connection: close\r\n")?;
    let rest: Vec<u8> = String::from_utf8_lossy(rest)
        .split_inclusive("\r\n")
        .scan(false, |in_body, line| {
            if *in_body {
                return Some(line.as_bytes().to_vec());
            }
            if line == "\r\n" {
                *in_body = true;
            }
            let is_connection = line.to_ascii_lowercase().starts_with("connection:");
            Some(if is_connection {
                Vec::new()
            } else {
                line.as_bytes().to_vec()
            })
        })
        .flatten()
        .collect();
    client.write_all(&rest)?;
    client.flush()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

//! The IPC connection a function opens to `VERCEL_IPC_PATH`: JSON frames,
//! each ended by a NUL byte. The first must be `server-started` with the
//! port the function serves; `end` frames (one per invocation that carries
//! Vercel's internal headers) follow.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;

use crate::Reason;

/// Bytes asked of the socket per read: a burst of `end` frames under load
/// is drained in a few reads.
const CHUNK: usize = 64 * 1024;

/// The accepted end of a function's IPC connection, read frame by frame.
/// Bytes after a frame's NUL stay buffered for the next call, so no frame
/// that arrived in the same read as `server-started` is lost.
#[derive(Debug)]
pub struct Ipc {
    stream: UnixStream,
    buffer: Vec<u8>,
    /// Where the next frame starts in `buffer`.
    start: usize,
}

impl Ipc {
    pub(crate) fn new(stream: UnixStream) -> Ipc {
        Ipc {
            stream,
            buffer: Vec::with_capacity(CHUNK),
            start: 0,
        }
    }

    pub(crate) fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// The next frame's bytes, without its NUL; `None` once the function
    /// closed the connection (it exited or was killed). A frame cut off by
    /// the close is dropped: it never ended.
    pub fn next_frame(&mut self) -> io::Result<Option<&[u8]>> {
        let mut scanned = self.start;
        loop {
            if let Some(offset) = self.buffer[scanned..].iter().position(|byte| *byte == 0) {
                let frame = self.start..scanned + offset;
                self.start = frame.end + 1;
                return Ok(Some(&self.buffer[frame]));
            }
            // No whole frame buffered: keep the partial one, read more.
            self.buffer.drain(..self.start);
            self.start = 0;
            scanned = self.buffer.len();
            let mut chunk = [0u8; CHUNK];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
}

/// Whether `frame` is the `server-started` frame of a function serving
/// `port`: anything else means it is not speaking the protocol the
/// platform expects, and the start is a failure.
pub(crate) fn check_server_started(frame: &[u8], port: u16) -> Result<(), Reason> {
    let text = || String::from_utf8_lossy(frame).into_owned();
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(frame) else {
        return Err(Reason::NotJson(text()));
    };
    if value["type"] != "server-started" {
        return Err(Reason::NotServerStarted(text()));
    }
    if value["payload"]["httpPort"] != port {
        return Err(Reason::WrongPort {
            expected: port,
            frame: text(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn checks_the_ready_frame() {
        let frame = br#"{"type":"server-started","payload":{"initDuration":0,"httpPort":4001}}"#;
        assert!(check_server_started(frame, 4001).is_ok());
        assert!(matches!(
            check_server_started(frame, 4002),
            Err(Reason::WrongPort { expected: 4002, .. })
        ));
        assert!(matches!(
            check_server_started(br#"{"type":"log","payload":{}}"#, 4001),
            Err(Reason::NotServerStarted(_))
        ));
        assert!(matches!(
            check_server_started(b"Dev server listening: 4001", 4001),
            Err(Reason::NotJson(_))
        ));
    }

    #[test]
    fn frames_split_and_joined_across_reads_come_out_whole() {
        let (mut function, platform) = UnixStream::pair().unwrap();
        let mut ipc = Ipc::new(platform);
        function.write_all(b"{\"a\":1}\0{\"b\"").unwrap();
        assert_eq!(ipc.next_frame().unwrap(), Some(&b"{\"a\":1}"[..]));
        function.write_all(b":2}\0\0{\"c\":3}\0{\"cut").unwrap();
        assert_eq!(ipc.next_frame().unwrap(), Some(&b"{\"b\":2}"[..]));
        assert_eq!(ipc.next_frame().unwrap(), Some(&b""[..]));
        assert_eq!(ipc.next_frame().unwrap(), Some(&b"{\"c\":3}"[..]));
        drop(function);
        assert_eq!(ipc.next_frame().unwrap(), None);
    }
}

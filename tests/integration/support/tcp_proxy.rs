//! A loopback TCP proxy in front of PostgreSQL that can kill its
//! connections the way a NAT or a frozen instance does: silently, so the
//! client only finds out when it next writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Proxy {
    pub port: u16,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    generation: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let generation = Arc::new(AtomicUsize::new(0));
        let (accepted_in, generation_in) = (accepted.clone(), generation.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accepted_in.fetch_add(1, Ordering::SeqCst);
                let born = generation_in.load(Ordering::SeqCst);
                let generation = generation_in.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, born, generation).await;
                    }
                });
            }
        });
        Proxy {
            port,
            accepted,
            generation,
            task,
        }
    }

    /// Every connection open now dies the next time its client writes.
    pub fn kill_existing(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    mut client: TcpStream,
    mut server: TcpStream,
    born: usize,
    generation: Arc<AtomicUsize>,
) {
    let dead = AtomicBool::new(false);
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 || generation.load(Ordering::SeqCst) != born {
                dead.store(true, Ordering::SeqCst);
                break;
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let downstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = server_read.read(&mut buf).await {
            if n == 0 || client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    // Whichever side ends first ends both: the client sees its socket close.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

//! A loopback TCP proxy in front of PostgreSQL that can kill its
//! connections the way a NAT or a frozen instance does: silently, so the
//! client only finds out when it next writes ([`Proxy::kill_existing`]); or
//! at once, whatever they are doing, as a crashing pooler or a reset does
//! ([`Proxy::kill_now`]); or stop reaching it at all for a while, as an
//! outage does ([`Proxy::set_down`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    /// Connections closed by [`Proxy::kill_now`].
    pub killed: Arc<AtomicUsize>,
    /// Of those, the ones killed between a client's write and the server's
    /// answer: a statement was in flight, and may have run.
    pub killed_in_flight: Arc<AtomicUsize>,
    generation: Arc<AtomicUsize>,
    /// While set, connections are closed as soon as they are accepted.
    down: Arc<AtomicBool>,
    /// Bumped by [`Proxy::kill_now`]; every connection watches it.
    kills: Arc<watch::Sender<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let generation = Arc::new(AtomicUsize::new(0));
        let kills = Arc::new(watch::channel(0).0);
        let counters = Kills::default();
        let (accepted_in, generation_in) = (accepted.clone(), generation.clone());
        let (kills_in, counters_in) = (kills.clone(), counters.clone());
        let down = Arc::new(AtomicBool::new(false));
        let down_in = down.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accepted_in.fetch_add(1, Ordering::SeqCst);
                if down_in.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let born = generation_in.load(Ordering::SeqCst);
                let generation = generation_in.clone();
                // Subscribed before connecting upstream: a kill during the
                // connect ends this connection too.
                let kill = kills_in.subscribe();
                let counters = counters_in.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, born, generation, kill, counters).await;
                    }
                });
            }
        });
        Proxy {
            port,
            accepted,
            killed: counters.killed,
            killed_in_flight: counters.in_flight,
            generation,
            down,
            kills,
            task,
        }
    }

    /// Down: every open connection is closed now and new ones as soon as
    /// they arrive, as when the database is unreachable; up again: new
    /// connections reach it.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.kill_now();
        }
    }

    /// Every connection open now dies the next time its client writes.
    pub fn kill_existing(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Every connection open now is closed at once, both sockets, wherever
    /// its exchange is: a statement the server already received runs (and
    /// may commit) while its answer never reaches the client. Connections
    /// opened afterwards are not affected.
    pub fn kill_now(&self) {
        self.kills.send_modify(|kills| *kills += 1);
    }
}

/// What [`Proxy::kill_now`] did, shared with every connection.
#[derive(Clone, Default)]
struct Kills {
    killed: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
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
    mut kill: watch::Receiver<usize>,
    kills: Kills,
) {
    let dead = AtomicBool::new(false);
    // The client wrote and the server has not answered yet.
    let awaiting_answer = AtomicBool::new(false);
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 || generation.load(Ordering::SeqCst) != born {
                dead.store(true, Ordering::SeqCst);
                break;
            }
            awaiting_answer.store(true, Ordering::SeqCst);
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
            awaiting_answer.store(false, Ordering::SeqCst);
        }
    };
    let killed = async {
        // The proxy is gone (its sender dropped): nothing can kill any more.
        if kill.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    // Whichever side ends first ends both: the client sees its socket close.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
        () = killed => {
            kills.killed.fetch_add(1, Ordering::SeqCst);
            if awaiting_answer.load(Ordering::SeqCst) {
                kills.in_flight.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

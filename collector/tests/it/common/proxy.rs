//! A TCP proxy that a test can cut and restore, to take PostgreSQL "down" for one pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards 127.0.0.1:`port` to `target` while up.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, conns) = (up.clone(), conns.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: connection refused-like
                    }
                    let target = target.clone();
                    let h = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    conns.lock().unwrap().push(h);
                }
            }
        });
        Proxy {
            port,
            up,
            conns,
            accept,
        }
    }

    /// Cuts every connection and refuses new ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.down();
    }
}

/// A proxy in front of `pool`'s server and a small pool that connects through it, so a test
/// can take PostgreSQL "down" for that pool alone.
pub async fn pool_behind_proxy(pool: &sqlx::PgPool) -> (Proxy, sqlx::PgPool) {
    let opts = pool.connect_options();
    let db = opts.get_database().unwrap().to_string();
    let proxy = Proxy::start(format!("127.0.0.1:{}", opts.get_port())).await;
    let via_proxy = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect(&format!(
            "postgres://postgres@127.0.0.1:{}/{db}",
            proxy.port
        ))
        .await
        .unwrap();
    (proxy, via_proxy)
}

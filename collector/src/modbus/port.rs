//! A serial port the poller lends to a tokio-modbus RTU context and keeps: when a reply is
//! garbled or late, the poller drops the context, drains the line until it falls silent
//! (resynchronisation) and attaches a fresh one to the same port. It also counts the bytes
//! received, so that a timeout with bytes on the line is told apart from plain silence.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// Anything a serial line can be (a `SerialStream`, a pty end, an in-memory pipe).
pub trait Port: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Port for T {}

/// A shared handle on one serial line. Each poll takes the lock only for the duration of the
/// non-blocking poll call, so no lock is held across an await.
#[derive(Clone)]
pub struct SharedPort {
    inner: Arc<Mutex<Box<dyn Port>>>,
    received: Arc<AtomicU64>,
}

impl fmt::Debug for SharedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedPort")
            .field("received", &self.received())
            .finish_non_exhaustive()
    }
}

impl SharedPort {
    /// Wraps a serial stream.
    pub fn new<T: Port + 'static>(port: T) -> Self {
        SharedPort {
            inner: Arc::new(Mutex::new(Box::new(port))),
            received: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Box<dyn Port>> {
        // A panic elsewhere cannot leave a byte stream half-updated, so poisoning is moot.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads and discards until the line has been silent for `silence` (or `limit` has
    /// passed, should a device babble forever); returns the bytes discarded.
    pub async fn drain(&mut self, silence: Duration, limit: Duration) -> io::Result<u64> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut dropped = 0u64;
        let mut buf = [0u8; 256];
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(silence, self.read(&mut buf)).await {
                Err(_) => break,
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => dropped += n as u64,
                Ok(Err(e)) => return Err(e),
            }
        }
        Ok(dropped)
    }
}

impl AsyncRead for SharedPort {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut **self.lock()).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len().saturating_sub(before);
            self.received.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl AsyncWrite for SharedPort {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self.lock()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self.lock()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self.lock()).poll_shutdown(cx)
    }
}

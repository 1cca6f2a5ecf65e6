//! Guest stdout and stderr: kept in memory per call, bounded, and copied into the run log
//! under the plugin's name.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes a guest may write per call before further output is dropped.
pub const CAPACITY: usize = 64 * 1024;

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    dropped: usize,
}

#[derive(Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    /// Set by a write, cleared by a drain: most calls write nothing, and then draining after
    /// every call costs one load instead of a lock.
    written: AtomicBool,
}

/// A bounded, drainable capture of one output stream.
#[derive(Clone, Default)]
pub struct Capture(Arc<Shared>);

impl Capture {
    fn push(&self, data: &[u8]) {
        let mut b = self.0.buffer.lock().expect("capture lock");
        let room = CAPACITY.saturating_sub(b.bytes.len());
        let take = room.min(data.len());
        b.bytes.extend_from_slice(&data[..take]);
        b.dropped += data.len() - take;
        self.0.written.store(true, Ordering::Release);
    }

    /// Takes what was written since the last drain, and how many bytes were dropped.
    pub fn drain(&self) -> (String, usize) {
        // A plain load first: the atomic swap costs more, and is needed only after a write.
        if !self.0.written.load(Ordering::Acquire) || !self.0.written.swap(false, Ordering::Acquire)
        {
            return (String::new(), 0);
        }
        let mut b = self.0.buffer.lock().expect("capture lock");
        let text = String::from_utf8_lossy(&b.bytes).into_owned();
        b.bytes.clear();
        (text, std::mem::take(&mut b.dropped))
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: a flood is truncated, never blocks or traps the guest.
        Ok(CAPACITY)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

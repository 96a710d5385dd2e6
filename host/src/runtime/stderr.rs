//! A plugin's stderr: kept up to a cap (that is where a Rust panic message lands), silently
//! discarding the rest so that a chatty or hostile plugin can neither trap on a full pipe nor grow
//! host memory. It is always ready to take more, so a `blocking-write` to it never waits (see
//! `nowait`). The message quoted in a fault is escaped onto one line (see `text`).

use super::text;
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest guest message quoted in an error.
const MESSAGE_BYTES: usize = 1024;

#[derive(Clone)]
pub struct BoundedStderr {
    cap: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl BoundedStderr {
    pub fn new(cap: usize) -> Self {
        BoundedStderr { cap, buffer: Arc::new(Mutex::new(Vec::new())) }
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.cap.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The panic message the guest printed, or its last output, escaped and cut to 1 KiB.
    pub fn guest_message(&self) -> Option<String> {
        let bytes = self.buffer.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        // Rust prints "thread '<unnamed>' panicked at src/lib.rs:1:2:" then the message.
        let start = lines.iter().rposition(|l| l.contains("panicked at")).unwrap_or(0);
        let message = lines[start..].iter().filter(|l| !l.starts_with("note:")).copied().collect::<Vec<_>>().join(" ");
        (!message.is_empty()).then(|| text::escape_bounded(&message, MESSAGE_BYTES).into_owned())
    }
}

impl IsTerminal for BoundedStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedStderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for BoundedStderr {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready: what does not fit is dropped, never refused.
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BoundedStderr {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for BoundedStderr {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_panic_line_and_drops_overflow() {
        let mut s = BoundedStderr::new(64);
        OutputStream::write(
            &mut s,
            Bytes::from_static(b"noise\nthread '<unnamed>' panicked at src/lib.rs:1:1:\nboom\n"),
        )
        .unwrap();
        OutputStream::write(&mut s, Bytes::from(vec![b'x'; 1000])).unwrap();
        assert_eq!(s.buffer.lock().unwrap().len(), 64);
        assert!(s.guest_message().unwrap().starts_with("thread '<unnamed>' panicked at"));
    }

    #[test]
    fn the_message_is_escaped_onto_one_line() {
        let mut s = BoundedStderr::new(1 << 10);
        let panic = "thread '<unnamed>' panicked at src/lib.rs:1:1:\nboom\r\u{1b}[2J{\"level\":\"ERROR\"}\u{2028}x\n";
        OutputStream::write(&mut s, Bytes::from(panic)).unwrap();
        let message = s.guest_message().unwrap();
        assert!(!message.chars().any(text::needs_escape), "{message:?}");
        assert!(message.ends_with(r#"boom\r\u{1b}[2J{"level":"ERROR"}\u{2028}x"#), "{message}");
    }

    #[test]
    fn long_messages_are_cut() {
        let mut s = BoundedStderr::new(1 << 20);
        OutputStream::write(&mut s, Bytes::from(vec![b'y'; 5000])).unwrap();
        assert!(s.guest_message().unwrap().len() <= MESSAGE_BYTES + '…'.len_utf8());
    }
}

//! Lingering close: a connection the server ends while its client may still be sending
//! (a body refused before it was read, as a 413 is) sends its last answer, then a FIN,
//! and reads and drops what still comes for a moment before the socket closes.
//!
//! Closed at once, a socket with unread bytes in its receive queue answers them with a
//! reset, and a reset can reach the client before it has read the answer: it sees
//! "connection reset" (or its own write fails) instead of the 413 that says why. RFC
//! 9112, section 9.6, asks for this "staged" close; Go's `net/http` waits after a
//! half-close too (500 ms), and nginx's `lingering_close` reads for up to 30 s.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a closing connection keeps reading (and dropping) what its client sends.
pub const LINGER: Duration = Duration::from_secs(2);

/// How much a closing connection reads and drops at most before it closes anyway.
pub const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// A connection whose shutdown is a lingering close (see the module's documentation).
pub struct Lingering<S> {
    inner: S,
    /// Set once the write half is shut: the deadline and what was dropped so far.
    closing: Option<Closing>,
}

struct Closing {
    deadline: Pin<Box<Sleep>>,
    dropped: usize,
}

impl<S> Lingering<S> {
    /// Wraps a connection.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            closing: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Lingering<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    /// Shuts the write half (the client reads the answer, then the end), then reads
    /// and drops until the client ends too, [`LINGER`] passes or [`LINGER_BYTES`] came.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let closing = match &mut this.closing {
            Some(closing) => closing,
            None => {
                ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                this.closing.insert(Closing {
                    deadline: Box::pin(tokio::time::sleep(LINGER)),
                    dropped: 0,
                })
            }
        };
        let mut scratch = [0u8; 8 * 1024];
        while closing.dropped < LINGER_BYTES {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => break,
                Poll::Ready(Ok(())) => closing.dropped += buf.filled().len(),
                // Reset by the client, or anything else: nothing more to wait for.
                Poll::Ready(Err(_)) => break,
                Poll::Pending => {
                    ready!(closing.deadline.as_mut().poll(cx));
                    break;
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

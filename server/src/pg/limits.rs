//! Message size limit, enforced on the byte stream before pgwire buffers it.
//!
//! pgwire accepts a `Query`/`Parse`/`Bind` message of up to 1 GiB and buffers
//! it whole, so one client could make the server allocate 1 GiB per
//! connection. [`LimitedIo`] wraps the (plain or TLS) stream and follows the
//! frame boundaries: the first frame is untyped (startup or cancel request:
//! 4-byte length), every later one is typed (1 type byte + 4-byte length).
//! A length above the limit (or below the 4 bytes the length field itself
//! takes) fails the read with [`FrameError`] before the body is buffered.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest untyped startup-phase packet, the same as PostgreSQL's own limit.
pub const MAX_STARTUP_PACKET_BYTES: usize = 10_000;

/// A frame the client sent is out of bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The declared length exceeds the configured limit.
    #[error("message of {declared} bytes (type {kind:?}) exceeds the server limit of {limit} bytes")]
    TooLarge {
        /// Message type byte (`None` for startup-phase packets).
        kind: Option<char>,
        /// Length the client declared.
        declared: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The declared length is below the minimum of 4 bytes.
    #[error("invalid message length {declared} (type {kind:?}); the minimum is 4")]
    TooSmall {
        /// Message type byte (`None` for startup-phase packets).
        kind: Option<char>,
        /// Length the client declared.
        declared: i64,
    },
}

/// Tracks message boundaries in a frontend byte stream and checks lengths.
#[derive(Debug, Clone)]
pub struct FrameGuard {
    limit: usize,
    typed: bool,
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
}

impl FrameGuard {
    /// A guard for a stream whose next frame is the untyped startup packet.
    pub fn new(limit: usize) -> FrameGuard {
        FrameGuard {
            limit,
            typed: false,
            header: [0; 5],
            header_len: 0,
            body_left: 0,
        }
    }

    fn header_size(&self) -> usize {
        if self.typed { 5 } else { 4 }
    }

    /// Feeds bytes read from the client; fails on the first frame whose
    /// declared length is out of bounds.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), FrameError> {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let want = self.header_size() - self.header_len;
            let n = want.min(bytes.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
            self.header_len += n;
            bytes = &bytes[n..];
            if self.header_len == self.header_size() {
                self.start_body()?;
            }
        }
        Ok(())
    }

    fn start_body(&mut self) -> Result<(), FrameError> {
        let (kind, len_bytes, limit) = if self.typed {
            (Some(self.header[0] as char), &self.header[1..5], self.limit)
        } else {
            (None, &self.header[0..4], MAX_STARTUP_PACKET_BYTES)
        };
        let declared = i32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        if declared < 4 {
            return Err(FrameError::TooSmall {
                kind,
                declared: i64::from(declared),
            });
        }
        let declared = declared as usize;
        // The limit counts the type byte as PostgreSQL does not; keep the
        // plain reading "bytes after the type byte" for both kinds.
        if declared > limit {
            return Err(FrameError::TooLarge {
                kind,
                declared,
                limit,
            });
        }
        self.body_left = declared - 4;
        self.header_len = 0;
        if !self.typed {
            // Only the startup packet (or a cancel request, after which the
            // connection ends) is untyped; SSL negotiation happened earlier.
            self.typed = true;
        }
        Ok(())
    }
}

/// An async stream that checks every frontend frame against a size limit.
#[derive(Debug)]
pub struct LimitedIo<S> {
    inner: S,
    guard: FrameGuard,
    failed: Option<FrameError>,
}

impl<S> LimitedIo<S> {
    /// Wraps `inner`; `guard` must already have seen any bytes consumed
    /// before wrapping.
    pub fn new(inner: S, guard: FrameGuard) -> LimitedIo<S> {
        LimitedIo {
            inner,
            guard,
            failed: None,
        }
    }
}

fn frame_io_error(e: FrameError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<S: AsyncRead + Unpin> AsyncRead for LimitedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = &this.failed {
            return Poll::Ready(Err(frame_io_error(e.clone())));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new_bytes = &buf.filled()[before..];
                if let Err(e) = this.guard.feed(new_bytes) {
                    // Hide the offending bytes from the decoder.
                    buf.set_filled(before);
                    this.failed = Some(e.clone());
                    return Poll::Ready(Err(frame_io_error(e)));
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LimitedIo<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Finds a [`FrameError`] inside an I/O error produced by [`LimitedIo`].
pub fn frame_error_of(e: &io::Error) -> Option<&FrameError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<FrameError>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup(len: i32) -> Vec<u8> {
        let mut v = len.to_be_bytes().to_vec();
        v.resize(len.max(4) as usize, 0);
        v
    }

    fn typed(kind: u8, len: i32) -> Vec<u8> {
        let mut v = vec![kind];
        v.extend_from_slice(&len.to_be_bytes());
        v.resize(1 + len.max(4) as usize, b'x');
        v
    }

    #[test]
    fn accepts_frames_split_at_any_byte() {
        let mut stream = startup(40);
        stream.extend(typed(b'Q', 100));
        stream.extend(typed(b'S', 4));
        for chunk in [1, 2, 3, 7, 64, 1000] {
            let mut g = FrameGuard::new(1000);
            for piece in stream.chunks(chunk) {
                g.feed(piece).unwrap();
            }
            assert_eq!(g.body_left, 0);
            assert_eq!(g.header_len, 0);
        }
    }

    #[test]
    fn refuses_oversized_typed_message_before_body() {
        let mut g = FrameGuard::new(1000);
        g.feed(&startup(8)).unwrap();
        let mut header = vec![b'Q'];
        header.extend_from_slice(&(1_000_000i32).to_be_bytes());
        let err = g.feed(&header).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge { kind: Some('Q'), declared: 1_000_000, limit: 1000 }
        );
    }

    #[test]
    fn refuses_oversized_startup_packet_and_negative_lengths() {
        let mut g = FrameGuard::new(1 << 20);
        assert!(matches!(
            g.feed(&(20_000i32).to_be_bytes()),
            Err(FrameError::TooLarge { kind: None, .. })
        ));
        let mut g = FrameGuard::new(1 << 20);
        g.feed(&startup(8)).unwrap();
        let mut header = vec![b'P'];
        header.extend_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(g.feed(&header), Err(FrameError::TooSmall { kind: Some('P'), declared: -5 }));
    }

    #[tokio::test]
    async fn limited_io_fails_the_read_with_a_frame_error() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(1024);
        let mut io = LimitedIo::new(server, FrameGuard::new(16 * 1024));
        let mut bytes = startup(8);
        bytes.push(b'Q');
        bytes.extend_from_slice(&(i32::MAX).to_be_bytes());
        client.write_all(&bytes).await.unwrap();
        let mut buf = vec![0u8; 64];
        let mut total = 0;
        let err = loop {
            match io.read(&mut buf).await {
                Ok(0) => panic!("stream ended without an error"),
                Ok(n) => total += n,
                Err(e) => break e,
            }
        };
        assert!(total <= 8, "bytes past the bad header leaked: {total}");
        assert!(matches!(frame_error_of(&err), Some(FrameError::TooLarge { .. })), "{err}");
    }
}

//! A stream whose writes wait for its next read, as `TCP_CORK` would hold
//! them in the kernel: what is written goes out in one write when the
//! stream is next read (or shut down), and `flush` keeps it.
//!
//! Why: a TLS 1.3 client ends its handshake with a Finished message the
//! server needs before it answers, and a check writes its request right
//! after. Written as they come, they are two writes and two TCP segments;
//! corked, they are one, and so is the server's work to take them in. A
//! check only ever reads after it writes, so nothing waits on a held byte:
//! every read first sends what is held (the ClientHello before the
//! server's answer is read, a TLS 1.2 client flight before the server's
//! Finished is). What is held between two reads is one flight or one
//! request: a few KiB at most.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct Corked<S> {
    inner: S,
    held: Vec<u8>,
    /// How much of `held` is already out.
    sent: usize,
}

impl<S: AsyncWrite + Unpin> Corked<S> {
    pub fn new(inner: S) -> Corked<S> {
        Corked { inner, held: Vec::new(), sent: 0 }
    }

    /// Sends what is held; ready once all of it is out.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.held.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.held[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.held.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl Corked<tokio::net::TcpStream> {
    /// Sends what is held if the socket takes it now, without waiting: the
    /// last words of a connection given up on (a TLS alert saying why the
    /// handshake was refused), which would otherwise never leave.
    pub fn send_now(&mut self) {
        while self.sent < self.held.len() {
            match self.inner.try_write(&self.held[self.sent..]) {
                Ok(n) if n > 0 => self.sent += n,
                _ => return,
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Corked<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Corked<S> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().held.extend_from_slice(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let held = &mut self.get_mut().held;
        let before = held.len();
        for slice in slices {
            held.extend_from_slice(slice);
        }
        Poll::Ready(Ok(held.len() - before))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Keeps what is held: the next read sends it.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Our corked end of a pipe of 64 bytes, and the peer's.
    fn corked_pair() -> (Corked<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(64);
        (Corked::new(ours), theirs)
    }

    // The paused clock: the wait for a byte that must not come is virtual.
    #[tokio::test(start_paused = true)]
    async fn writes_wait_for_the_next_read_and_go_in_order() {
        let (mut corked, mut peer) = corked_pair();
        corked.write_all(b"finished|").await.unwrap();
        corked.flush().await.unwrap();
        corked.write_all(b"GET / HTTP/1.1").await.unwrap();
        corked.flush().await.unwrap();
        let mut nothing = [0u8; 1];
        let early = tokio::time::timeout(std::time::Duration::from_secs(5), peer.read(&mut nothing)).await;
        assert!(early.is_err(), "a held byte reached the peer before any read");

        peer.write_all(b"HTTP/1.1 200 OK").await.unwrap();
        let mut answer = [0u8; 15];
        corked.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200 OK");
        let mut sent = [0u8; 23];
        peer.read_exact(&mut sent).await.unwrap();
        assert_eq!(&sent, b"finished|GET / HTTP/1.1");
    }

    #[tokio::test]
    async fn more_than_the_pipe_holds_goes_out_while_reading() {
        // 1,000 bytes through a pipe of 64: the read waits for room, sending
        // as the peer drains, and reads the answer once all is out.
        let (mut corked, mut peer) = corked_pair();
        let request: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        corked.write_all(&request).await.unwrap();
        let expected = request.clone();
        let server = tokio::spawn(async move {
            let mut got = vec![0u8; 1000];
            peer.read_exact(&mut got).await.unwrap();
            peer.write_all(b"ok").await.unwrap();
            got
        });
        let mut answer = [0u8; 2];
        corked.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"ok");
        assert_eq!(server.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn shutdown_sends_what_is_held_first() {
        let (mut corked, mut peer) = corked_pair();
        corked.write_all(b"last words").await.unwrap();
        corked.shutdown().await.unwrap();
        let mut all = Vec::new();
        peer.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"last words");
    }

    #[tokio::test]
    async fn vectored_writes_are_held_whole() {
        let (mut corked, mut peer) = corked_pair();
        let slices = [IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cde")];
        assert_eq!(corked.write_vectored(&slices).await.unwrap(), 5);
        corked.shutdown().await.unwrap();
        let mut all = Vec::new();
        peer.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"abcde");
    }
}

//! Stdout belongs to a thread of its own. Records are formatted by the run
//! loop (`app::run`) into [`Output`], which hands them over in chunks
//! through a bounded channel; the thread writes them. A reader that stops reading blocks only
//! that thread: the run loop awaits room in the channel in the same `select`
//! as the signals, so Ctrl-C and SIGTERM still end the run.

use std::io::{self, Write};
use std::thread;

use indicatif::ProgressBar;
use tokio::sync::{mpsc, oneshot};

/// Chunks in flight to the writer thread.
const CHUNKS: usize = 8;
/// Past this many formatted bytes not yet handed over, the run loop stops
/// producing results until the writer takes them: memory stays bounded
/// when stdout is slow.
const FULL: usize = 64 * 1024;

/// The run loop's end of stdout.
pub struct Output {
    pending: Vec<u8>,
    chunks: Option<mpsc::Sender<Vec<u8>>>,
    /// The writer's result: its first write error, or `Ok` once every chunk
    /// was written and flushed.
    done: Option<oneshot::Receiver<io::Result<()>>>,
}

impl Output {
    /// Starts the writer thread on `out`. Writes hide `bar` while they run
    /// (the progress line shares a terminal with stdout).
    pub fn spawn(out: impl Write + Send + 'static, bar: Option<ProgressBar>) -> io::Result<Output> {
        let (chunks, receiver) = mpsc::channel(CHUNKS);
        let (finished, done) = oneshot::channel();
        thread::Builder::new().name("stdout".into()).spawn(move || {
            let result = write_all(out, receiver, bar);
            let _ = finished.send(result);
        })?;
        Ok(Output { pending: Vec::new(), chunks: Some(chunks), done: Some(done) })
    }

    /// Whether formatted bytes wait to be handed over.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether the run loop should stop taking results until [`Output::send`].
    pub fn is_full(&self) -> bool {
        self.pending.len() >= FULL
    }

    /// Hands what is pending to the writer, waiting for room in the channel.
    /// Cancel-safe: if dropped while waiting, nothing is lost. The writer's
    /// error, if it stopped (`BrokenPipe` when the reader went away).
    pub async fn send(&mut self) -> io::Result<()> {
        let Some(chunks) = &self.chunks else { return Err(stopped()) };
        if let Ok(permit) = chunks.reserve().await {
            permit.send(std::mem::take(&mut self.pending));
            return Ok(());
        }
        Err(self.writer_error().await)
    }

    /// Hands over the rest and waits until the writer has written and
    /// flushed all of it.
    pub async fn close(&mut self) -> io::Result<()> {
        if self.has_pending() {
            self.send().await?;
        }
        self.chunks = None;
        match self.done.take() {
            Some(done) => done.await.unwrap_or_else(|_| Err(stopped())),
            None => Err(stopped()),
        }
    }

    /// Why the writer stopped early.
    async fn writer_error(&mut self) -> io::Error {
        self.chunks = None;
        match self.done.take() {
            Some(done) => match done.await {
                Ok(Err(error)) => error,
                _ => stopped(),
            },
            None => stopped(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    /// Nothing to do here: the run loop hands chunks over with [`Output::send`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writer thread: each chunk written and flushed before the next is
/// taken, so a pipe sees results as they come.
fn write_all(mut out: impl Write, mut chunks: mpsc::Receiver<Vec<u8>>, bar: Option<ProgressBar>) -> io::Result<()> {
    while let Some(chunk) = chunks.blocking_recv() {
        let mut write = || out.write_all(&chunk).and_then(|()| out.flush());
        match &bar {
            Some(bar) => bar.suspend(write)?,
            None => write()?,
        }
    }
    Ok(())
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the stdout writer stopped")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer that keeps what it is given, or fails every write.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>, bool);

    impl Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.1 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn bytes_arrive_in_order_and_close_waits_for_them() {
        let kept = Kept::default();
        let mut output = Output::spawn(kept.clone(), None).unwrap();
        for i in 0..100 {
            writeln!(output, "{i}").unwrap();
            if i % 7 == 0 {
                output.send().await.unwrap();
            }
        }
        output.close().await.unwrap();
        let expected: String = (0..100).map(|i| format!("{i}\n")).collect();
        assert_eq!(String::from_utf8(kept.0.lock().unwrap().clone()).unwrap(), expected);
    }

    #[tokio::test]
    async fn a_failed_write_comes_back_as_the_error() {
        let mut output = Output::spawn(Kept(Arc::default(), true), None).unwrap();
        let mut error = None;
        for _ in 0..CHUNKS + 2 {
            output.write_all(b"x\n").unwrap();
            if let Err(e) = output.send().await {
                error = Some(e);
                break;
            }
        }
        let error = match error {
            Some(error) => error,
            None => output.close().await.unwrap_err(),
        };
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }
}

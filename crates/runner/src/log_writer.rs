//! The log's writer: lines below `WARN` (the per-request `info` line) are
//! collected in memory and written in batches; warnings and errors are
//! written at once, after everything collected before them.
//!
//! With `std::io::stderr` as the writer every request cost a `write(2)`
//! on the request's worker (one of the five syscalls of a no-op request).
//! Here a thread writes what has been collected every [`FLUSH_INTERVAL`],
//! or the line that fills [`MAX_BUFFERED`] bytes writes it, so a line may
//! reach the output up to that interval late, and lines still in memory
//! are lost if the process is killed (`SIGKILL`); [`LogWriter::flush`] at
//! exit writes the rest. Order is kept: one lock serialises the writes.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often the flushing thread writes the collected lines.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// Collected bytes past which the line that crosses it writes them.
const MAX_BUFFERED: usize = 32 << 10;

struct Shared {
    /// Lines not yet written.
    pending: Mutex<Vec<u8>>,
    /// The output; its lock also orders the writes.
    out: Mutex<Box<dyn Write + Send>>,
}

impl Shared {
    /// Writes everything collected so far (and `extra` after it).
    fn write_out(&self, extra: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let batch = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.is_empty() && extra.is_empty() {
                return;
            }
            std::mem::take(&mut *pending)
        };
        // A log line that cannot be written has nowhere else to go.
        let _ = out.write_all(&batch);
        let _ = out.write_all(extra);
        let _ = out.flush();
        // Keep the allocation for the next batch when nothing was added
        // meanwhile (the usual case).
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() && batch.capacity() <= 2 * MAX_BUFFERED {
            let mut batch = batch;
            batch.clear();
            *pending = batch;
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last writer is gone: what it collected still goes out.
        self.write_out(&[]);
    }
}

/// A `MakeWriter` for `tracing_subscriber::fmt` that batches the writes of
/// lines below `WARN`.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

impl LogWriter {
    /// A writer to `out`, flushed by a thread of its own every `interval`.
    pub fn new(out: Box<dyn Write + Send>, interval: Duration) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::with_capacity(MAX_BUFFERED)),
            out: Mutex::new(out),
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("sales-runner-log".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                let Some(shared) = weak.upgrade() else { break };
                shared.write_out(&[]);
            })?;
        Ok(Self { shared })
    }

    /// A writer to the process's standard error.
    pub fn stderr() -> std::io::Result<Self> {
        Self::new(Box::new(std::io::stderr()), FLUSH_INTERVAL)
    }

    /// Writes every collected line now (call before the process exits).
    pub fn flush(&self) {
        self.shared.write_out(&[]);
    }
}

/// Writes one formatted line: collected, or (`urgent`) written at once.
pub struct LineWriter {
    shared: Arc<Shared>,
    urgent: bool,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.urgent {
            self.shared.write_out(buf);
            return Ok(buf.len());
        }
        let full = {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            pending.extend_from_slice(buf);
            pending.len() >= MAX_BUFFERED
        };
        if full {
            self.shared.write_out(&[]);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            shared: self.shared.clone(),
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LineWriter {
        LineWriter {
            shared: self.shared.clone(),
            // `WARN` and `ERROR` compare as less than `INFO`.
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    /// An output the test can read while the writer owns it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn subscriber(writer: LogWriter) -> impl tracing::Subscriber {
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer),
        )
    }

    #[test]
    fn info_lines_wait_for_the_flush_and_warnings_go_out_at_once_in_order() {
        let out = Captured::default();
        // An interval no test run reaches: only explicit writes happen.
        let writer = LogWriter::new(Box::new(out.clone()), Duration::from_secs(3600)).unwrap();
        tracing::subscriber::with_default(subscriber(writer.clone()), || {
            tracing::info!(request_id = 1, "request");
            tracing::info!(request_id = 2, "request");
            assert_eq!(out.text(), "", "an info line was written at once");
            tracing::warn!("something odd");
            let text = out.text();
            let one = text
                .find("request_id=1")
                .expect("line 1 written before the warning");
            let two = text
                .find("request_id=2")
                .expect("line 2 written before the warning");
            let warn = text
                .find("something odd")
                .expect("the warning was not written");
            assert!(one < two && two < warn, "out of order: {text}");
            tracing::info!(request_id = 3, "request");
        });
        assert!(!out.text().contains("request_id=3"));
        writer.flush();
        assert!(
            out.text().contains("request_id=3"),
            "flush left a line behind"
        );
    }

    #[test]
    fn the_thread_writes_collected_lines_within_the_interval() {
        let out = Captured::default();
        let writer = LogWriter::new(Box::new(out.clone()), Duration::from_millis(20)).unwrap();
        // The writer stays alive (as in the runner): only its thread writes.
        tracing::subscriber::with_default(subscriber(writer.clone()), || {
            tracing::info!(request_id = 7, "request");
        });
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while !out.text().contains("request_id=7") {
            assert!(
                std::time::Instant::now() < until,
                "the line was never written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(writer);
    }

    #[test]
    fn dropping_the_last_writer_writes_what_it_collected() {
        let out = Captured::default();
        let writer = LogWriter::new(Box::new(out.clone()), Duration::from_secs(3600)).unwrap();
        tracing::subscriber::with_default(subscriber(writer), || {
            tracing::info!(request_id = 9, "request");
        });
        assert!(out.text().contains("request_id=9"), "the line was lost");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_line_that_fills_it() {
        let out = Captured::default();
        let writer = LogWriter::new(Box::new(out.clone()), Duration::from_secs(3600)).unwrap();
        let filler = "x".repeat(1000);
        tracing::subscriber::with_default(subscriber(writer.clone()), || {
            for i in 0..(MAX_BUFFERED / 1000 + 1) {
                tracing::info!(i, filler, "request");
            }
        });
        assert!(
            out.text().len() >= MAX_BUFFERED,
            "nothing written past the limit"
        );
        drop(writer);
    }
}

//! A log writer given in code that itself logs through `tracing` (a pipeline whose client
//! warns on a failed send) while `init`'s subscriber is the global one: the line it logs
//! from inside the write cannot be written to the writer that is busy writing; it is counted
//! and warned about, and neither the process nor the writer hangs.

use std::io::{self, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_perf_core::InitBuilder;
use tracing::Level;

/// Keeps what it is given, and warns through `tracing` on every write.
#[derive(Clone, Default)]
struct WarningWriter {
    taken: Arc<Mutex<Vec<u8>>>,
}

impl Write for WarningWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        tracing::warn!(bytes = bytes.len(), "slow pipeline");
        self.taken.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_writer_that_logs_neither_hangs_nor_loses_the_line_it_writes() {
    let writer = WarningWriter::default();
    InitBuilder::from_env()
        .log_level(Level::INFO)
        .xray_layer(false)
        .log_writer(writer.clone())
        .init()
        .unwrap();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        tracing::info!(order = 7, "placed");
        tracing::info!(order = 8, "placed");
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("logging through a writer that logs returned");
    let taken = String::from_utf8(writer.taken.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = taken
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{taken}");
    assert_eq!(lines[0]["order"], 7);
    assert_eq!(lines[1]["order"], 8);
}

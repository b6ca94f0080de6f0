//! A user's EMF writer that panicked once (its lock poisoned) must still be flushed after
//! each later write: the lines it buffers would otherwise stay in its buffer, uncounted, and
//! be lost with the process.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

/// Buffers what it is given until flushed (as `BufWriter` does); panics on its first write.
#[derive(Clone, Default)]
struct BufferingWriter {
    writes: Arc<Mutex<usize>>,
    buffered: Arc<Mutex<Vec<u8>>>,
    flushed: Arc<Mutex<Vec<u8>>>,
}

impl Write for BufferingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let first = {
            let mut writes = self.writes.lock().unwrap();
            *writes += 1;
            *writes == 1
        };
        if first {
            panic!("the writer fails once (expected by the test)");
        }
        self.buffered.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut buffered = self.buffered.lock().unwrap();
        self.flushed.lock().unwrap().append(&mut buffered);
        Ok(())
    }
}

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    Ok(json!({ "ok": true }))
}

#[test]
fn lines_written_after_a_writer_panicked_are_still_flushed() {
    let writer = BufferingWriter::default();
    let layer = PerfLayer::builder()
        .service("s")
        .namespace("N")
        .handler_name("handler")
        .metrics_disabled(false)
        .trace_disabled(true)
        .without_marker()
        .timeout_margin(Duration::ZERO)
        .emf_writer(writer.clone())
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..2 {
        let answer = rt.block_on(layer.layer(service_fn(handler)).oneshot(event(json!({}))));
        assert_eq!(answer.unwrap(), json!({ "ok": true }));
    }
    // The first write (the ColdStart line) panicked; every line after it reached the writer
    // and must have been flushed, as before the panic.
    let flushed = String::from_utf8(writer.flushed.lock().unwrap().clone()).unwrap();
    let buffered = writer.buffered.lock().unwrap().len();
    assert!(
        flushed.contains("\"Orders\""),
        "nothing flushed after the panic ({buffered} bytes left in the writer's buffer): {flushed:?}"
    );
}

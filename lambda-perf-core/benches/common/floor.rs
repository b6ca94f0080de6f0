//! The floor lambda-perf's cost is budgeted by (`ARCHITECTURE.md`, "Cost budget"): one `write(2)` of the EMF line
//! to a real file descriptor plus one `send(2)` of the subsegment's datagram on a real UDP
//! socket, at the sizes this build writes; and the bench layer those sizes come from.
//! Included with `#[path]` by the benches.

#![allow(dead_code)] // not every includer uses every item

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use lambda_perf_core::PerfLayer;
use lambda_perf_core::layer::PerfLayerBuilder;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::{Layer, Service, service_fn};

use super::scenario::{event, instrumented};

/// `/dev/null`, opened for writing: a real file descriptor, every line one `write(2)`.
pub(crate) fn dev_null() -> File {
    File::options().write(true).open("/dev/null").unwrap()
}

/// Counts the bytes of the last write, on the way to `/dev/null`.
#[derive(Clone)]
pub(crate) struct Measuring(Arc<Mutex<usize>>, Arc<Mutex<File>>);

impl Write for Measuring {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        *self.0.lock().unwrap() = bytes.len();
        self.1.lock().unwrap().write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A daemon on loopback that receives nothing: datagrams are dropped when its buffer is
/// full, which costs the sender nothing more.
pub(crate) fn daemon() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// How the benches configure the layer beyond the scenario's settings.
pub(crate) type Configure = fn(PerfLayerBuilder) -> PerfLayerBuilder;

/// The scenario's settings, as they are.
pub(crate) fn as_is(builder: PerfLayerBuilder) -> PerfLayerBuilder {
    builder
}

/// The bench layer: the scenario's service and namespace, metrics and traces on, EMF lines
/// to `emf`, datagrams to `daemon`, then `configure`.
pub(crate) fn layer(
    daemon: &UdpSocket,
    marker_dir: &std::path::Path,
    emf: impl Write + Send + 'static,
    configure: Configure,
) -> PerfLayer {
    layer_to(daemon.local_addr().unwrap(), marker_dir, emf, configure)
}

/// [`layer`], its datagrams to the daemon at `daemon`.
pub(crate) fn layer_to(
    daemon: SocketAddr,
    marker_dir: &std::path::Path,
    emf: impl Write + Send + 'static,
    configure: Configure,
) -> PerfLayer {
    let builder = PerfLayer::builder()
        .service("bench")
        .namespace("Bench")
        .metrics_disabled(false)
        .trace_disabled(false)
        .marker_dir(marker_dir)
        .emf_writer(emf)
        .xray_daemon_address(daemon.to_string());
    configure(builder).build().unwrap()
}

/// The sizes the floor is made of: the EMF line of a warm sampled invocation and its
/// subsegment's datagram, as this build writes them.
pub(crate) struct Sizes {
    pub(crate) line: usize,
    pub(crate) datagram: usize,
}

/// The sizes of what the bench layer configured with `configure` writes.
pub(crate) fn measure_sizes(
    runtime: &Runtime,
    marker_dir: &std::path::Path,
    configure: Configure,
) -> Sizes {
    let daemon = daemon();
    daemon
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let written = Arc::new(Mutex::new(0));
    let emf = Measuring(Arc::clone(&written), Arc::new(Mutex::new(dev_null())));
    let mut service = layer(&daemon, marker_dir, emf, configure).layer(service_fn(instrumented));
    runtime.block_on(service.call(event(true))).unwrap(); // the cold one
    let mut buffer = vec![0; 65_536];
    while daemon.recv(&mut buffer).is_ok() {} // its subsegment
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    runtime.block_on(service.call(event(true))).unwrap();
    let datagram = daemon.recv(&mut buffer).unwrap();
    let line = *written.lock().unwrap();
    Sizes { line, datagram }
}

/// The floor: one `send(2)` of `datagram` on a connected UDP socket, and one `write(2)` of
/// `line` to a file (`/dev/null`, or a pipe). Both by shared reference, so that tasks on
/// several threads can share one file and one socket, as invocations share lambda-perf's.
pub(crate) struct Floor {
    file: File,
    line: Vec<u8>,
    socket: UdpSocket,
    datagram: Vec<u8>,
    _receiver: Option<UdpSocket>,
}

impl Floor {
    /// To `/dev/null` and a socket nobody reads.
    pub(crate) fn new(sizes: &Sizes) -> Self {
        let receiver = daemon();
        let mut floor = Self::to(sizes, dev_null(), receiver.local_addr().unwrap());
        floor._receiver = Some(receiver);
        floor
    }

    /// To `file` and the socket at `daemon`.
    pub(crate) fn to(sizes: &Sizes, file: File, daemon: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        socket.connect(daemon).unwrap();
        let mut line = vec![b'x'; sizes.line];
        if let Some(last) = line.last_mut() {
            *last = b'\n';
        }
        Self {
            file,
            line,
            socket,
            datagram: vec![b'x'; sizes.datagram],
            _receiver: None,
        }
    }

    pub(crate) fn write(&self) {
        (&self.file).write_all(black_box(&self.line)).unwrap();
    }

    /// The datagram first, then the line: the order in which an invocation's end sends its
    /// subsegment and writes its EMF line.
    pub(crate) fn send_and_write(&self) {
        let _ = black_box(self.socket.send(black_box(&self.datagram)));
        self.write();
    }
}

/// One warm invocation of `service` through `runtime`, its event sampled or not.
pub(crate) fn invoke<S>(runtime: &Runtime, service: &mut S, sampled: bool) -> S::Response
where
    S: Service<LambdaEvent<Value>, Error = Error>,
{
    runtime
        .block_on(service.call(black_box(event(sampled))))
        .unwrap()
}

/// The floor the bare handlers below make their system calls on: set once by the bench.
pub(crate) static FLOOR: OnceLock<Floor> = OnceLock::new();

/// The bare handler, making the floor's `write(2)` itself before it answers.
pub(crate) async fn bare_writing(_: LambdaEvent<Value>) -> Result<u32, Error> {
    FLOOR.get().expect("set first").write();
    Ok(1)
}

/// The bare handler, making the floor's `send(2)` and `write(2)` itself before it answers.
pub(crate) async fn bare_sending_writing(_: LambdaEvent<Value>) -> Result<u32, Error> {
    FLOOR.get().expect("set first").send_and_write();
    Ok(1)
}

//! The process the `#[instrument_lambda]` tests run their handlers in: the macro reads its
//! configuration from the environment, so each such test is a file (a process) of its own.

use std::net::UdpSocket;
use std::time::Duration;

use lambda_http::{Body, Request, RequestExt};
use lambda_perf_core::test_util::event;

/// A request as `lambda_http::run` hands it over: with its Lambda context, sampled.
pub(crate) fn request() -> Request {
    Request::new(Body::Empty).with_lambda_context(event(()).context)
}

/// A daemon socket on loopback, and this process's environment set for the macro: traces to
/// the daemon, the marker file in a temporary directory (returned, to outlive the test),
/// metrics off, then `extra`. Called before any other thread runs.
pub(crate) fn daemon_environment(extra: &[(&str, &str)]) -> (UdpSocket, tempfile::TempDir) {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let markers = tempfile::tempdir().unwrap();
    let address = daemon.local_addr().unwrap().to_string();
    let base = [
        ("AWS_XRAY_DAEMON_ADDRESS", address.as_str()),
        ("TMPDIR", markers.path().to_str().unwrap()),
        ("POWERTOOLS_SERVICE_NAME", "test"),
        ("POWERTOOLS_METRICS_DISABLED", "true"),
    ];
    for (name, value) in base.iter().chain(extra) {
        // SAFETY: set before any other thread runs (each test file is a process of its own,
        // and nextest runs each test in one).
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(name, value);
        }
    }
    (daemon, markers)
}

/// The next datagram `daemon` receives, less the daemon header.
pub(crate) fn received(daemon: &UdpSocket) -> Vec<u8> {
    let mut buffer = vec![0; 70_000];
    let length = daemon.recv(&mut buffer).unwrap();
    let datagram = &buffer[..length];
    let newline = datagram.iter().position(|&b| b == b'\n').unwrap();
    datagram[newline + 1..].to_vec()
}

//! [`XRayCollector`]: a stand-in for the X-Ray daemon that keeps every datagram it receives.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::emulator::error::HarnessError;

/// The header every datagram must start with, as the daemon reads it.
const EXPECTED_FORMAT: &str = "json";

/// One datagram as received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Datagram {
    /// The bytes received.
    pub raw: Vec<u8>,
    /// When it arrived.
    pub received_at: Instant,
    /// The parsed document, or why the datagram is not one the daemon would accept.
    pub document: Result<Value, String>,
}

/// Receives X-Ray datagrams on a loopback UDP port (give the function
/// `AWS_XRAY_DAEMON_ADDRESS=<addr>`), checking each as the daemon does: a
/// `{"format":"json","version":1}` header line, then one JSON document.
#[derive(Debug)]
pub struct XRayCollector {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Datagram>>>,
    arrived: Arc<Notify>,
    task: JoinHandle<()>,
}

impl XRayCollector {
    /// Binds `127.0.0.1:0` and starts receiving. Must be called inside a tokio runtime.
    pub async fn start() -> io::Result<Self> {
        let socket = UdpSocket::bind(("127.0.0.1", 0)).await?;
        let addr = socket.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let task = tokio::spawn(receive(socket, Arc::clone(&received), Arc::clone(&arrived)));
        Ok(Self {
            addr,
            received,
            arrived,
            task,
        })
    }

    /// The address to give the function as `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every datagram received so far.
    pub fn datagrams(&self) -> Vec<Datagram> {
        lock(&self.received).clone()
    }

    /// The documents of every valid datagram received so far.
    pub fn documents(&self) -> Vec<Value> {
        lock(&self.received)
            .iter()
            .filter_map(|datagram| datagram.document.clone().ok())
            .collect()
    }

    /// Waits until a received document matches `predicate` and returns it.
    pub async fn wait_for<P>(&self, predicate: P, timeout: Duration) -> Result<Value, HarnessError>
    where
        P: Fn(&Value) -> bool,
    {
        let now = tokio::time::Instant::now();
        // A timeout past what an instant holds is no limit: a year will do.
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        loop {
            let arrived = self.arrived.notified();
            if let Some(found) = self
                .documents()
                .into_iter()
                .find(|document| predicate(document))
            {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return Err(HarnessError::Timeout {
                    what: "an X-Ray document".to_owned(),
                    last_lines: self
                        .datagrams()
                        .iter()
                        .rev()
                        .take(5)
                        .map(|d| String::from_utf8_lossy(&d.raw).into_owned())
                        .collect(),
                });
            }
        }
    }
}

impl Drop for XRayCollector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(received: &Mutex<Vec<Datagram>>) -> std::sync::MutexGuard<'_, Vec<Datagram>> {
    received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn receive(socket: UdpSocket, received: Arc<Mutex<Vec<Datagram>>>, arrived: Arc<Notify>) {
    let mut buffer = vec![0u8; 65_536];
    while let Ok(length) = socket.recv(&mut buffer).await {
        let raw = buffer[..length].to_vec();
        let document = parse(&raw);
        lock(&received).push(Datagram {
            raw,
            received_at: Instant::now(),
            document,
        });
        arrived.notify_waiters();
    }
}

/// Splits a datagram at its first newline and checks both parts as the daemon does.
pub(crate) fn parse(raw: &[u8]) -> Result<Value, String> {
    let newline = raw
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no newline after the header")?;
    let header: Value = serde_json::from_slice(&raw[..newline])
        .map_err(|error| format!("header is not JSON: {error}"))?;
    let format_ok = header["format"]
        .as_str()
        .is_some_and(|format| format.eq_ignore_ascii_case(EXPECTED_FORMAT));
    if !format_ok || header["version"] != 1 {
        return Err(format!("invalid header {header}"));
    }
    let document: Value = serde_json::from_slice(&raw[newline + 1..])
        .map_err(|error| format!("document is not JSON: {error}"))?;
    if document.is_object() {
        Ok(document)
    } else {
        Err("the document is not a JSON object".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_daemon_accepts() {
        let ok = parse(b"{\"format\":\"json\",\"version\":1}\n{\"name\":\"x\"}").unwrap();
        assert_eq!(ok["name"], "x");
        assert!(parse(b"{\"format\": \"JSON\", \"version\": 1}\n{}").is_ok());
        for bad in [
            &b"{\"name\":\"x\"}"[..],
            b"{\"format\":\"json\",\"version\":2}\n{}",
            b"{\"format\":\"xml\",\"version\":1}\n{}",
            b"{\"format\":\"json\",\"version\":1}\n[1]",
            b"{\"format\":\"json\",\"version\":1}\n{\"a\":",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[tokio::test]
    async fn collects_datagrams_sent_to_it() {
        let collector = XRayCollector::start().await.unwrap();
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .send_to(
                b"{\"format\":\"json\",\"version\":1}\n{\"id\":\"1\"}",
                collector.addr(),
            )
            .unwrap();
        socket.send_to(b"garbage", collector.addr()).unwrap();
        let found = collector
            .wait_for(|doc| doc["id"] == "1", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(found["id"], "1");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let datagrams = collector.datagrams();
        assert_eq!(datagrams.len(), 2);
        assert!(datagrams[1].document.is_err());
    }
}

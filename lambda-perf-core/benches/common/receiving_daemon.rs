//! A stand-in X-Ray daemon that receives every datagram, as the daemon does on Lambda (a
//! socket nobody reads, `floor::daemon`, drops them once its buffer is full). Included with
//! `#[path]` by the benches.

#![allow(dead_code)] // not every includer uses every item

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A UDP socket on loopback that a thread receives every datagram from, as the X-Ray daemon
/// does, counting them.
pub(crate) struct ReceivingDaemon {
    pub(crate) address: SocketAddr,
    received: Arc<AtomicU64>,
    /// The receiving thread's `/proc/…/status`.
    pub(crate) thread_status: PathBuf,
}

impl ReceivingDaemon {
    pub(crate) fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&received);
        let (tell, told) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // `/proc/thread-self` names this thread: `<pid>/task/<tid>`.
            let _ = tell.send(std::fs::read_link("/proc/thread-self").unwrap_or_default());
            let mut buffer = vec![0; 65_536];
            while socket.recv(&mut buffer).is_ok() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let thread = told.recv().unwrap_or_default();
        Self {
            address,
            received,
            thread_status: PathBuf::from("/proc").join(thread).join("status"),
        }
    }

    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The count once it has stopped moving for 200 ms (at most 5 s): the last datagrams may
    /// still be on their way.
    pub(crate) fn settled(&self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = self.received();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            let now = self.received();
            if now == last {
                break;
            }
            last = now;
        }
        self.received()
    }
}

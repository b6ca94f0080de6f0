//! [`UdpDaemonSink`]: each closed subsegment as one datagram to the X-Ray daemon.

use std::cell::RefCell;
use std::fmt;
use std::net::UdpSocket;

use super::SubsegmentSink;
use super::daemon_socket::{connect, send_failure_hint};
use crate::drops;
use crate::formats::xray::SubsegmentDocument;
use crate::formats::xray::document::Detail;
use crate::invocation::output::Delivery;
use crate::warn::WarnOnce;

/// Sends each subsegment as one datagram to the X-Ray daemon: the header
/// `{"format":"json","version":1}`, a newline, and the document (shrunk to fit 64 000 bytes).
///
/// The address is resolved (a host name looked up, its first IPv4 address taken when it has
/// one, as the X-Ray SDKs send over IPv4) and the socket created when the sink is, with the
/// configuration — never with a blocking lookup inside an invocation. The socket is
/// non-blocking and connected to the daemon, so a missing daemon is noticed (from the ICMP
/// error of an earlier send) and reported once. Each send that fails is counted
/// (`xray.send_failed`): without a daemon, on Linux, the send after each one that drew a "port
/// unreachable", about one in two; a datagram that leaves and is lost is not seen, so the
/// count is a lower bound of the subsegments lost.
pub struct UdpDaemonSink {
    setting: String,
    /// `None` when the address could not be used (one warning said so).
    socket: Option<UdpSocket>,
}

static UNUSABLE_ADDRESS: WarnOnce = WarnOnce::new();
static SEND_FAILED: WarnOnce = WarnOnce::new();
static TRIMMED: WarnOnce = WarnOnce::new();
static TOO_LARGE: WarnOnce = WarnOnce::new();

thread_local! {
    static DATAGRAM: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl UdpDaemonSink {
    /// A sink for the daemon at `setting`, in the form of `AWS_XRAY_DAEMON_ADDRESS`
    /// (`host:port` or `tcp:host:port udp:host:port`), resolved and connected now. An unusable
    /// address costs one warning; the sink then sends nothing, and counts what it drops.
    #[must_use]
    pub fn new(setting: impl Into<String>) -> Self {
        let setting = setting.into();
        let socket = match connect(&setting) {
            Ok(socket) => Some(socket),
            Err(error) => {
                UNUSABLE_ADDRESS.warn(format_args!(
                    "X-Ray daemon address {setting:?} is unusable ({error}); no subsegments are sent"
                ));
                None
            }
        };
        Self { setting, socket }
    }
}

impl SubsegmentSink for UdpDaemonSink {
    fn send(&self, subsegment: &SubsegmentDocument<'_>) {
        self.deliver(subsegment);
    }
}

impl UdpDaemonSink {
    /// Sends `subsegment` as [`send`](SubsegmentSink::send) does; `Lost` when no datagram
    /// went out (each such loss counted), or when the one that did is a skeleton, without
    /// lambda-perf's facts: the drops they reported did not get out either.
    pub(crate) fn deliver(&self, subsegment: &SubsegmentDocument<'_>) -> Delivery {
        let Some(socket) = &self.socket else {
            drops::count("xray.daemon_address_unusable");
            return Delivery::Lost;
        };
        let send = |datagram: &mut Vec<u8>| {
            datagram.clear();
            let detail = subsegment.write_datagram(datagram);
            if detail != Detail::Full {
                drops::count("xray.subsegment_trimmed");
                TRIMMED.warn(format_args!(
                    "subsegment {:?} exceeded the 64 KB datagram limit and was trimmed (metadata first)",
                    subsegment.name()
                ));
            }
            (detail, socket.send(datagram))
        };
        let (detail, result) = DATAGRAM
            .try_with(|cell| match cell.try_borrow_mut() {
                Ok(mut datagram) => send(&mut datagram),
                Err(_) => send(&mut Vec::new()),
            })
            .unwrap_or_else(|_| send(&mut Vec::new()));
        match result {
            Ok(_) if detail == Detail::Skeleton => {}
            Ok(_) => return Delivery::Taken,
            Err(error) if error.raw_os_error() == Some(libc::EMSGSIZE) => {
                drops::count("xray.subsegment_too_large");
                TOO_LARGE.warn(format_args!(
                    "subsegment {:?} was too large for one datagram even trimmed ({error})",
                    subsegment.name()
                ));
            }
            Err(error) => {
                drops::count("xray.send_failed");
                SEND_FAILED.warn(format_args!(
                    "could not send a subsegment to the X-Ray daemon at {:?} ({error}); {}",
                    self.setting,
                    send_failure_hint(&error)
                ));
            }
        }
        Delivery::Lost
    }
}

impl fmt::Debug for UdpDaemonSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpDaemonSink")
            .field("address", &self.setting)
            .finish_non_exhaustive()
    }
}

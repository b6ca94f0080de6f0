//! The X-Ray output: every closed subsegment of a recorded invocation to a
//! [`SubsegmentSink`] — the X-Ray daemon over UDP ([`UdpDaemonSink`]) unless told otherwise.

mod address;
pub(crate) mod daemon_socket;
mod udp_daemon;

use std::any::Any;
use std::fmt;
use std::sync::Arc;

pub(crate) use self::address::{DEFAULT_DAEMON_ADDRESS, check_address_setting};
pub use self::udp_daemon::UdpDaemonSink;
use crate::drops;
use crate::formats::xray::SubsegmentDocument;
use crate::invocation::facts::InvocationFacts;
use crate::invocation::output::{Delivery, Output};
use crate::invocation::panic;
use crate::warn::WarnOnce;

/// Receives every subsegment when it closes; and, from an invocation still running a margin
/// before its deadline, in-progress copies of its handler subsegment and of the nested ones
/// still open ([`SubsegmentDocument::in_progress`]), which the complete documents of the same
/// ids follow if it ends in time.
///
/// The default sink sends each one to the X-Ray daemon ([`UdpDaemonSink`]); tests and other
/// exporters implement this trait and install it with
/// [`PerfLayerBuilder::xray_sink`](crate::PerfLayerBuilder::xray_sink). `send` runs on the
/// task that closed the subsegment: it must not block. A `send` that panics loses that
/// subsegment, and nothing else: the panic is counted (`xray.sink_panicked`) and warned of
/// once, the drops a lost handler subsegment reported are reported by the next one, and the
/// handler's response is what it was.
///
/// ```
/// use lambda_perf_core::PerfLayer;
/// use lambda_perf_core::xray::{SubsegmentDocument, SubsegmentSink};
///
/// struct PrintNames;
///
/// impl SubsegmentSink for PrintNames {
///     fn send(&self, subsegment: &SubsegmentDocument<'_>) {
///         eprintln!("closed {} in trace {}", subsegment.name(), subsegment.trace_id());
///     }
/// }
///
/// let layer = PerfLayer::builder().xray_sink(PrintNames).build()?;
/// # Ok::<(), lambda_perf_core::ConfigError>(())
/// ```
pub trait SubsegmentSink: Send + Sync + 'static {
    /// Takes one closed subsegment, or an in-progress copy of one.
    fn send(&self, subsegment: &SubsegmentDocument<'_>);
}

/// Sends closed subsegments to the X-Ray daemon, or to the [`SubsegmentSink`] set in code.
#[derive(Clone)]
pub(crate) enum XRayOutput {
    /// The daemon, which tells whether each datagram went out.
    Daemon(Arc<UdpDaemonSink>),
    /// A sink set in code.
    Sink(Arc<dyn SubsegmentSink>),
}

impl XRayOutput {
    /// The output of a sink given in code (always `Some`): the daemon's own sink, given as
    /// `xray_sink(UdpDaemonSink::new(..))`, is the daemon output, which knows whether each
    /// datagram went out; any other is a sink.
    pub(crate) fn given<S: SubsegmentSink>(sink: S) -> Option<Self> {
        let mut sink = Some(sink);
        match (&mut sink as &mut dyn Any).downcast_mut::<Option<UdpDaemonSink>>() {
            Some(daemon) => daemon.take().map(|daemon| Self::Daemon(Arc::new(daemon))),
            None => sink.map(|sink| Self::Sink(Arc::new(sink))),
        }
    }
}

impl Output for XRayOutput {
    /// Sends nothing as an invocation begins.
    fn needs_every_beginning(&self) -> bool {
        false
    }

    /// Sends `subsegment`. A sink set in code is user code, which may run where the handler's
    /// response waits to be posted: a panic there is caught, not let through to the runtime.
    fn subsegment_closed(
        &self,
        _facts: &InvocationFacts,
        subsegment: &SubsegmentDocument<'_>,
    ) -> Delivery {
        match self {
            Self::Daemon(daemon) => daemon.deliver(subsegment),
            Self::Sink(sink) => {
                if panic::catch(|| sink.send(subsegment)).is_ok() {
                    Delivery::Taken
                } else {
                    sink_panicked();
                    Delivery::Lost
                }
            }
        }
    }
}

/// Counts a subsegment lost to a sink that panicked, and warns once.
#[cold]
#[inline(never)]
fn sink_panicked() {
    static SINK_PANICKED: WarnOnce = WarnOnce::new();
    drops::count("xray.sink_panicked");
    SINK_PANICKED.warn(format_args!(
        "the X-Ray subsegment sink panicked; that subsegment is lost (counted in \
         lambda_perf.dropped)"
    ));
}

impl fmt::Debug for XRayOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("XRayOutput(..)")
    }
}

//! The outputs seam: what every output is told about an invocation, and when.
//!
//! The invocation core decides *what happened*; an [`Output`] decides *how it is written*
//! (an EMF line on stdout, a datagram to the X-Ray daemon, …). Every hook has a no-op default,
//! so an output implements only what it writes, as a `tracing-subscriber` layer does.
//! Outputs compose statically — `Option<O>` switches one off, `(A, B)` runs both in order —
//! and a handler's composition is erased once, when its configuration is built.

use std::sync::Mutex;

use super::client_init::InitRecord;
use super::facts::InvocationFacts;
use super::facts_record::WrittenFacts;
use super::settings::InvocationSettings;
use crate::drops::Dropped;
use crate::formats::emf::set::MetricSet;
use crate::formats::faas_trigger::FaasTrigger;
use crate::formats::xray::SubsegmentDocument;

/// An invocation has begun; its handler has not run yet.
#[derive(Debug)]
pub(crate) struct Began<'a> {
    pub(crate) facts: &'a InvocationFacts,
    pub(crate) settings: &'a InvocationSettings,
    /// The function name the Lambda context gives.
    pub(crate) context_function_name: &'a str,
    /// Clients initialized before this first invocation of the process.
    pub(crate) init_clients: &'a [InitRecord],
    /// The invocation's Lambda context (its trace header, function ARN, configuration).
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) context: &'a lambda_runtime::Context,
    /// What set it off, as far as the instrumentation knows from the event's type: `Http`
    /// for a `lambda_http` request, else `Other`.
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) trigger: FaasTrigger,
}

/// An invocation has ended: its handler returned, failed, panicked or was dropped.
#[derive(Debug)]
pub(crate) struct Ended<'a> {
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) facts: &'a InvocationFacts,
    pub(crate) metrics: &'a MetricSet,
    /// When it ended (or the watchdog found it still running), by the wall clock: nanoseconds
    /// since the Unix epoch.
    pub(crate) at_epoch_nanos: u64,
    /// The facts record of this end (its outcome, duration, headroom and resource use),
    /// written once for every output that carries it.
    pub(crate) written_facts: &'a WrittenFacts,
    /// The drops the handler subsegment reported, when the only output that took it exports
    /// it ([`Delivery::Exporting`]): that output takes them with the export. What no output
    /// takes is given back to be reported by the next handler subsegment.
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) exported_drops: &'a Mutex<Option<Dropped>>,
    /// The timeout watchdog wrote a line of this invocation near its deadline, with the
    /// values recorded so far and the outcome `timeout`, and the invocation then ended: its
    /// line says how it ended, also with no value left to carry.
    pub(crate) corrects_timeout_line: bool,
}

/// A client finished initializing, inside an invocation (which waited for it) or outside one.
#[derive(Debug)]
pub(crate) struct ClientInit<'a> {
    pub(crate) record: &'a InitRecord,
    /// The invocation it ran in.
    pub(crate) invocation: Option<(&'a InvocationFacts, &'a InvocationSettings)>,
}

/// A metric line written on its own, not buffered in an invocation.
#[derive(Debug)]
pub(crate) struct OwnLine<'a> {
    /// Instead of the configured namespace.
    pub(crate) namespace: Option<&'a str>,
    /// Dimensions written before the set's own (`service`).
    pub(crate) fixed: &'a [crate::formats::emf::dimension::Dimension],
    pub(crate) metrics: &'a MetricSet,
}

/// What became of a closed subsegment, as the outputs tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// No output carries subsegments.
    NotCarried,
    /// An output took it.
    Taken,
    /// An output took it for an export that may yet fail: the drops it reported go with the
    /// export ([`Ended::exported_drops`]), which gives them back if it does not get out.
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    Exporting,
    /// Every output that carries subsegments lost it (its sink panicked, its datagram could
    /// not be sent, or went out as a skeleton without lambda-perf's facts): what it reported
    /// is to be reported by the next one.
    Lost,
}

impl Delivery {
    /// What became of a subsegment two outputs were given: taken if either took it, else
    /// being exported if either exports it.
    fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Taken, _) | (_, Self::Taken) => Self::Taken,
            (Self::Exporting, _) | (_, Self::Exporting) => Self::Exporting,
            (Self::Lost, _) | (_, Self::Lost) => Self::Lost,
            (Self::NotCarried, Self::NotCarried) => Self::NotCarried,
        }
    }
}

/// Where the records of invocations go. `Send + Sync`: invocations run on many tasks at once.
/// Hooks run on the task that triggered them and must not block.
pub(crate) trait Output: Send + Sync + 'static {
    /// Before the handler runs: for every invocation when
    /// [`needs_every_beginning`](Output::needs_every_beginning), else only for a cold start
    /// (`cold` or `restart`) and for an invocation given the clients created at init.
    fn invocation_began(&self, _began: &Began<'_>) {}

    /// Whether [`invocation_began`](Output::invocation_began) must be called for every
    /// invocation: `false` for an output whose hook does nothing for a warm invocation without
    /// init clients, so that those skip the call (asked once, when the outputs are set up).
    fn needs_every_beginning(&self) -> bool {
        true
    }

    /// A subsegment of a recorded invocation closed (nested ones as they close, the handler's
    /// last, when the invocation ends); returns what became of it. Near the deadline, the
    /// watchdog's copies of the subsegments still open come here too, closed at its moment
    /// and [`in_progress`](SubsegmentDocument::in_progress).
    fn subsegment_closed(
        &self,
        _facts: &InvocationFacts,
        _subsegment: &SubsegmentDocument<'_>,
    ) -> Delivery {
        Delivery::NotCarried
    }

    /// A client finished initializing.
    fn client_initialized(&self, _init: &ClientInit<'_>) {}

    /// The handler is still running a margin before its deadline: what it recorded so far,
    /// with the outcome `Timeout` (the watchdog's thread calls this).
    fn deadline_near(&self, _so_far: &Ended<'_>) {}

    /// After the handler, once its trace was closed.
    fn invocation_ended(&self, _ended: &Ended<'_>) {}

    /// A metric line of its own (`SingleMetric`).
    fn own_line(&self, _line: &OwnLine<'_>) {}
}

/// No output.
impl Output for () {
    fn needs_every_beginning(&self) -> bool {
        false
    }
}

/// An output switched on or off when the configuration is built.
impl<O: Output> Output for Option<O> {
    fn invocation_began(&self, began: &Began<'_>) {
        if let Some(output) = self {
            output.invocation_began(began);
        }
    }

    fn needs_every_beginning(&self) -> bool {
        self.as_ref().is_some_and(O::needs_every_beginning)
    }

    fn subsegment_closed(
        &self,
        facts: &InvocationFacts,
        subsegment: &SubsegmentDocument<'_>,
    ) -> Delivery {
        self.as_ref().map_or(Delivery::NotCarried, |output| {
            output.subsegment_closed(facts, subsegment)
        })
    }

    fn client_initialized(&self, init: &ClientInit<'_>) {
        if let Some(output) = self {
            output.client_initialized(init);
        }
    }

    fn deadline_near(&self, so_far: &Ended<'_>) {
        if let Some(output) = self {
            output.deadline_near(so_far);
        }
    }

    fn invocation_ended(&self, ended: &Ended<'_>) {
        if let Some(output) = self {
            output.invocation_ended(ended);
        }
    }

    fn own_line(&self, line: &OwnLine<'_>) {
        if let Some(output) = self {
            output.own_line(line);
        }
    }
}

/// Two outputs, `A` first.
impl<A: Output, B: Output> Output for (A, B) {
    fn invocation_began(&self, began: &Began<'_>) {
        self.0.invocation_began(began);
        self.1.invocation_began(began);
    }

    fn needs_every_beginning(&self) -> bool {
        self.0.needs_every_beginning() || self.1.needs_every_beginning()
    }

    fn subsegment_closed(
        &self,
        facts: &InvocationFacts,
        subsegment: &SubsegmentDocument<'_>,
    ) -> Delivery {
        let first = self.0.subsegment_closed(facts, subsegment);
        first.and(self.1.subsegment_closed(facts, subsegment))
    }

    fn client_initialized(&self, init: &ClientInit<'_>) {
        self.0.client_initialized(init);
        self.1.client_initialized(init);
    }

    fn deadline_near(&self, so_far: &Ended<'_>) {
        self.0.deadline_near(so_far);
        self.1.deadline_near(so_far);
    }

    fn invocation_ended(&self, ended: &Ended<'_>) {
        self.0.invocation_ended(ended);
        self.1.invocation_ended(ended);
    }

    fn own_line(&self, line: &OwnLine<'_>) {
        self.0.own_line(line);
        self.1.own_line(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that says nothing of its beginnings.
    struct Told;

    impl Output for Told {}

    /// An output whose hook does nothing for a warm invocation.
    struct ColdOnly;

    impl Output for ColdOnly {
        fn needs_every_beginning(&self) -> bool {
            false
        }
    }

    /// An output is told of every beginning unless it says otherwise; a composition is, as
    /// soon as one of its outputs is.
    #[test]
    fn every_beginning_is_told_unless_no_output_needs_it() {
        assert!(Told.needs_every_beginning());
        assert!(!().needs_every_beginning());
        assert!(!(ColdOnly, ()).needs_every_beginning());
        assert!(!Some(ColdOnly).needs_every_beginning());
        assert!(!None::<Told>.needs_every_beginning());
        assert!(Some(Told).needs_every_beginning());
        assert!(((ColdOnly, ()), Some(Told)).needs_every_beginning());
        assert!((Told, ColdOnly).needs_every_beginning());
    }
}

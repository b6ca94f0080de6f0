//! Exporters that wait on the network (OTLP/HTTP, any `SpanExporter` given in code) run on a
//! thread of their own, `lambda-perf-otel`, with a single-threaded tokio runtime, started at
//! the first export. The invocation hands them its spans and waits, at most its bound, until
//! each has finished: so the spans are out before the runtime asks for the next invocation
//! (Lambda may freeze the process from then on), and a slow collector costs an invocation at
//! most the bound. Each exporter exports one batch at a time, as `SpanExporter` requires; an
//! export that has not completed within the export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`) is
//! given up, its spans counted as lost, so that an exporter that never answers holds no
//! invocation's spans (nor the drops their handler spans reported) for ever.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tokio::runtime::RuntimeFlavor;
use tokio::sync::mpsc;

use crate::drops::{self, Dropped, Report};
use crate::invocation::panic;
use crate::warn::WarnOnce;

/// Invocations' batches waiting for one exporter; more are dropped (with a warning and a
/// count). Those waiting go out together in the exporter's next export, so the queue holds
/// the invocations that end during one export: enough for the many a process of Lambda
/// Managed Instances runs at once.
const QUEUE: usize = 256;

static FAILED: WarnOnce = WarnOnce::new();
static TIMED_OUT: WarnOnce = WarnOnce::new();
static QUEUE_FULL: WarnOnce = WarnOnce::new();
static NO_THREAD: WarnOnce = WarnOnce::new();

/// Exports that failed (an error, a panic, a full queue) in this process.
static FAILED_EXPORTS: AtomicU64 = AtomicU64::new(0);
/// Exports an invocation stopped waiting for.
static LATE_EXPORTS: AtomicU64 = AtomicU64::new(0);

tokio::task_local! {
    /// The spans the collector rejected in the export running on this task (OTLP's partial
    /// success), as the export's HTTP client told them ([`rejected_in_export`]).
    static REJECTED_IN_EXPORT: Cell<u64>;
}

/// Tells the export running on this task that the collector rejected `spans` of it (OTLP's
/// partial success, which the exporter takes for a success). Outside an export, nothing.
pub(crate) fn rejected_in_export(spans: u64) {
    let _ =
        REJECTED_IN_EXPORT.try_with(|rejected| rejected.set(rejected.get().saturating_add(spans)));
}

/// Exports that failed in this process: an exporter's error or panic, or a full queue.
pub(crate) fn failed_exports() -> u64 {
    FAILED_EXPORTS.load(Ordering::Relaxed)
}

/// Exports that had not finished when their invocation stopped waiting, in this process.
pub(crate) fn late_exports() -> u64 {
    LATE_EXPORTS.load(Ordering::Relaxed)
}

/// A [`SpanExporter`] behind a pointer (the trait's `export` returns `impl Future`).
pub(crate) trait DynExporter: Send + Sync + fmt::Debug + 'static {
    fn export_boxed(
        &self,
        batch: Vec<SpanData>,
    ) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>>;

    fn set_resource_boxed(&mut self, resource: &Resource);
}

impl<E: SpanExporter + 'static> DynExporter for E {
    fn export_boxed(
        &self,
        batch: Vec<SpanData>,
    ) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>> {
        Box::pin(SpanExporter::export(self, batch))
    }

    fn set_resource_boxed(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }
}

/// One invocation's spans for one exporter.
struct Job {
    spans: Vec<SpanData>,
    resource: Arc<Resource>,
    done: Arc<Latch>,
}

/// Counts the exports still busy with one invocation's spans, and holds the drops its
/// handler span reported until one of them got it out: when the last finishes and none did,
/// they are given back, to be reported by the next handler subsegment.
#[derive(Debug)]
pub(crate) struct Latch {
    remaining: Mutex<usize>,
    finished: Condvar,
    /// Until an export got the handler span out.
    drops: Mutex<Option<Dropped>>,
}

impl Latch {
    /// A latch for `count` exports (none: the drops are given back now).
    pub(crate) fn new(count: usize, drops: Option<Dropped>) -> Self {
        let latch = Self {
            remaining: Mutex::new(count),
            finished: Condvar::new(),
            drops: Mutex::new(drops),
        };
        if count == 0 {
            latch.give_back_drops();
        }
        latch
    }

    /// One export finished; `handler_out`: it got the handler span out.
    pub(crate) fn count_down(&self, handler_out: bool) {
        if handler_out {
            // Reported: nothing to give back.
            drop(self.take_drops());
        }
        let mut remaining = self
            .remaining
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            drop(remaining);
            self.give_back_drops();
            self.finished.notify_all();
        }
    }

    /// The drops no export got out, back to the bank.
    fn give_back_drops(&self) {
        if let Some(drops) = self.take_drops() {
            drops::restore(Report::Trace, drops);
        }
    }

    /// The drops the latch still holds, taken out of it.
    fn take_drops(&self) -> Option<Dropped> {
        self.drops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Whether every exporter has finished.
    fn is_done(&self) -> bool {
        *self
            .remaining
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            == 0
    }

    /// Waits until every exporter finished, or `bound` passed; returns whether they did.
    pub(crate) fn wait(&self, bound: Duration) -> bool {
        let remaining = self
            .remaining
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (remaining, _) = self
            .finished
            .wait_timeout_while(remaining, bound, |remaining| *remaining > 0)
            .unwrap_or_else(PoisonError::into_inner);
        *remaining == 0
    }
}

enum State {
    /// Not started: the exporters, until the first export, and the export timeout.
    Idle(Vec<Box<dyn DynExporter>>, Duration),
    Running(Vec<mpsc::Sender<Job>>),
    /// The thread could not be started (warned once).
    Unavailable,
}

/// The exporters that run on the background thread.
pub(crate) struct Background {
    state: Mutex<State>,
}

impl fmt::Debug for Background {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Background").finish_non_exhaustive()
    }
}

impl Background {
    /// The exporters, not started yet, each export given up after `export_timeout`; `None`
    /// without any.
    pub(crate) fn new(
        exporters: Vec<Box<dyn DynExporter>>,
        export_timeout: Duration,
    ) -> Option<Self> {
        (!exporters.is_empty()).then(|| Self {
            state: Mutex::new(State::Idle(exporters, export_timeout)),
        })
    }

    /// Hands `spans` to every exporter; the latch says when all have finished, and `others`
    /// exports besides (which count it down themselves), and holds the handler span's `drops`.
    pub(crate) fn dispatch(
        &self,
        spans: &[SpanData],
        resource: &Arc<Resource>,
        others: usize,
        drops: Option<Dropped>,
    ) -> Arc<Latch> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let State::Idle(exporters, export_timeout) = &mut *state {
            let exporters = std::mem::take(exporters);
            *state = match start(exporters, *export_timeout) {
                Ok(senders) => State::Running(senders),
                Err(error) => {
                    NO_THREAD.warn(format_args!(
                        "the OpenTelemetry export thread could not start ({error}); no spans \
                         are exported over the network"
                    ));
                    State::Unavailable
                }
            };
        }
        let State::Running(senders) = &*state else {
            return Arc::new(Latch::new(others, drops));
        };
        let done = Arc::new(Latch::new(senders.len() + others, drops));
        for sender in senders {
            let job = Job {
                spans: spans.to_vec(),
                resource: Arc::clone(resource),
                done: Arc::clone(&done),
            };
            if let Err(refused) = sender.try_send(job) {
                let failed = FAILED_EXPORTS.fetch_add(1, Ordering::Relaxed) + 1;
                drops::count_each("otel.export_queue_full", spans.len());
                QUEUE_FULL.warn(format_args!(
                    "an OpenTelemetry exporter is {QUEUE} invocations behind; this invocation's \
                     spans were dropped for it ({failed} failed exports so far, counted on \
                     handler spans as lambda_perf.otel.failed_exports)"
                ));
                let job = match refused {
                    mpsc::error::TrySendError::Full(job)
                    | mpsc::error::TrySendError::Closed(job) => job,
                };
                job.done.count_down(false);
            }
        }
        done
    }
}

/// Waits for `latch` at most `bound`; a late export costs one warning and a count.
///
/// On a worker of a multi-threaded tokio runtime the wait runs in `block_in_place`: the
/// worker's other tasks (the other invocations of a process that runs several at once, as on
/// Lambda Managed Instances) move to another thread meanwhile instead of waiting with it.
pub(crate) fn wait(latch: &Latch, bound: Duration) {
    let started = Instant::now();
    if latch.is_done() {
        return;
    }
    let on_multi_thread_runtime = tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
    let finished = if on_multi_thread_runtime {
        tokio::task::block_in_place(|| latch.wait(bound))
    } else {
        latch.wait(bound)
    };
    if !finished {
        let late = LATE_EXPORTS.fetch_add(1, Ordering::Relaxed) + 1;
        TIMED_OUT.warn(format_args!(
            "the OpenTelemetry export did not finish within {} ms (LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS, \
             or the time left before the deadline); the invocation went on and the export \
             continues in the background, where Lambda may freeze it ({late} so far, counted \
             on handler spans as lambda_perf.otel.late_exports)",
            started.elapsed().as_millis()
        ));
    }
}

/// Starts the thread and one task per exporter on its runtime.
fn start(
    exporters: Vec<Box<dyn DynExporter>>,
    export_timeout: Duration,
) -> std::io::Result<Vec<mpsc::Sender<Job>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (senders, receivers): (Vec<_>, Vec<_>) =
        exporters.iter().map(|_| mpsc::channel(QUEUE)).unzip();
    std::thread::Builder::new()
        .name("lambda-perf-otel".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let tasks: Vec<_> = exporters
                    .into_iter()
                    .zip(receivers)
                    .map(|(exporter, jobs)| tokio::spawn(run(exporter, jobs, export_timeout)))
                    .collect();
                for task in tasks {
                    let _ = task.await;
                }
            });
        })?;
    Ok(senders)
}

/// Exports each job in turn, those already waiting with it (of the same resource) in one
/// export: a backlog behind a slow export (many invocations ending at once, as on Lambda
/// Managed Instances) goes out at once rather than one invocation after another. The resource
/// is set before the first export and whenever it changes. An export still running after
/// `export_timeout` is given up (its future dropped) and counted as a failed one.
async fn run(
    mut exporter: Box<dyn DynExporter>,
    mut jobs: mpsc::Receiver<Job>,
    export_timeout: Duration,
) {
    let mut resource: Option<Arc<Resource>> = None;
    // A job taken from the queue that could not join the last batch (another resource).
    let mut next: Option<Job> = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        let mut batch = vec![first];
        while batch.len() < QUEUE {
            match jobs.try_recv() {
                Ok(job) if Arc::ptr_eq(&job.resource, &batch[0].resource) => batch.push(job),
                Ok(job) => {
                    next = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        if !resource
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, &batch[0].resource))
        {
            if panic::catch(|| exporter.set_resource_boxed(&batch[0].resource)).is_err() {
                report_failure("its set_resource panicked", 1, 0);
            }
            resource = Some(Arc::clone(&batch[0].resource));
        }
        let spans: Vec<SpanData> = batch
            .iter_mut()
            .flat_map(|job| std::mem::take(&mut job.spans))
            .collect();
        let span_total = spans.len();
        let invocations = batch.len();
        let exported = match export_once(&*exporter, spans, export_timeout).await {
            // A partial success that rejected every span rejected the handler spans too; one
            // that rejected fewer does not say which, and they may have got out.
            Ok(rejected) => rejected < u64::try_from(span_total).unwrap_or(u64::MAX),
            Err(reason) => {
                report_failure(&reason, invocations, span_total);
                false
            }
        };
        for job in batch {
            job.done.count_down(exported);
        }
    }
}

/// Exports `spans` once, within `export_timeout`: how many of them the collector rejected in
/// a successful export (OTLP's partial success, as the client told it), or why it failed.
///
/// `export` itself may panic before it returns its future (an exporter given in code is user
/// code): caught as a panic of the future is, or the task would end with this batch, its
/// latches never counted down (the invocations waiting their whole bound, the handler spans'
/// drops lost) and every later job refused. An export still running at the timeout is given
/// up, its future dropped: an exporter that never answers would otherwise hold every later
/// invocation's spans behind it.
async fn export_once(
    exporter: &dyn DynExporter,
    spans: Vec<SpanData>,
    export_timeout: Duration,
) -> Result<u64, String> {
    let Ok(export) = panic::catch(|| exporter.export_boxed(spans)) else {
        return Err("it panicked".to_owned());
    };
    let counted = REJECTED_IN_EXPORT.scope(Cell::new(0), async {
        let outcome = CatchPanic(Some(export)).await;
        (outcome, REJECTED_IN_EXPORT.with(Cell::get))
    });
    match tokio::time::timeout(export_timeout, counted).await {
        Ok((Ok(Ok(())), rejected)) => Ok(rejected),
        Ok((Ok(Err(error)), _)) => Err(error.to_string()),
        Ok((Err(()), _)) => Err("it panicked".to_owned()),
        Err(_) => Err(format!(
            "it had not completed within {} ms (OTEL_EXPORTER_OTLP_TIMEOUT) and was given up",
            export_timeout.as_millis()
        )),
    }
}

/// Counts a failed export of `invocations`' `spans`: the spans as drops
/// (`otel.export_failed`, in the next EMF line and handler subsegment, seen even when no
/// export gets out), each invocation's export on later handler spans.
fn report_failure(reason: &str, invocations: usize, spans: usize) {
    let invocations = u64::try_from(invocations).unwrap_or(u64::MAX);
    let failed = FAILED_EXPORTS.fetch_add(invocations, Ordering::Relaxed) + invocations;
    drops::count_each("otel.export_failed", spans);
    FAILED.warn(format_args!(
        "an OpenTelemetry export failed: {reason} ({failed} so far, counted on handler spans as \
         lambda_perf.otel.failed_exports)"
    ));
}

/// An export whose panic is caught (an exporter given in code is user code), in its poll and
/// in its drop: the future is dropped as soon as it is done, a panic there caught too, so
/// that the job it belongs to is always counted down and the exporter's task goes on.
struct CatchPanic<'a>(Option<Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>>);

impl CatchPanic<'_> {
    /// Drops the export's future, if still held, catching a panic of its drop.
    fn release(&mut self) {
        if let Some(export) = self.0.take() {
            let _ = panic::catch(move || drop(export));
        }
    }
}

impl Future for CatchPanic<'_> {
    type Output = Result<OTelSdkResult, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(export) = self.0.as_mut() else {
            return Poll::Ready(Err(()));
        };
        let outcome = match panic::catch(|| export.as_mut().poll(cx)) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => Ok(result),
            Err(_) => Err(()),
        };
        // Its answer is what counts; a panic of its drop is caught, not propagated.
        self.release();
        Poll::Ready(outcome)
    }
}

impl Drop for CatchPanic<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xray::document::Record;
    use crate::outputs::otel::span::{SpanRules, TraceIds};
    use opentelemetry::trace::{TraceId, TraceState};
    use std::sync::atomic::AtomicUsize;

    fn span(id: u64) -> SpanData {
        let ids = TraceIds {
            trace_id: TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap(),
            trace_state: TraceState::default(),
            remote_parent: 9,
        };
        let mut record = Record::open(id, 9, format!("s{id}").into());
        record.close();
        SpanRules::new(true).span(&record, &ids, Vec::new(), &mut Vec::new())
    }

    /// A collector that takes 100 ms per export, healthy.
    #[derive(Debug, Clone, Default)]
    struct Busy {
        spans: Arc<AtomicUsize>,
    }

    impl SpanExporter for Busy {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.spans.fetch_add(batch.len(), Ordering::SeqCst);
            Ok(())
        }
    }

    /// Many invocations ending at once (Lambda Managed Instances runs many in one process)
    /// while the collector is busy with an export: none of their spans is refused, and the
    /// backlog goes out in one export rather than one per invocation after another.
    #[test]
    fn a_burst_of_invocations_behind_a_busy_exporter_loses_no_span() {
        let exporter = Busy::default();
        let background =
            Background::new(vec![Box::new(exporter.clone())], Duration::from_secs(10)).unwrap();
        let resource = Arc::new(Resource::builder_empty().build());
        let started = Instant::now();
        let latches: Vec<_> = (0..40)
            .map(|index| background.dispatch(&[span(100 + index)], &resource, 0, None))
            .collect();
        for latch in &latches {
            assert!(latch.wait(Duration::from_secs(10)));
        }
        assert_eq!(failed_exports(), 0);
        assert_eq!(exporter.spans.load(Ordering::SeqCst), 40);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the backlog took {:?}",
            started.elapsed()
        );
    }
}

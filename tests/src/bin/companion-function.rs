//! A function that records one metric and one annotation per invocation, run with
//! `Runtime::new(..).run()` in one of seven ways (`COMPANION_MODE`):
//!
//! - `bare`: the handler alone, no lambda-perf at all (what the others are measured against);
//! - `bare_threaded`: the same, in a process with a second thread that only waits. lambda-perf's
//!   watchdog is such a thread, and a process's first extra thread moves glibc's `malloc`, `free`
//!   and cancellable system calls onto their multi-thread paths for good: this mode measures
//!   that share alone (a function on the default multi-thread `#[tokio::main]` pays it anyway);
//! - `runtime_layer_threaded`: the bare handler, with `PerfRuntimeLayer` around the whole
//!   invocation and without `PerfLayer` (so nothing is recorded), in a process with a second
//!   thread that only waits: against `bare_threaded`, what the companion's window alone costs;
//! - `layer`: behind `PerfLayer`, which writes its telemetry when the handler returns;
//! - `companion` (the default, when `COMPANION_MODE` is unset): behind `PerfLayer`, with
//!   `PerfRuntimeLayer` around the whole invocation, which writes it after the response is
//!   posted;
//! - `companion_no_calls`: the same layers around the bare handler, which records nothing:
//!   against `bare_threaded`, what an invocation's beginning and end cost by themselves, and
//!   against `companion`, what the metric and the annotation add;
//! - `floor_after_post`: no lambda-perf, the bare handler in a process with a second thread that
//!   only waits, which writes by hand, once the response is posted, what the companion writes
//!   then: an EMF line of the same shape and size on stdout and, when the invocation is
//!   sampled, a subsegment's datagram of the same shape and size to the X-Ray daemon
//!   (`AWS_XRAY_DAEMON_ADDRESS`, a `host:port`). Against `companion`, what lambda-perf adds to
//!   the client's latency beyond the cost of that telemetry being written and read at all.
//!
//! Any other `COMPANION_MODE` is an error: the process exits before its first invocation.
//!
//! `SLOW_EMF_MS=n` makes every EMF write take n ms more (a slow stdout), so that where the
//! write happens shows in the client's latency. `EXIT_AFTER=n` (n > 0) ends the process (status 0)
//! once its n-th invocation is wholly done, response posted and telemetry written, so that a
//! tool it runs under (an instruction counter) sees a whole run and a normal exit. With it,
//! `EVICT_CACHES=1` writes over 8 MiB of memory after every invocation, so that the next one
//! starts with caches that hold none of its code or data, as after a pause in which other
//! processes ran (or after Lambda thawed the environment): under a cache simulator, what each
//! invocation fetches from memory.

use std::future::Future;
use std::io::Write;
use std::net::UdpSocket;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::{PerfLayer, PerfRuntimeLayer, xray};
use lambda_runtime::{Error, LambdaEvent, LambdaInvocation, Runtime, Service};
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tower::util::MapFutureLayer;

async fn handler(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    xray::annotate("tier", "gold");
    Ok(json!({ "ok": true }))
}

async fn bare(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "ok": true }))
}

/// Stdout, `delay` slower per write.
struct SlowStdout {
    delay: Duration,
}

impl Write for SlowStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(self.delay);
        std::io::stdout().lock().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

fn layer() -> Result<PerfLayer, Error> {
    let slow_ms = std::env::var("SLOW_EMF_MS").map_or(0, |ms| ms.parse().unwrap_or(0));
    let builder = PerfLayer::builder();
    let builder = if slow_ms > 0 {
        builder.emf_writer(SlowStdout {
            delay: Duration::from_millis(slow_ms),
        })
    } else {
        builder
    };
    Ok(builder.build()?)
}

/// `invocation`, then the end of the process if it is the `count`-th to be done (status 0 when
/// it was answered, 1 when the runtime could not post its response): around the whole
/// invocation (the outermost runtime layer), so that the last one's response and telemetry are
/// out first.
async fn exit_after<F, E>(invocation: F, count: usize, evict: bool) -> Result<(), E>
where
    F: std::future::Future<Output = Result<(), E>>,
{
    static DONE: AtomicUsize = AtomicUsize::new(0);
    let output = invocation.await;
    if evict {
        evict_caches();
    }
    if DONE.fetch_add(1, Ordering::Relaxed) + 1 == count {
        std::process::exit(if output.is_ok() { 0 } else { 1 });
    }
    output
}

/// Writes one byte of every 64 (a cache line) over 8 MiB, more than the caches of a core
/// hold (`EVICT_CACHES`): what they held before is gone.
#[inline(never)]
fn evict_caches() {
    static MEMORY: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());
    let mut memory = MEMORY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if memory.is_empty() {
        memory.resize(8 << 20, 0);
    }
    for line in memory.chunks_mut(64) {
        line[0] = line[0].wrapping_add(1);
    }
    std::hint::black_box(&*memory);
}

/// The bare runtime's invocations, each followed, once its response is posted, by the
/// telemetry the companion writes then, written by hand (`floor_after_post`): the EMF line on
/// stdout and, sampled, the handler subsegment's datagram, shaped as lambda-perf's, with the
/// invocation's own request id and trace ids (so that their readers parse what they parse of
/// lambda-perf's).
#[derive(Clone)]
struct WritesAfterPost<S> {
    inner: S,
    daemon: Arc<UdpSocket>,
}

impl<S> Service<LambdaInvocation> for WritesAfterPost<S>
where
    S: Service<LambdaInvocation, Response = (), Error = Error>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let request_id = invocation.context.request_id.clone();
        let trace_header = invocation.context.xray_trace_id.clone();
        let posted = self.inner.call(invocation);
        let daemon = Arc::clone(&self.daemon);
        Box::pin(async move {
            let output = posted.await;
            write_telemetry(&request_id, trace_header.as_deref(), &daemon);
            output
        })
    }
}

/// The EMF line, and the datagram when `trace_header` says `Sampled=1`.
fn write_telemetry(request_id: &str, trace_header: Option<&str>, daemon: &UdpSocket) {
    static INVOCATION: AtomicUsize = AtomicUsize::new(0);
    let names = names();
    let (namespace, service) = (&names.namespace, &names.service);
    let invocation = INVOCATION.fetch_add(1, Ordering::Relaxed) + 2;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let line = format!(
        "{{\"_aws\":{{\"Timestamp\":{},\"CloudWatchMetrics\":[{{\"Namespace\":\"{namespace}\",\
         \"Dimensions\":[[\"service\"]],\"Metrics\":[{{\"Name\":\"Orders\",\"Unit\":\"Count\"}}]}}]}},\
         \"service\":\"{service}\",\"lambda_perf\":{{\"start_kind\":\"warm\",\"invocation\":{invocation},\
         \"request_id\":\"{request_id}\",\"idle_gap_ms\":1.243,\"environment_age_ms\":5.939,\
         \"init_duration_ms\":0.811,\"duration_ms\":0.038,\"deadline_headroom_ms\":29999.563,\
         \"outcome\":\"success\"}},\"Orders\":[1.0]}}\n",
        now.as_millis()
    );
    // The datagram first, then the line: the order in which an invocation's end sends its
    // subsegment and writes its EMF line.
    if let Some(header) = trace_header.filter(|header| header.contains("Sampled=1")) {
        send_subsegment(header, request_id, invocation, now, daemon);
    }
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// The handler subsegment's datagram, as `PerfLayer` sends it: the same members, annotations
/// (`Service` among them) and size.
fn send_subsegment(
    header: &str,
    request_id: &str,
    invocation: usize,
    now: std::time::Duration,
    daemon: &UdpSocket,
) {
    let names = names();
    let (service, function) = (&names.service, &names.function);
    let field = |key: &str| {
        header
            .split(';')
            .find_map(|part| part.strip_prefix(key))
            .unwrap_or_default()
    };
    let seconds = now.as_secs_f64();
    let datagram = format!(
        "{{\"format\":\"json\",\"version\":1}}\n{{\"name\":\"## {function}\",\
         \"id\":\"{:016x}\",\"trace_id\":\"{}\",\"parent_id\":\"{}\",\"type\":\"subsegment\",\
         \"start_time\":{seconds:.6},\"end_time\":{seconds:.6},\"annotations\":{{\"ColdStart\":false,\
         \"StartKind\":\"warm\",\"Service\":\"{service}\",\"tier\":\"gold\"}},\"metadata\":{{\"lambda_perf\":{{\"start_kind\":\"warm\",\
         \"invocation\":{invocation},\"request_id\":\"{request_id}\",\"idle_gap_ms\":1.288,\
         \"environment_age_ms\":9.505,\"duration_ms\":0.041,\"deadline_headroom_ms\":29999.405,\
         \"outcome\":\"success\"}},\"{service}\":{{\"{function} response\":{{\"ok\":true}}}}}}}}",
        0x440a_af08_753e_17d2_u64 ^ invocation as u64,
        field("Root="),
        field("Parent="),
    );
    let _ = daemon.send(datagram.as_bytes());
}

/// The names lambda-perf writes, as it reads them from the environment.
struct Names {
    namespace: String,
    service: String,
    function: String,
}

fn names() -> &'static Names {
    static NAMES: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        Names {
            namespace: var("POWERTOOLS_METRICS_NAMESPACE", "default_namespace"),
            service: var("POWERTOOLS_SERVICE_NAME", "service_undefined"),
            function: var("AWS_LAMBDA_FUNCTION_NAME", "companion-function"),
        }
    })
}

/// A second thread in the process, which only waits (as lambda-perf's watchdog does, between
/// deadlines).
fn spawn_waiting_thread() {
    std::thread::spawn(|| {
        loop {
            std::thread::park();
        }
    });
}

/// Runs `runtime` to the end, or until `EXIT_AFTER` invocations are done when it is set.
macro_rules! run {
    ($runtime:expr) => {{
        let runtime = $runtime;
        match std::env::var("EXIT_AFTER")
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n > 0)
        {
            Some(count) => {
                let evict = std::env::var("EVICT_CACHES").is_ok_and(|value| value == "1");
                runtime
                    .layer(MapFutureLayer::new(move |invocation| {
                        exit_after(invocation, count, evict)
                    }))
                    .run()
                    .await
            }
            None => runtime.run().await,
        }
    }};
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    match std::env::var("COMPANION_MODE").as_deref() {
        Ok("bare") => run!(Runtime::new(tower::service_fn(bare))),
        Ok("bare_threaded") => {
            spawn_waiting_thread();
            run!(Runtime::new(tower::service_fn(bare)))
        }
        Ok("runtime_layer_threaded") => {
            spawn_waiting_thread();
            run!(Runtime::new(tower::service_fn(bare)).layer(PerfRuntimeLayer::new()))
        }
        Ok("layer") => {
            let service = ServiceBuilder::new().layer(layer()?).service_fn(handler);
            run!(Runtime::new(service))
        }
        Ok("companion_no_calls") => {
            let service = ServiceBuilder::new().layer(layer()?).service_fn(bare);
            run!(Runtime::new(service).layer(PerfRuntimeLayer::new()))
        }
        Ok("floor_after_post") => {
            spawn_waiting_thread();
            let daemon = UdpSocket::bind("127.0.0.1:0")?;
            daemon.connect(std::env::var("AWS_XRAY_DAEMON_ADDRESS")?)?;
            let daemon = Arc::new(daemon);
            run!(
                Runtime::new(tower::service_fn(bare)).layer(tower::layer::layer_fn(move |inner| {
                    WritesAfterPost {
                        inner,
                        daemon: Arc::clone(&daemon),
                    }
                }))
            )
        }
        Ok("companion") | Err(std::env::VarError::NotPresent) => {
            let service = ServiceBuilder::new().layer(layer()?).service_fn(handler);
            run!(Runtime::new(service).layer(PerfRuntimeLayer::new()))
        }
        // Not the default: a misspelt mode would otherwise measure the companion under
        // another name.
        Ok(other) => Err(format!("unknown COMPANION_MODE {other:?}").into()),
        Err(error) => Err(format!("COMPANION_MODE: {error}").into()),
    }
}

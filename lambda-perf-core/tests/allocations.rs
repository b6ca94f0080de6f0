//! A warm invocation allocates nothing the bare handler does not: counted by a global
//! allocator, over 20 000 warm invocations after a warm-up, sampled and unsampled, with one
//! metric and one annotation, EMF lines written to a real file and subsegments sent to a real
//! UDP socket; and sampled with a response that is an object, captured as trace metadata.
//! Buffers and pools may grow while warming, then never again.
//!
//! The counting allocator is the whole binary's, which is why this test has a binary of its
//! own. It counts only on the thread that asked for it, so the test harness's other threads
//! (and the watchdog's) are not counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs::File;
use std::hint::black_box;
use std::net::UdpSocket;

use lambda_perf_core::{PerfLayer, PerfRuntimeLayer, PerfService};
use lambda_runtime::{Error, LambdaEvent, LambdaInvocation};
use serde_json::Value;
use tower::{Layer, Service, service_fn};

#[path = "../benches/common/scenario.rs"]
mod scenario;

use scenario::{Order, bare, bare_order, event, instrumented, instrumented_order, order};

/// Counts the allocations (and reallocations) of the threads that switched counting on.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only
// const-initialized thread-locals, which never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocations `f` makes on this thread.
fn allocations_of(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|counting| counting.set(true));
    f();
    COUNTING.with(|counting| counting.set(false));
    ALLOCATIONS.with(Cell::get)
}

/// Runs `f` without counting its allocations (counting as it was afterwards).
fn uncounted<R>(f: impl FnOnce() -> R) -> R {
    let was = COUNTING.with(|counting| counting.replace(false));
    let result = f();
    COUNTING.with(|counting| counting.set(was));
    result
}

/// Holds the tests of this binary to one at a time. Invocations share one pool of ended ones per
/// process: under `cargo test` (tests as threads of one process, where nextest runs each in a
/// process of its own) a test's thread could keep what another test's thread gave back, and
/// that one would allocate anew.
fn one_test_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const WARM_UP: usize = 2_000;
const MEASURED: usize = 20_000;
/// Fewer than one added allocation per thousand warm invocations.
const ALLOWED: u64 = (MEASURED / 1_000) as u64 - 1;

/// The allocations of `MEASURED` warm invocations of `service` (the requests made
/// beforehand by `request`, outside the count), after `WARM_UP` others.
fn allocations_of_warm_invocations<R, S>(service: &mut S, request: impl Fn() -> R) -> u64
where
    S: Service<R, Error = Error>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for _ in 0..WARM_UP {
        runtime.block_on(service.call(request())).unwrap();
    }
    let requests: Vec<_> = (0..MEASURED).map(|_| request()).collect();
    allocations_of(|| {
        for request in requests {
            black_box(runtime.block_on(service.call(black_box(request))).unwrap());
        }
    })
}

/// The allocations of `MEASURED` warm invocations of `service` after `warm_up` others, one at
/// a time, each begun (`call`) on this thread and run to its end on another: as
/// `lambda_runtime`'s loop, a task of a multi-threaded runtime, moves between its workers.
fn allocations_of_invocations_across_threads<S>(service: &mut S, warm_up: usize) -> u64
where
    S: Service<LambdaEvent<Value>, Response = u32, Error = Error>,
    S::Future: Send,
{
    let (to_ender, begun) = std::sync::mpsc::sync_channel::<(S::Future, bool)>(0);
    let (to_beginner, ended) = std::sync::mpsc::sync_channel::<()>(0);
    std::thread::scope(|scope| {
        let ender = scope.spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let mut counted = 0;
            for (future, measured) in begun {
                let allocations = allocations_of(|| {
                    black_box(runtime.block_on(future).unwrap());
                });
                counted += if measured { allocations } else { 0 };
                to_beginner.send(()).unwrap();
            }
            counted
        });
        let mut counted = 0;
        for n in 0..warm_up + MEASURED {
            let request = event(true);
            let mut future = None;
            let allocations = allocations_of(|| future = Some(service.call(black_box(request))));
            let measured = n >= warm_up;
            counted += if measured { allocations } else { 0 };
            to_ender.send((future.unwrap(), measured)).unwrap();
            ended.recv().unwrap();
        }
        drop(to_ender);
        counted + ender.join().unwrap()
    })
}

/// `PerfLayer` as the tests configure it: EMF lines to `/dev/null`, subsegments to `daemon`.
fn perf_layer(daemon: &UdpSocket, marker_dir: &std::path::Path) -> PerfLayer {
    PerfLayer::builder()
        .service("alloc")
        .namespace("Alloc")
        .metrics_disabled(false)
        .trace_disabled(false)
        .invocation_facts(true)
        .marker_dir(marker_dir)
        .emf_writer(File::create("/dev/null").unwrap())
        .xray_daemon_address(daemon.local_addr().unwrap().to_string())
        .build()
        .unwrap()
}

/// `lambda_runtime`'s invocation service, in miniature: `handler` on the invocation's context
/// (the response is not posted anywhere).
fn runtime_service<S>(handler: S) -> impl Service<LambdaInvocation, Response = u32, Error = Error>
where
    S: Service<LambdaEvent<Value>, Response = u32, Error = Error> + Clone,
{
    tower::service_fn(move |invocation: LambdaInvocation| {
        let mut handler = handler.clone();
        async move {
            let event = LambdaEvent::new(Value::Null, invocation.context);
            handler.call(event).await
        }
    })
}

/// An invocation as `lambda_runtime` hands it to its layers.
fn invocation(sampled: bool) -> LambdaInvocation {
    let (parts, ()) = http::Response::new(()).into_parts();
    LambdaInvocation {
        parts,
        body: bytes::Bytes::new(),
        context: event(sampled).context,
    }
}

fn assert_at_most_added(what: &str, (bare, instrumented): (u64, u64), allowed: u64) {
    let added = instrumented.saturating_sub(bare);
    // The figures, for `--no-capture`.
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "{what}; {MEASURED} warm invocations: bare handler {bare} allocations, \
             instrumented {instrumented}, added {added}"
        );
    }
    assert!(
        added <= allowed,
        "{added} allocations added over {MEASURED} warm invocations ({what}); at most \
         {allowed} allowed"
    );
}

/// The allocations of warm invocations of `bare`, then of `instrumented` behind `PerfLayer`
/// (subsegments sent to `daemon`).
fn added_allocations<B, I>(
    daemon: &UdpSocket,
    mut bare: B,
    instrumented: I,
    sampled: bool,
) -> (u64, u64)
where
    B: Service<LambdaEvent<Value>, Error = Error>,
    PerfService<I>: Service<LambdaEvent<Value>, Error = Error>,
{
    let marker_dir = tempfile::tempdir().unwrap();
    let layer = perf_layer(daemon, marker_dir.path());
    let bare = allocations_of_warm_invocations(&mut bare, || event(sampled));
    let instrumented =
        allocations_of_warm_invocations(&mut layer.layer(instrumented), || event(sampled));
    (bare, instrumented)
}

/// [`added_allocations`] of the scenario's handlers.
fn added_allocations_of_the_scenario(sampled: bool) -> (u64, u64) {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    added_allocations(&daemon, service_fn(bare), service_fn(instrumented), sampled)
}

/// What a test sends `daemon` once every invocation has sent its subsegment: the end of what
/// [`receive_all`] waits for. On loopback a datagram is queued by the `send` that sends it, so
/// every subsegment is queued before it.
const END_OF_SUBSEGMENTS: &[u8] = b"end of the subsegments";

/// Receives what is sent to `daemon` on a thread of its own (whose allocations are not
/// counted), until [`END_OF_SUBSEGMENTS`] (or two minutes without any datagram); returns the
/// last datagram before it. An idle timeout alone ended too early on a loaded machine, whose
/// bare handler's invocations (which send nothing) took longer than it.
fn receive_all(daemon: UdpSocket) -> std::thread::JoinHandle<Option<Vec<u8>>> {
    daemon
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    std::thread::spawn(move || {
        let mut datagram = vec![0; 65_536];
        let mut last = None;
        while let Ok(length) = daemon.recv(&mut datagram) {
            if &datagram[..length] == END_OF_SUBSEGMENTS {
                break;
            }
            last = Some(datagram[..length].to_vec());
        }
        last
    })
}

#[test]
fn a_warm_unsampled_invocation_adds_no_allocation() {
    let _serial = one_test_at_a_time();
    assert_at_most_added(
        "unsampled",
        added_allocations_of_the_scenario(false),
        ALLOWED,
    );
}

/// The handler subsegment is written straight into a reused datagram, from a trace whose
/// memory (lists, strings, facts buffer) the previous invocation lends.
#[test]
fn a_warm_sampled_invocation_adds_no_allocation() {
    let _serial = one_test_at_a_time();
    assert_at_most_added("sampled", added_allocations_of_the_scenario(true), ALLOWED);
}

/// One invocation at a time, each begun on one thread and ended on another (as the runtime's
/// loop moves between the worker threads of a multi-threaded runtime): the memory of the
/// invocation that ended serves the next one wherever it begins, from the first few on.
#[test]
fn a_warm_invocation_ending_on_another_thread_adds_no_allocation() {
    let _serial = one_test_at_a_time();
    // Few, on purpose: a thread keeps up to 64 ended invocations for itself, and an invocation
    // stranded in one thread's keeping would show only within the first 64 (a warm-up as long
    // as the other tests' would hide it).
    const FIRST_FEW: usize = 10;
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let marker_dir = tempfile::tempdir().unwrap();
    let layer = perf_layer(&daemon, marker_dir.path());
    let bare = allocations_of_invocations_across_threads(&mut service_fn(bare), FIRST_FEW);
    let instrumented = allocations_of_invocations_across_threads(
        &mut layer.layer(service_fn(instrumented)),
        FIRST_FEW,
    );
    assert_at_most_added(
        "sampled, each ending on another thread than it began",
        (bare, instrumented),
        ALLOWED,
    );
}

/// Under the subscriber `init()` installs (its log lines, its X-Ray layer), as the bare handler
/// runs under it too: the invocation's span (see `tracing::Span::current()` in a handler)
/// costs no allocation either.
#[cfg(feature = "tracing")]
#[test]
fn a_warm_sampled_invocation_under_inits_subscriber_adds_no_allocation() {
    use tracing_subscriber::layer::SubscriberExt;

    let _serial = one_test_at_a_time();
    let layers = lambda_perf_core::InitBuilder::from_env()
        .log_writer(File::create("/dev/null").unwrap())
        .layer()
        .unwrap();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layers));
    assert_at_most_added(
        "sampled, under init()'s subscriber",
        added_allocations_of_the_scenario(true),
        ALLOWED,
    );
}

/// Under the runtime-level companion, the writes wait for the response in a window of their
/// own; the invocation's memory is still reused by the next one.
#[test]
fn a_warm_sampled_invocation_under_the_companion_adds_no_allocation() {
    let _serial = one_test_at_a_time();
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let marker_dir = tempfile::tempdir().unwrap();
    let layer = perf_layer(&daemon, marker_dir.path());
    let bare = allocations_of_warm_invocations(&mut runtime_service(service_fn(bare)), || {
        invocation(true)
    });
    let mut companion =
        PerfRuntimeLayer::new().layer(runtime_service(layer.layer(service_fn(instrumented))));
    let instrumented = allocations_of_warm_invocations(&mut companion, || invocation(true));
    assert_at_most_added("sampled, with the companion", (bare, instrumented), ALLOWED);
}

/// The response is captured (the default) as the handler subsegment's metadata: written
/// straight from its `Serialize` into a buffer the trace reuses, never through a
/// `serde_json::Value`, which would allocate its map and every string.
#[test]
fn a_warm_sampled_invocation_capturing_an_object_response_adds_no_allocation() {
    let _serial = one_test_at_a_time();
    assert_an_object_recorded_adds_no_allocation(
        "sampled, an object response captured",
        service_fn(instrumented_order),
        ["alloc", "handler response"],
    );
}

/// Warm sampled invocations of `instrumented`, which answers the scenario's order, against
/// the bare handler answering it: no allocation added, and the subsegment of a measured
/// invocation holds the order as metadata at `[namespace, key]` (so recording it happened).
fn assert_an_object_recorded_adds_no_allocation<I>(what: &str, instrumented: I, at: [&str; 2])
where
    PerfService<I>: Service<LambdaEvent<Value>, Error = Error>,
{
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let received = receive_all(daemon.try_clone().unwrap());
    let counts = added_allocations(&daemon, service_fn(bare_order), instrumented, true);
    assert_at_most_added(what, counts, ALLOWED);
    let document = last_measured_subsegment(&daemon, received);
    let [namespace, key] = at;
    assert_eq!(
        document["metadata"][namespace][key],
        serde_json::to_value(order()).unwrap(),
        "{document}"
    );
}

/// The last subsegment `daemon` `received` (from [`receive_all`]), once every invocation has
/// sent its own: one of the measured invocations'.
fn last_measured_subsegment(
    daemon: &UdpSocket,
    received: std::thread::JoinHandle<Option<Vec<u8>>>,
) -> Value {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(END_OF_SUBSEGMENTS, daemon.local_addr().unwrap())
        .unwrap();
    let last = received.join().unwrap().expect("subsegments were sent");
    let last = String::from_utf8(last).unwrap();
    let document: Value = serde_json::from_str(last.split_once('\n').unwrap().1).unwrap();
    let invocation = document["metadata"]["lambda_perf"]["invocation"]
        .as_u64()
        .unwrap();
    assert!(invocation > WARM_UP as u64, "{last}");
    document
}

/// A handler that records its own object as trace metadata, and answers it.
async fn instrumented_order_with_metadata(_: LambdaEvent<Value>) -> Result<Order, Error> {
    let order = order();
    lambda_perf_core::xray::add_metadata("orders", "order", &order);
    Ok(order)
}

/// Metadata the handler records is written, like the captured response, straight from its
/// `Serialize` into a buffer the trace reuses.
#[test]
fn a_warm_sampled_invocation_recording_object_metadata_adds_no_allocation() {
    let _serial = one_test_at_a_time();
    assert_an_object_recorded_adds_no_allocation(
        "sampled, object metadata and response",
        service_fn(instrumented_order_with_metadata),
        ["orders", "order"],
    );
}

/// A value whose `Serialize` fails.
struct Unserializable;

impl serde::Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("not this one"))
    }
}

/// A handler whose first metadata value cannot be written (its error, which the handler gets
/// back, is not counted: its message is the handler's to keep), then records its object.
async fn rejected_then_recorded_metadata(_: LambdaEvent<Value>) -> Result<Order, Error> {
    let rejected = uncounted(|| {
        lambda_perf_core::xray::try_add_metadata("orders", "rejected", Unserializable)
    });
    assert!(rejected.is_err());
    let order = order();
    lambda_perf_core::xray::add_metadata("orders", "order", &order);
    Ok(order)
}

/// A value that cannot be written gives its buffer back: the next value reuses it.
#[test]
fn metadata_recorded_after_a_rejected_value_adds_no_allocation() {
    let _serial = one_test_at_a_time();
    assert_an_object_recorded_adds_no_allocation(
        "sampled, metadata after a rejected value",
        service_fn(rejected_then_recorded_metadata),
        ["orders", "order"],
    );
}

/// A response whose `Serialize` fails after writing its first member.
struct PartlyWritten;

impl serde::Serialize for PartlyWritten {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut object = serializer.serialize_struct("PartlyWritten", 2)?;
        object.serialize_field("written", "a first member, then")?;
        object.serialize_field("rejected", &Unserializable)?;
        object.end()
    }
}

async fn bare_partly_written(_: LambdaEvent<Value>) -> Result<PartlyWritten, Error> {
    Ok(PartlyWritten)
}

async fn instrumented_partly_written(event: LambdaEvent<Value>) -> Result<PartlyWritten, Error> {
    instrumented(event).await?;
    Ok(PartlyWritten)
}

/// A response that cannot be captured gives its buffer back: the next invocation's capture
/// reuses it (without that, every capture grew a new one: 4 more allocations per invocation).
/// What remains is the failure's own, which no instrumentation can avoid: the response's
/// `Serialize` fails through `serde_json`, whose error is a box holding the message `custom`
/// gives it. Nothing else: the warning's wording is made once (the warning is printed once),
/// and the drop is counted and reported by the EMF line and the subsegment in lists the reports
/// give back (see [`a_drop_on_every_invocation_adds_no_allocation`]).
#[test]
fn a_response_that_cannot_be_captured_gives_its_buffer_back() {
    let _serial = one_test_at_a_time();
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let counts = added_allocations(
        &daemon,
        service_fn(bare_partly_written),
        service_fn(instrumented_partly_written),
        true,
    );
    // Per invocation: `serde_json::Error`'s box, and its message (`Error::custom`'s `String`).
    let the_failures_own = 2 * MEASURED as u64;
    assert_at_most_added(
        "sampled, a response that cannot be captured",
        counts,
        the_failures_own + ALLOWED,
    );
}

/// The bare handler, making the failure's own allocations as well (it serializes its
/// response, which fails: `serde_json`'s error and its message), so that what the
/// instrumented one adds is what counting, warning of and reporting the drop cost.
async fn bare_partly_written_failing(_: LambdaEvent<Value>) -> Result<PartlyWritten, Error> {
    assert!(serde_json::to_writer(std::io::sink(), &PartlyWritten).is_err());
    Ok(PartlyWritten)
}

/// A drop counted on every invocation (a response that cannot be captured), reported by each
/// EMF line and each subsegment, adds no allocation: each report gives its list of drops back
/// for the next one to count into, and the warning is worded once. A measured invocation's
/// subsegment reports its drop.
#[test]
fn a_drop_on_every_invocation_adds_no_allocation() {
    let _serial = one_test_at_a_time();
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let received = receive_all(daemon.try_clone().unwrap());
    let counts = added_allocations(
        &daemon,
        service_fn(bare_partly_written_failing),
        service_fn(instrumented_partly_written),
        true,
    );
    assert_at_most_added("sampled, a drop on every invocation", counts, ALLOWED);
    let document = last_measured_subsegment(&daemon, received);
    assert_eq!(
        document["metadata"]["lambda_perf"]["dropped"],
        serde_json::json!({ "capture.response_not_serializable": 1 }),
        "{document}"
    );
}

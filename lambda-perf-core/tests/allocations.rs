//! A warm invocation allocates nothing the bare handler does not: counted by a global
//! allocator, over 20 000 warm invocations after a warm-up, sampled and unsampled, with one
//! metric and one annotation, EMF lines written to a real file and subsegments sent to a real
//! UDP socket. Buffers and pools may grow while warming, then never again.
//!
//! The counting allocator is the whole binary's, which is why this test has a binary of its
//! own. It counts only on the thread that asked for it, so the test harness's other threads
//! (and the watchdog's) are not counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs::File;
use std::hint::black_box;
use std::net::UdpSocket;

use lambda_perf_core::PerfLayer;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tower::{Layer, Service, service_fn};

#[path = "../benches/common/scenario.rs"]
mod scenario;

use scenario::{bare, event, instrumented};

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

const WARM_UP: usize = 2_000;
const MEASURED: usize = 20_000;
/// Fewer than one added allocation per thousand warm invocations.
const ALLOWED: u64 = (MEASURED / 1_000) as u64 - 1;

/// The allocations of `MEASURED` warm invocations of `service` (the events made beforehand,
/// outside the count), after `WARM_UP` others.
fn allocations_of_warm_invocations<S>(service: &mut S, sampled: bool) -> u64
where
    S: Service<LambdaEvent<Value>, Response = u32, Error = Error>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for _ in 0..WARM_UP {
        runtime.block_on(service.call(event(sampled))).unwrap();
    }
    let events: Vec<_> = (0..MEASURED).map(|_| event(sampled)).collect();
    allocations_of(|| {
        for event in events {
            black_box(runtime.block_on(service.call(black_box(event))).unwrap());
        }
    })
}

fn added_allocations(sampled: bool) -> (u64, u64) {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let marker_dir = tempfile::tempdir().unwrap();
    let layer = PerfLayer::builder()
        .service("alloc")
        .namespace("Alloc")
        .metrics_disabled(false)
        .trace_disabled(false)
        .invocation_facts(true)
        .marker_dir(marker_dir.path())
        .emf_writer(File::create("/dev/null").unwrap())
        .xray_daemon_address(daemon.local_addr().unwrap().to_string())
        .build()
        .unwrap();
    let bare = allocations_of_warm_invocations(&mut service_fn(bare), sampled);
    let instrumented =
        allocations_of_warm_invocations(&mut layer.layer(service_fn(instrumented)), sampled);
    (bare, instrumented)
}

fn assert_at_most_added(sampled: bool, allowed: u64) {
    let (bare, instrumented) = added_allocations(sampled);
    let added = instrumented.saturating_sub(bare);
    // The figures, for `--no-capture`.
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "sampled: {sampled}; {MEASURED} warm invocations: bare handler {bare} allocations, \
             instrumented {instrumented}, added {added}"
        );
    }
    assert!(
        added <= allowed,
        "{added} allocations added over {MEASURED} warm invocations (sampled: {sampled}); at \
         most {allowed} allowed"
    );
}

#[test]
fn a_warm_unsampled_invocation_adds_no_allocation() {
    assert_at_most_added(false, ALLOWED);
}

/// The handler subsegment is written straight into a reused datagram, from a trace whose
/// memory (lists, strings, facts buffer) the previous invocation lends.
#[test]
fn a_warm_sampled_invocation_adds_no_allocation() {
    assert_at_most_added(true, ALLOWED);
}

//! Timed lazy clients: exactly-once initialization, retries, expiry, and what is recorded
//! where. Each test runs in its own process under nextest (the init records are per process).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lambda_perf_core::PerfLayer;
use lambda_perf_core::lazy::{TimedAsyncLazy, TimedCache, TimedLazy};
use lambda_perf_core::test_util::{CapturedEmf, CollectedSubsegments};
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt, service_fn};

fn sampled_event() -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.xray_trace_id =
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
    LambdaEvent::new(Value::Null, context)
}

fn layer(lines: &CapturedEmf, documents: &CollectedSubsegments) -> PerfLayer {
    PerfLayer::builder()
        .service("orders")
        .namespace("Shop")
        .function_name("orders-fn")
        .handler_name("handler")
        .metrics_disabled(false)
        .cold_start_metric(true)
        .trace_disabled(false)
        .without_marker()
        .emf_writer(lines.clone())
        .xray_sink(documents.clone())
        .build()
        .unwrap()
}

static CALLS: AtomicUsize = AtomicUsize::new(0);

fn slow_client() -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(20));
    7
}

#[test]
fn concurrent_first_uses_initialize_exactly_once() {
    static CLIENT: TimedLazy<u64> = TimedLazy::new("contended", slow_client);
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(|| *CLIENT.get()))
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 7);
    }
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(CLIENT.get_if_initialized(), Some(&7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_initialization_is_once_and_retried_after_a_failure() {
    static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
    static POOL: TimedAsyncLazy<u64, String> = TimedAsyncLazy::new("pool", || {
        Box::pin(async {
            let attempt = ATTEMPTS.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if attempt == 0 {
                Err("connection refused".to_owned())
            } else {
                Ok(42)
            }
        })
    });
    assert_eq!(POOL.get().await, Err("connection refused".to_owned()));
    assert_eq!(
        POOL.get_if_initialized(),
        None,
        "a failure leaves the cell empty"
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| tokio::spawn(async { *POOL.get().await.unwrap() }))
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 42);
    }
    assert_eq!(
        ATTEMPTS.load(Ordering::SeqCst),
        2,
        "one failure, then exactly one success"
    );
}

#[tokio::test]
async fn a_cache_expires_and_can_be_invalidated() {
    static FETCHES: AtomicUsize = AtomicUsize::new(0);
    static SECRET: TimedCache<usize> = TimedCache::with_ttl("secret", Duration::from_millis(400));
    let fetch = || async { Ok::<_, String>(FETCHES.fetch_add(1, Ordering::SeqCst)) };
    assert_eq!(*SECRET.get_or_fetch(fetch).await.unwrap(), 0);
    assert_eq!(*SECRET.get_or_fetch(fetch).await.unwrap(), 0, "cached");
    SECRET.invalidate();
    assert_eq!(SECRET.get_if_fresh(), None);
    assert_eq!(
        *SECRET.get_or_fetch(fetch).await.unwrap(),
        1,
        "refetched after invalidate"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(SECRET.get_if_fresh(), None, "expired");
    assert_eq!(
        *SECRET.get_or_fetch(fetch).await.unwrap(),
        2,
        "refetched after the TTL"
    );
    SECRET.invalidate();
    let denied = SECRET
        .get_or_fetch(|| async { Err::<usize, _>("denied".to_owned()) })
        .await;
    assert_eq!(denied.unwrap_err(), "denied");
    assert_eq!(SECRET.get_if_fresh(), None, "a failed fetch caches nothing");
}

fn sleepy_client() -> &'static str {
    std::thread::sleep(Duration::from_millis(30));
    "client"
}

#[tokio::test]
async fn init_and_invocation_phases_are_recorded_where_they_belong() {
    static EAGER: TimedLazy<&str> = TimedLazy::new("eager", sleepy_client);
    static LAZY: TimedLazy<&str> = TimedLazy::new("lazy", sleepy_client);
    static SECRET: TimedCache<&str> = TimedCache::new("secret");

    // At init, before any invocation.
    let before = std::time::Instant::now();
    EAGER.init_now();
    let eager_took_ms = before.elapsed().as_secs_f64() * 1000.0;

    let (lines, documents) = (CapturedEmf::new(), CollectedSubsegments::new());
    let mut service = layer(&lines, &documents).layer(service_fn(|_: LambdaEvent<Value>| async {
        let client = *LAZY.get();
        let secret = SECRET
            .get_or_fetch(|| async { Ok::<_, Error>("s3cr3t") })
            .await?;
        let _ = SECRET
            .get_or_fetch(|| async { Ok::<_, Error>("unused") })
            .await?;
        Ok::<_, Error>(json!({ "client": client, "secret": *secret }))
    }));

    // First invocation: the eager record gets a line of its own, with the same dimensions as
    // a lazy client's, and lands on the handler subsegment; the lazy client initializes
    // inside the invocation.
    service
        .ready()
        .await
        .unwrap()
        .call(sampled_event())
        .await
        .unwrap();
    let emf = lines.take_lines();
    let cold = emf
        .iter()
        .find(|line| line.get("ColdStart").is_some())
        .unwrap();
    assert!(cold.get("ClientInitDuration").is_none(), "{cold}");
    let eager_line = emf
        .iter()
        .find(|line| line["client"] == "eager")
        .expect("a ClientInitDuration line for the eager client");
    assert!(eager_line["ClientInitDuration"][0].as_f64().unwrap() >= 30.0);
    assert_eq!(
        eager_line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["service", "client"]])
    );
    assert_eq!(eager_line["lambda_perf"]["start_kind"], "cold");
    let lazy_line = emf
        .iter()
        .find(|line| line["client"] == "lazy")
        .expect("a ClientInitDuration line for the lazy client");
    assert!(lazy_line["ClientInitDuration"][0].as_f64().unwrap() >= 30.0);
    assert_eq!(
        lazy_line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["service", "client"]])
    );

    let traced = documents.take();
    let handler = traced
        .iter()
        .find(|doc| doc["name"] == "## handler")
        .unwrap();
    let init_clients = &handler["metadata"]["lambda_perf"]["init_clients"];
    assert_eq!(init_clients[0]["client"], "eager");
    // Its `## init eager` subsegment, opened where no invocation was current, is no drop:
    // the creation is recorded as init work.
    assert!(
        handler["metadata"]["lambda_perf"].get("dropped").is_none(),
        "{handler}"
    );
    assert_eq!(init_clients[0]["phase"], "init");
    assert!(init_clients[0]["duration_ms"].as_f64().unwrap() >= 30.0);
    assert_eq!(
        handler["metadata"]["lambda_perf"]["cache"],
        json!({ "secret": { "hits": 1, "misses": 1 } })
    );
    let lazy = traced
        .iter()
        .find(|doc| doc["name"] == "## init lazy")
        .unwrap();
    assert_eq!(lazy["parent_id"], handler["id"]);
    let record = &lazy["metadata"]["lambda_perf"]["client_init"];
    assert_eq!(record["phase"], "invocation");
    assert_eq!(record["start_kind"], "cold");
    assert!(record["error"].is_null());
    let elapsed = lazy["end_time"].as_f64().unwrap() - lazy["start_time"].as_f64().unwrap();
    assert!(elapsed >= 0.029, "{elapsed}");
    assert!(traced.iter().any(|doc| doc["name"] == "## init secret"));
    // Each creation took no longer than the time around it: the eager one's call, the lazy
    // one's subsegment (give or take the rounding of its times).
    let eager_ms = init_clients[0]["duration_ms"].as_f64().unwrap();
    assert!(
        eager_ms <= eager_took_ms,
        "{eager_ms} ms of {eager_took_ms} ms"
    );
    let lazy_ms = record["duration_ms"].as_f64().unwrap();
    assert!(
        lazy_ms <= elapsed * 1000.0 + 0.05,
        "{lazy_ms} ms in a subsegment of {elapsed} s"
    );
    // Each client's metric is the creation its trace records.
    assert_eq!(
        eager_line["ClientInitDuration"],
        json!([init_clients[0]["duration_ms"]]),
        "{eager_line} {init_clients}"
    );
    assert_eq!(
        lazy_line["ClientInitDuration"],
        json!([record["duration_ms"]]),
        "{lazy_line} {record}"
    );

    // A warm invocation: nothing about clients, one more cache hit.
    service
        .ready()
        .await
        .unwrap()
        .call(sampled_event())
        .await
        .unwrap();
    let emf = lines.take_lines();
    assert_eq!(emf.len(), 0, "no client line, no ColdStart line, no metric");
    let traced = documents.take();
    assert_eq!(traced.len(), 1, "only the handler subsegment: {traced:#?}");
    assert!(
        traced[0]["metadata"]["lambda_perf"]
            .get("init_clients")
            .is_none()
    );
    assert_eq!(
        traced[0]["metadata"]["lambda_perf"]["cache"],
        json!({ "secret": { "hits": 2, "misses": 0 } })
    );
}

#[tokio::test]
async fn a_failed_lazy_initialization_faults_its_subsegment() {
    static BROKEN: TimedAsyncLazy<u8, std::io::Error> = TimedAsyncLazy::new("broken", || {
        Box::pin(async { Err(std::io::Error::other("no route to host")) })
    });
    let (lines, documents) = (CapturedEmf::new(), CollectedSubsegments::new());
    let service = layer(&lines, &documents).layer(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(BROKEN.get().await.is_err())
    }));
    assert!(service.oneshot(sampled_event()).await.unwrap());
    let traced = documents.take();
    let broken = traced
        .iter()
        .find(|doc| doc["name"] == "## init broken")
        .unwrap();
    assert_eq!(broken["fault"], true);
    assert_eq!(
        broken["cause"]["exceptions"][0]["message"],
        "no route to host"
    );
    assert_eq!(
        broken["metadata"]["lambda_perf"]["client_init"]["error"],
        "no route to host"
    );
    assert!(
        !lines
            .take_lines()
            .iter()
            .any(|line| line["client"] == "broken"),
        "no duration metric for a failed initialization"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_a_fetch_makes_the_next_use_fetch_again() {
    static FETCHES: AtomicUsize = AtomicUsize::new(0);
    static PASSWORD: TimedCache<usize> = TimedCache::new("password");
    // A fetch under way (it read the old password) when the login fails and the password is
    // invalidated: the next use must not get what that fetch read.
    let under_way = tokio::spawn(async {
        *PASSWORD
            .get_or_fetch(|| async {
                let fetch = FETCHES.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok::<_, String>(fetch)
            })
            .await
            .unwrap()
    });
    while FETCHES.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    PASSWORD.invalidate();
    let next = *PASSWORD
        .get_or_fetch(|| async { Ok::<_, String>(FETCHES.fetch_add(1, Ordering::SeqCst)) })
        .await
        .unwrap();
    assert_eq!(
        under_way.await.unwrap(),
        0,
        "the fetch under way gets its value"
    );
    assert_eq!(next, 1, "the use after the invalidation fetched again");
    assert_eq!(PASSWORD.get_if_fresh().as_deref(), Some(&1));
}

/// An error whose `Display` panics.
#[derive(Debug, PartialEq)]
struct Unprintable;

impl std::fmt::Display for Unprintable {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("no message for this error")
    }
}

#[tokio::test]
async fn a_failed_creation_whose_error_cannot_be_described_is_still_the_callers_error() {
    use lambda_perf_core::test_util::{Recorder, event};

    static POOL: TimedAsyncLazy<u8, Unprintable> =
        TimedAsyncLazy::new("pool", || Box::pin(async { Err(Unprintable) }));
    static SECRET: TimedCache<u8> = TimedCache::new("secret");
    let recorder = Recorder::new();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let pool = POOL.get().await.err();
        let secret = SECRET
            .get_or_fetch(|| async { Err::<u8, _>(Unprintable) })
            .await
            .err();
        Ok::<_, Error>(pool == Some(Unprintable) && secret == Some(Unprintable))
    });
    assert!(
        recorder.run(handler, event(json!({}))).await.unwrap(),
        "the handler gets the creation's error, not a panic"
    );
    let init = recorder.xray().named("## init pool").unwrap();
    assert_eq!(init["fault"], true, "{init:#}");
    assert!(
        init["metadata"]["lambda_perf"]["client_init"]["error"].is_string(),
        "{init:#}"
    );
}

#[tokio::test]
async fn a_cancelled_creation_is_recorded_as_not_finished_and_the_next_use_creates_it() {
    use lambda_perf_core::test_util::{Recorder, event};

    static CREATIONS: AtomicUsize = AtomicUsize::new(0);
    static POOL: TimedAsyncLazy<u8, String> = TimedAsyncLazy::new("pool", || {
        Box::pin(async {
            if CREATIONS.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Ok(1)
        })
    });
    let recorder = Recorder::new();
    // The handler gives up on the pool after 50 ms: the creation's future is dropped.
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let pool = tokio::time::timeout(Duration::from_millis(50), POOL.get()).await;
        Ok::<_, Error>(pool.is_ok())
    });
    assert!(!recorder.run(handler, event(json!({}))).await.unwrap());
    let init = recorder.xray().named("## init pool").unwrap();
    let record = &init["metadata"]["lambda_perf"]["client_init"];
    assert!(
        record["error"].is_string(),
        "the abandoned creation says it did not finish: {init:#}"
    );
    assert!(record["duration_ms"].as_f64().unwrap() >= 50.0, "{init:#}");
    assert_eq!(
        recorder.xray().named("## handler").unwrap().get("fault"),
        None
    );

    // Not stuck: the next use creates it.
    assert_eq!(POOL.get().await, Ok(&1));
}

#[tokio::test]
async fn a_creation_that_panics_is_recorded_as_panicked_and_the_next_use_creates_it() {
    use lambda_perf_core::test_util::{Recorder, event};

    static CREATIONS: AtomicUsize = AtomicUsize::new(0);
    static CONFIG: TimedLazy<u8> = TimedLazy::new("config", || {
        if CREATIONS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the configuration cannot be read");
        }
        7
    });
    let recorder = Recorder::new();
    // The handler survives the panic of the first creation.
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let first = std::panic::catch_unwind(|| *CONFIG.get()).is_err();
        Ok::<_, Error>(first)
    });
    assert!(recorder.run(handler, event(json!({}))).await.unwrap());
    let init = recorder.xray().named("## init config").unwrap();
    let record = &init["metadata"]["lambda_perf"]["client_init"];
    assert_eq!(
        record["error"], "the initialization panicked",
        "the creation says it panicked: {init:#}"
    );
    assert_eq!(*CONFIG.get(), 7, "not stuck: the next use creates it");
}

/// `future`, its panic caught: `Err` if it panicked.
async fn caught<F: std::future::Future>(future: F) -> Result<F::Output, ()> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    })
    .await
}

#[tokio::test]
async fn a_creation_whose_future_panics_is_recorded_as_panicked() {
    use lambda_perf_core::test_util::{Recorder, event};

    static CREATIONS: AtomicUsize = AtomicUsize::new(0);
    static POOL: TimedAsyncLazy<u8, String> = TimedAsyncLazy::new("pool", || {
        Box::pin(async {
            tokio::task::yield_now().await;
            if CREATIONS.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the pool cannot connect");
            }
            Ok(1)
        })
    });
    let recorder = Recorder::new();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let pool = POOL.get().await;
        Ok::<_, Error>(pool.is_ok())
    });
    assert!(
        caught(recorder.run(handler, event(json!({}))))
            .await
            .is_err()
    );
    let init = recorder.xray().named("## init pool").unwrap();
    let record = &init["metadata"]["lambda_perf"]["client_init"];
    assert_eq!(record["error"], "the initialization panicked", "{init:#}");
    assert_eq!(POOL.get().await, Ok(&1));
}

#[tokio::test]
async fn a_creation_dropped_as_a_panic_elsewhere_unwinds_is_recorded_as_not_finished() {
    use lambda_perf_core::test_util::{Recorder, event};

    static POOL: TimedAsyncLazy<u8, String> = TimedAsyncLazy::new("pool", || {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(1)
        })
    });
    let recorder = Recorder::new();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let other = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            panic!("a bug elsewhere in the handler");
        };
        let (pool, ()) = tokio::join!(POOL.get(), other);
        Ok::<_, Error>(pool.is_ok())
    });
    assert!(
        caught(recorder.run(handler, event(json!({}))))
            .await
            .is_err()
    );
    let init = recorder.xray().named("## init pool").unwrap();
    let record = &init["metadata"]["lambda_perf"]["client_init"];
    let error = record["error"].as_str().unwrap();
    assert!(
        error.starts_with("the initialization did not finish"),
        "the creation did not panic, it was dropped: {init:#}"
    );
}

#[tokio::test]
async fn a_creation_dropped_with_the_whole_handler_is_recorded_on_its_subsegment() {
    use lambda_perf_core::test_util::{Recorder, event};

    static POOL: TimedAsyncLazy<u8, String> = TimedAsyncLazy::new("pool", || {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(1)
        })
    });
    let recorder = Recorder::new();
    let handler =
        service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(POOL.get().await.is_ok()) });
    // A timeout around the instrumented service: the handler's future is dropped, the
    // creation with it.
    let run = recorder.run(handler, event(json!({})));
    assert!(
        tokio::time::timeout(Duration::from_millis(50), run)
            .await
            .is_err()
    );
    let init = recorder.xray().named("## init pool").unwrap();
    let record = &init["metadata"]["lambda_perf"]["client_init"];
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|error| error.starts_with("the initialization did not finish")),
        "the abandoned creation says it did not finish: {init:#}"
    );
}

/// A cached value whose drop looks at the cache it was kept in (a client that, dropped,
/// checks whether a newer one is there to hand its connections to).
struct LooksBack(&'static TimedCache<LooksBack>);

impl Drop for LooksBack {
    fn drop(&mut self) {
        let _ = self.0.get_if_fresh();
    }
}

#[test]
fn a_value_is_dropped_outside_the_cache_lock() {
    static CLIENT: TimedCache<LooksBack> =
        TimedCache::with_ttl("looks-back", Duration::from_millis(50));
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let fetch = || async { Ok::<_, String>(LooksBack(&CLIENT)) };
            // Replaced by a fetch once expired: the old value is dropped.
            drop(CLIENT.get_or_fetch(fetch).await.unwrap());
            tokio::time::sleep(Duration::from_millis(60)).await;
            drop(CLIENT.get_or_fetch(fetch).await.unwrap());
            // Invalidated: dropped too.
            CLIENT.invalidate();
        });
        done.send(()).unwrap();
    });
    assert!(
        finished.recv_timeout(Duration::from_secs(5)).is_ok(),
        "a value's drop that uses its cache deadlocks: it runs under the cache's lock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_stops_waiting_for_another_callers_creation_records_its_wait() {
    use lambda_perf_core::test_util::{Recorder, event};

    static POOL: TimedAsyncLazy<u8, String> = TimedAsyncLazy::new("pool", || {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok(1)
        })
    });
    static SECRET: TimedCache<u8> = TimedCache::new("secret");
    // Another caller (a task of its own) creates the pool and fetches the secret, slowly.
    let creating = tokio::spawn(async {
        let fetching = SECRET.get_or_fetch(|| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok::<_, String>(2)
        });
        let (pool, secret) = tokio::join!(POOL.get(), fetching);
        (*pool.unwrap(), *secret.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let recorder = Recorder::new();
    // The handler gives up waiting for either after 50 ms.
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let pool = tokio::time::timeout(Duration::from_millis(50), POOL.get()).await;
        let secret = tokio::time::timeout(
            Duration::from_millis(50),
            SECRET.get_or_fetch(|| async { Ok::<_, String>(3) }),
        )
        .await;
        Ok::<_, Error>(pool.is_err() && secret.is_err())
    });
    assert!(recorder.run(handler, event(json!({}))).await.unwrap());
    assert_eq!(creating.await.unwrap(), (1, 2));
    for name in ["## init pool", "## init secret"] {
        let wait = recorder.xray().named(name).unwrap();
        let client_wait = &wait["metadata"]["lambda_perf"]["client_wait"];
        assert!(
            client_wait["waited_ms"].as_f64().unwrap() >= 50.0,
            "the wait of a caller that stopped waiting is recorded: {wait:#}"
        );
        assert_eq!(client_wait["gave_up"], true, "{wait:#}");
        assert!(
            wait["metadata"]["lambda_perf"].get("client_init").is_none(),
            "{wait:#}"
        );
    }
}

//! An init that creates clients in a loop (here, retrying one that fails) reports with the
//! first invocation the first 99 creations and the latest, and counts the others as dropped:
//! the first invocation writes a bounded amount. Its own process under nextest: the records
//! kept for the first invocation are per process.

use std::sync::atomic::{AtomicUsize, Ordering};

use lambda_perf_core::lazy::TimedAsyncLazy;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// Failed attempts before the creation succeeds.
const FAILURES: usize = 150;

static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
static DATABASE: TimedAsyncLazy<u8, String> = TimedAsyncLazy::new("database", || {
    Box::pin(async {
        let attempt = ATTEMPTS.fetch_add(1, Ordering::SeqCst);
        if attempt < FAILURES {
            Err(format!("attempt {attempt}: connection refused"))
        } else {
            Ok(1)
        }
    })
});

#[tokio::test]
async fn a_retry_loop_at_init_reports_its_first_attempts_and_its_outcome_and_counts_the_rest() {
    // At init, before the runtime serves: retried until it succeeds.
    while DATABASE.init_now().await.is_err() {}

    let recorder = Recorder::new();
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Orders", Unit::Count, 1.0);
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();

    let handler = recorder
        .xray()
        .named("## handler")
        .expect("the handler subsegment");
    let facts = &handler["metadata"]["lambda_perf"];
    let clients = facts["init_clients"].as_array().expect("init_clients");
    assert_eq!(clients.len(), 100, "{clients:#?}");
    assert_eq!(clients[0]["error"], "attempt 0: connection refused");
    assert_eq!(clients[98]["error"], "attempt 98: connection refused");
    assert_eq!(
        clients[99].get("error"),
        Some(&Value::Null),
        "the latest, the success, is kept: {:#}",
        clients[99]
    );
    let left_out = u64::try_from(FAILURES + 1 - 100).unwrap();
    assert_eq!(
        facts["dropped"]["client_init.record_over_limit"], left_out,
        "{facts:#}"
    );

    // The success's `ClientInitDuration` line; the count in the invocation's line too.
    let lines = recorder.emf().lines();
    let client_lines = lines
        .iter()
        .filter(|line| line.get("ClientInitDuration").is_some())
        .count();
    assert_eq!(client_lines, 1, "{lines:#?}");
    let counted = lines
        .iter()
        .filter_map(|line| line["lambda_perf"]["dropped"]["client_init.record_over_limit"].as_u64())
        .collect::<Vec<_>>();
    assert_eq!(counted, [left_out], "{lines:#?}");
}

//! A [`Runner`] and a [`Plan`] as a library user sets them, carried out by [`execute`]: limits
//! at the edge of what a time can hold.

use std::time::Duration;

use lambda_perf_local::emulator::{FunctionCommand, FunctionConfig};
use lambda_perf_local::run::{Plan, RunOptions, Runner, execute};

/// The demo function bundled in `lambda-perf`.
fn demo() -> Runner {
    Runner::new(
        FunctionCommand::new(env!("CARGO_BIN_EXE_lambda-perf")).arg("demo-function"),
        FunctionConfig::new(),
    )
}

fn two_invocations() -> Plan {
    Plan::from_options(&RunOptions {
        invocations: 2,
        event: bytes::Bytes::from_static(br#"{"action":"order","order_id":"o-1"}"#),
        ..RunOptions::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_past_what_an_instant_holds_are_no_limit() {
    let mut runner = demo();
    runner.timeout = Duration::MAX;
    runner.init_timeout = Duration::MAX;
    let result = execute(&two_invocations(), &runner, &|_| {}).await;
    assert!(result.early_stop.is_none(), "{:?}", result.early_stop);
    assert_eq!(result.resets.count, 0, "{:?}", result.resets.first);
    assert!(
        result
            .record
            .invocations
            .iter()
            .all(|run| run.reply.is_ok()),
        "{:#?}",
        result.record.invocations
    );
}

//! A [`Runner`] and a [`Plan`] as a library user sets them, carried out by [`execute`]: limits
//! at the edge of what a time can hold, plans the command line does not make.

use std::time::Duration;

use lambda_perf_local::emulator::{FunctionCommand, FunctionConfig};
use lambda_perf_local::run::{Plan, RunOptions, Runner, Step, execute};

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

/// A plan that lets the environment sit idle past the init timeout before its first
/// invocation (a pre-warmed environment) does not fail a runtime that asked for work at once:
/// it asked, and waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_step_before_the_first_invocation_does_not_fail_a_runtime_that_asked() {
    let mut runner = demo();
    runner.init_timeout = Duration::from_secs(1);
    let mut plan = two_invocations();
    plan.steps
        .insert(0, Step::Idle(Duration::from_millis(1500)));
    let result = execute(&plan, &runner, &|_| {}).await;
    assert!(result.early_stop.is_none(), "{:?}", result.early_stop);
    assert_eq!(result.resets.count, 0, "{:?}", result.resets.first);
    assert_eq!(result.record.invocations.len(), 2);
}

//! A [`Runner`] and a [`Plan`] as a library user sets them, carried out by [`execute`]: limits
//! at the edge of what a time can hold, plans the command line does not make.

use std::time::Duration;

use lambda_perf_local::emulator::{FunctionCommand, FunctionConfig};
use lambda_perf_local::report::Report;
use lambda_perf_local::run::{EarlyStop, Plan, RunOptions, Runner, Step, execute};

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

/// A runner configured in code to let one process take several invocations at once is a
/// Managed Instances run, as `lambda-perf run -c` is: initialized ahead (no cold start) and
/// billed by its requests; with a type whose environments take one invocation at a time, it is
/// refused before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_invocations_at_once_in_code_are_a_managed_instances_run() {
    let mut runner = demo();
    runner.config = runner.config.with_max_concurrency(2);
    let plan = Plan::from_options(&RunOptions {
        invocations: 2,
        concurrency: 2,
        event: bytes::Bytes::from_static(br#"{"action":"order","order_id":"o-1"}"#),
        ..RunOptions::default()
    });
    let result = execute(&plan, &runner, &|_| {}).await;
    assert!(result.early_stop.is_none(), "{:?}", result.early_stop);
    assert_eq!(
        result.record.config.initialization_type(),
        Some("lambda-managed-instances")
    );
    let report = Report::build(&result.record);
    assert_eq!(report.summary.invocations, 2);
    assert_eq!(report.summary.cold_starts, 0);
    let billing = &report.resources.billing;
    assert_eq!(billing.usd_per_gb_second, 0.0, "{billing:?}");

    runner.config = runner.config.with_initialization_type("on-demand");
    let result = execute(&plan, &runner, &|_| {}).await;
    match result.early_stop {
        Some(EarlyStop::OneAtATime(refused)) => {
            assert_eq!(refused.initialization_type, "on-demand");
            assert_eq!(refused.max_concurrency, 2);
        }
        other => panic!("{other:?}"),
    }
    assert!(result.record.invocations.is_empty());
}

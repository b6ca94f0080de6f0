//! `lambda-perf demo`: the bundled demo function through a scripted scenario.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use lambda_perf_local::emulator::{FunctionCommand, FunctionConfig};
use lambda_perf_local::run::{Plan, Runner, Step};

use crate::present::{self, Presentation, ReportArgs};

fn event(action: &str) -> Bytes {
    Bytes::from(format!(r#"{{"action":"{action}","order_id":"o-42"}}"#))
}

/// An order whose payment takes 60 ms: two of them overlap for sure.
fn slow_order(order_id: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"action":"order","order_id":"{order_id}","charge_ms":60}}"#
    ))
}

/// Cold, warm, an error, a restart (partial cold start), two at once in one process (the
/// function runs under `run_concurrent`, as on Lambda Managed Instances), a fresh
/// environment.
pub(crate) fn scenario() -> Plan {
    let invoke = |action: &str| Step::Invoke {
        event: event(action),
        sampled: true,
    };
    Plan {
        steps: vec![
            invoke("order"),
            Step::Idle(Duration::from_millis(50)),
            invoke("order"),
            invoke("decline"),
            Step::Restart,
            invoke("order"),
            Step::Concurrent {
                events: vec![slow_order("o-43"), slow_order("o-44")],
                sampled: true,
            },
            Step::FreshEnvironment,
            invoke("order"),
        ],
        stop_at_failure: false,
    }
}

/// `lambda-perf demo`.
pub(crate) async fn run(args: ReportArgs) -> ExitCode {
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => return present::fail(&format!("cannot find this program: {error}")),
    };
    let mut runner = Runner::new(
        FunctionCommand::new(program).arg("demo-function"),
        FunctionConfig::new()
            .with_function_name("lambda-perf-demo")
            .with_env("POWERTOOLS_SERVICE_NAME", "checkout")
            .with_env("POWERTOOLS_METRICS_NAMESPACE", "LambdaPerfDemo"),
    );
    runner.timeout = Duration::from_secs(10);
    Presentation::from(&args).run(&scenario(), &runner).await
}

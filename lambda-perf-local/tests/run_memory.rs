//! What a run holds in memory: a record of each invocation, whose size does not depend on
//! what the function answers. Alone in its test binary, as it reads the peak resident size
//! of the whole process.

use lambda_perf_local::emulator::{AnswerSummary, FunctionCommand, FunctionConfig};
use lambda_perf_local::run::{Plan, RunOptions, Runner, execute};

/// The process's peak resident size (`VmHWM`), in bytes.
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse().ok())
        .unwrap();
    kb * 1024
}

const BODY_BYTES: usize = 4_000_000;
const INVOCATIONS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_does_not_keep_the_responses_it_got() {
    let script = format!(
        r#"body="$TMPDIR/body"; head -c {BODY_BYTES} /dev/zero | tr '\0' x >"$body"
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  curl -sS -o /dev/null --data-binary @"$body" "$api/$id/response"
done"#
    );
    let runner = Runner::new(
        FunctionCommand::new("sh").arg("-c").arg(script),
        FunctionConfig::new(),
    );
    let plan = Plan::from_options(&RunOptions {
        invocations: INVOCATIONS,
        ..RunOptions::default()
    });
    let before = peak_resident_bytes();
    let result = execute(&plan, &runner, &|_| {}).await;
    let grown = peak_resident_bytes().saturating_sub(before);

    assert!(result.early_stop.is_none(), "{:?}", result.early_stop);
    assert_eq!(result.record.invocations.len(), INVOCATIONS);
    for run in &result.record.invocations {
        let reply = run.reply.as_ref().unwrap();
        assert_eq!(reply.answer, AnswerSummary::Response { bytes: BODY_BYTES });
    }
    // Every body kept would be 160 MB; a few in flight at a time are not.
    let all_bodies = (BODY_BYTES * INVOCATIONS) as u64;
    assert!(
        grown < all_bodies / 3,
        "the peak resident size grew by {} MB over {INVOCATIONS} responses of {} MB",
        grown / 1_000_000,
        BODY_BYTES / 1_000_000
    );
}

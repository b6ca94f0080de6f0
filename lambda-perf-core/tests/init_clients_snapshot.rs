//! SnapStart: clients created at init before the snapshot are not the restored environment's
//! init. Every clone of the snapshot starts with them already in memory; the restore path
//! (whose clock the restored invocation's init and age run from) paid nothing for them. Its
//! own process under nextest: the records kept for the first invocation, and the restore, are
//! per process.

use std::time::Duration;

use lambda_perf_core::lazy::TimedLazy;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::{InitializationType, SnapStartHook};
use lambda_runtime::{Error, LambdaEvent, SnapStartResource};
use serde_json::{Value, json};

fn slow() -> u8 {
    std::thread::sleep(Duration::from_millis(30));
    1
}

/// Created in `main`, before Lambda takes the snapshot.
static BEFORE_SNAPSHOT: TimedLazy<u8> = TimedLazy::new("before-snapshot", slow);
/// Created after the restore, before the first invocation (in a restore hook, say).
static AFTER_RESTORE: TimedLazy<u8> = TimedLazy::new("after-restore", slow);

#[tokio::test]
async fn clients_created_before_the_snapshot_are_not_charged_to_each_restore() {
    BEFORE_SNAPSHOT.init_now();
    SnapStartHook.after_restore().await.unwrap();
    AFTER_RESTORE.init_now();

    let recorder =
        Recorder::with(|builder| builder.initialization_type(InitializationType::SnapStart));
    let handler =
        lambda_runtime::service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({})) });
    recorder.run(handler, event(json!({}))).await.unwrap();

    let handler = recorder.xray().named("## handler").unwrap();
    assert_eq!(handler["annotations"]["StartKind"], "restored");
    let lines = recorder.emf().lines();
    let client_line = |name: &str| lines.iter().find(|line| line["client"] == name).cloned();
    assert!(
        client_line("after-restore").is_some(),
        "a client created on the restore path is the restore's: {lines:#?}"
    );
    // Still in the trace, as made before the snapshot.
    let clients = handler["metadata"]["lambda_perf"]["init_clients"].to_string();
    assert!(
        clients.contains(r#""client":"before-snapshot""#)
            && clients.contains(r#""phase":"snapshot""#),
        "{clients}"
    );
    assert_eq!(
        client_line("before-snapshot"),
        None,
        "a client created before the snapshot is charged to the restored invocation, whose \
         init runs from the restore ({} ms): {lines:#?}",
        handler["metadata"]["lambda_perf"]["init_duration_ms"]
    );
}

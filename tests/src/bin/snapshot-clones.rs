//! Two processes restored from one snapshot, as SnapStart makes them: this process draws
//! some ids, then `fork(2)`s twice — each child a clone of the same memory — and each clone
//! serves invocations as a function restored from a snapshot would (or, with `--on-demand`,
//! as one that does not know it was restored). Every subsegment id a clone sends is written,
//! one per line, to `<dir>/clone-<n>.ids`.
//!
//! Usage: `snapshot-clones <dir> [--on-demand]`

#![allow(unsafe_code)] // fork(2) is how a snapshot's clones are made here.

use std::io::Write;
use std::path::{Path, PathBuf};

use lambda_perf_core::test_util::CollectedSubsegments;
use lambda_perf_core::xray::Subsegment;
use lambda_perf_core::{InitializationType, PerfLayer};
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::Value;
use tower::{Layer, Service, service_fn};

async fn handler(_: LambdaEvent<Value>) -> Result<(), Error> {
    for name in ["a", "b", "c", "d", "e"] {
        Subsegment::new(name).instrument(async {}).await;
    }
    Ok(())
}

fn sampled_event(index: usize) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = format!("request-{index}");
    context.xray_trace_id = Some(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    );
    LambdaEvent::new(Value::Null, context)
}

/// Serves `n` invocations with a layer for `initialization_type`; returns the ids it sent.
fn serve(initialization_type: InitializationType, marker_dir: &Path, n: usize) -> Vec<String> {
    let sent = CollectedSubsegments::new();
    let layer = PerfLayer::builder()
        .metrics_disabled(true)
        .trace_disabled(false)
        .initialization_type(initialization_type)
        .marker_dir(marker_dir)
        .xray_sink(sent.clone())
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut service = layer.layer(service_fn(handler));
    for index in 0..n {
        runtime
            .block_on(service.call(sampled_event(index)))
            .unwrap();
    }
    sent.documents()
        .iter()
        .map(|document| document["id"].as_str().unwrap().to_owned())
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: snapshot-clones <dir> [--on-demand]"),
    );
    let restored = args.next().as_deref() != Some("--on-demand");

    // Init, before the snapshot: the process draws ids of its own.
    let before = serve(InitializationType::OnDemand, &dir.join("before"), 3);
    assert!(!before.is_empty());

    let mut children = Vec::new();
    for clone in 0..2 {
        // SAFETY: this process is single-threaded here (the runtime above is gone), so the
        // child is a complete copy of it.
        match unsafe { libc::fork() } {
            -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
            0 => {
                let kind = if restored {
                    InitializationType::SnapStart
                } else {
                    InitializationType::OnDemand
                };
                let ids = serve(kind, &dir.join(format!("clone-{clone}")), 20);
                let mut file =
                    std::fs::File::create(dir.join(format!("clone-{clone}.ids"))).unwrap();
                for id in ids {
                    writeln!(file, "{id}").unwrap();
                }
                std::process::exit(0);
            }
            child => children.push(child),
        }
    }
    for child in children {
        let mut status = 0;
        // SAFETY: waiting for a child this process forked.
        let waited = unsafe { libc::waitpid(child, &mut status, 0) };
        assert_eq!(waited, child);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "a clone failed"
        );
    }
}

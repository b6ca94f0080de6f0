//! `InitBuilder::xray_layer(false)` with an X-Ray layer of the user's own in the same
//! registry: lambda-perf's layer then records no span and only carries the invocation, and
//! leaves the spans to the user's, in either order of the layers.

#[path = "common/child_process.rs"]
mod child_process;

use lambda_perf_core::InitBuilder;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::xray::XRayLayer;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

use child_process::{is_child, warnings_of_child};

const CHILD: &str = "XRAY_LAYER_OFF_CHILD";

/// A handler that records an `outer` span, and an `ERROR` event inside a `DEBUG` span below
/// the user's layer's level: the event faults `outer`'s subsegment.
fn record_with(dispatch: impl tracing::Subscriber + Send + Sync + 'static) -> Recorder {
    let _guard = tracing::subscriber::set_default(dispatch);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let recorder = Recorder::new();
    runtime.block_on(async {
        recorder
            .run(
                service_fn(|_: LambdaEvent<Value>| async {
                    let _outer = tracing::info_span!("outer").entered();
                    let _inner = tracing::debug_span!("inner").entered();
                    tracing::error!("the order could not be saved");
                    Ok::<_, Error>(json!(null))
                }),
                event(json!({})),
            )
            .await
            .unwrap();
    });
    recorder
}

/// lambda-perf's layers, its X-Ray layer off, its log lines (`DEBUG` too, so that its
/// layers see the `DEBUG` span) to nowhere.
fn lambda_perfs() -> InitBuilder {
    InitBuilder::from_env()
        .xray_layer(false)
        .log_level(tracing::Level::DEBUG)
        .log_writer(std::io::sink())
}

fn assert_outer_faulted(recorder: &Recorder) {
    let outer = recorder
        .xray()
        .named("outer")
        .expect("the user's layer recorded the span");
    assert_eq!(outer["fault"], true, "{outer:#}");
    assert_eq!(
        outer["cause"]["exceptions"][0]["message"], "the order could not be saved",
        "{outer:#}"
    );
}

#[test]
fn the_users_layer_first() {
    if !is_child(CHILD) {
        return;
    }
    let own = tracing_subscriber::registry().with(XRayLayer::new());
    let layers = lambda_perfs()
        .layer::<tracing_subscriber::layer::Layered<XRayLayer, Registry>>()
        .unwrap();
    assert_outer_faulted(&record_with(own.with(layers)));
}

#[test]
fn lambda_perfs_layers_first() {
    if !is_child(CHILD) {
        return;
    }
    let layers = lambda_perfs().layer::<Registry>().unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(layers)
        .with(XRayLayer::new());
    assert_outer_faulted(&record_with(subscriber));
}

/// Neither order warns that two X-Ray layers are installed: the user turned lambda-perf's off.
#[test]
fn each_order_records_the_users_spans_without_a_warning() {
    if is_child(CHILD) {
        return;
    }
    for test in ["the_users_layer_first", "lambda_perfs_layers_first"] {
        let (warnings, stderr) = warnings_of_child(test, CHILD, "X-Ray layers");
        assert!(warnings.is_empty(), "{test}: {stderr}");
    }
}

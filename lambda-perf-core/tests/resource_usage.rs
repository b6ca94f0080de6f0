//! Resource usage (`resource_usage`): the share of its vCPUs an invocation used.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_perf_core::InitializationType;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

/// An event of a function of `memory_mb`.
fn event_of(memory_mb: i32) -> LambdaEvent<Value> {
    let mut event = event(json!({}));
    let mut config = (*event.context.env_config).clone();
    config.memory = memory_mb;
    event.context.env_config = Arc::new(config);
    event
}

/// Busy until this thread has used 30 ms of CPU (however loaded the machine is), with a
/// metric (so that the invocation writes its EMF line).
async fn spin(_: LambdaEvent<Value>) -> Result<u64, Error> {
    metrics::add_metric("Spins", Unit::Count, 1.0);
    let (start, cpu) = (Instant::now(), cpu_time::ThreadTime::now());
    let mut n = 0_u64;
    while cpu.elapsed() < Duration::from_millis(30) && start.elapsed() < Duration::from_secs(10) {
        for _ in 0..1024 {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    Ok(n)
}

/// On Lambda Managed Instances the vCPUs are configured apart from the memory (2 GB and one
/// vCPU at least, up to 8 GB a vCPU): `cpu_allotment_used` is the share of the vCPUs the
/// process has, not of the 4.6 that 8 GB allot on demand, which would make a CPU-bound
/// invocation read as one mostly waiting.
#[tokio::test]
async fn on_managed_instances_the_share_is_of_the_vcpus_the_process_has() {
    let recorder = Recorder::with(|layer| {
        layer
            .resource_usage(true)
            .initialization_type(InitializationType::ManagedInstances)
    });
    recorder
        .run(service_fn(spin), event_of(8192))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let facts = &lines.last().unwrap()["lambda_perf"];
    let ratio = facts["cpu_ratio"].as_f64().unwrap();
    let used = facts["cpu_allotment_used"].as_f64().unwrap();
    let vcpus = std::thread::available_parallelism().unwrap().get() as f64;
    assert!(ratio > 0.05, "not busy enough to tell: {facts}");
    assert!(
        (used * vcpus / ratio - 1.0).abs() < 0.1,
        "{facts}: not the share of this process's {vcpus} vCPUs"
    );

    // On demand, the memory size allots them: 1,769 MB one.
    let recorder = Recorder::with(|layer| layer.resource_usage(true));
    recorder
        .run(service_fn(spin), event_of(1769))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let facts = &lines.last().unwrap()["lambda_perf"];
    assert_eq!(facts["cpu_allotment_used"], facts["cpu_ratio"], "{facts}");
}

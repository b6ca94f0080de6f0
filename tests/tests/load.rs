//! Load: many invocations through `run_concurrent` at concurrency 64, each echoing its own
//! token into an EMF dimension and metadata, an X-Ray annotation and X-Ray metadata. Every
//! record must be attributed to its invocation: none lost, none duplicated, none carrying
//! another invocation's token.
//!
//! CI runs 10,000 invocations. `LAMBDA_PERF_LOAD_INVOCATIONS` changes the count of that test;
//! the benchmark size, 100,000, is the ignored test
//! `a_hundred_thousand_invocations_at_concurrency_64` (run it with
//! `cargo nextest run -p lambda-perf-tests --test load --run-ignored only`, or
//! `cargo test -p lambda-perf-tests --test load -- --ignored`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionCommand, FunctionProcess, InvokeRequest, OutputStream,
    RuntimeApi, XRayCollector,
};
use serde_json::{Value, json};

use support::{assert_valid_emf, assert_valid_xray, function_config};

/// Invocations in flight at once, and the function's `AWS_LAMBDA_MAX_CONCURRENCY`.
const CONCURRENCY: usize = 64;

/// How long the records may take to arrive once every invocation was answered.
const DRAIN: Duration = Duration::from_secs(60);

fn token(index: usize) -> String {
    format!("tok-{index:06}")
}

fn request_id(index: usize) -> String {
    format!("load-{index:06}")
}

/// A sampled trace of its own per invocation, its root naming the index.
fn trace_root(index: usize) -> String {
    format!("1-6b03e819-{index:024x}")
}

fn request(index: usize) -> InvokeRequest {
    InvokeRequest::json(json!({ "token": token(index) }))
        .with_request_id(request_id(index))
        .with_trace_header(format!(
            "Root={};Parent={:016x};Sampled=1",
            trace_root(index),
            index + 1
        ))
}

/// Runs `n` invocations of the echo function at concurrency 64 and checks every record.
async fn load(n: usize) {
    let api = RuntimeApi::start().await.unwrap();
    let collector = XRayCollector::start().await.unwrap();
    let environment = ExecutionEnvironment::new().unwrap();
    let config = function_config()
        .with_max_concurrency(CONCURRENCY as u32)
        .with_xray_daemon_address(collector.addr().to_string());
    let command = FunctionCommand::new(env!("CARGO_BIN_EXE_echo-function"));
    let process = FunctionProcess::spawn(&command, &config, &environment, &api).unwrap();

    let started = Instant::now();
    let replies: Vec<_> = futures_util::stream::iter(0..n)
        .map(|index| process.invoke(&api, request(index)))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let answered = started.elapsed();

    // The runtime received each handler's own response, once.
    let mut responses = BTreeMap::new();
    for reply in replies {
        let reply = reply.unwrap();
        let id = reply.request_id.clone();
        let body = reply.into_json().unwrap();
        assert!(responses.insert(id, body).is_none(), "answered twice");
    }
    assert_eq!(responses.len(), n);
    for index in 0..n {
        assert_eq!(
            responses[&request_id(index)],
            json!({ "token": token(index) })
        );
    }

    // Every record arrives: one end line per invocation (and the ColdStart line), one
    // handler subsegment per invocation.
    let deadline = Instant::now() + DRAIN;
    let lines = loop {
        let lines = process.emf_lines();
        if lines.len() > n || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let documents = loop {
        let documents = collector.documents();
        if documents.len() >= n || Instant::now() > deadline {
            break documents;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Anything more would be a duplicate: give it the time to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recorded = started.elapsed();
    report(&format!(
        "{n} invocations at concurrency {CONCURRENCY}: answered in {answered:?}, \
         recorded in {recorded:?}"
    ));

    // Nothing but EMF lines on stdout, and no warning on stderr.
    let output = process.output();
    for line in &output {
        match line.stream {
            OutputStream::Stdout => assert!(line.is_emf(), "not an EMF line: {line}"),
            OutputStream::Stderr => panic!("unexpected stderr line: {line}"),
        }
    }

    assert_eq!(process.emf_lines().len(), lines.len(), "late EMF lines");
    assert_eq!(
        collector.documents().len(),
        documents.len(),
        "late documents"
    );
    check_emf(n, &lines);
    check_xray(n, &documents);
    assert!(collector.datagrams().iter().all(|d| d.document.is_ok()));
}

/// Shows the load test's timing (with `--no-capture`).
#[allow(clippy::print_stderr, reason = "the timing is the point of showing it")]
fn report(text: &str) {
    eprintln!("{text}");
}

/// One end line per invocation, carrying its own token as the dimension and as metadata.
fn check_emf(n: usize, lines: &[Value]) {
    let mut cold_starts = 0;
    let mut seen = BTreeSet::new();
    for line in lines {
        assert_valid_emf(line);
        let facts = &line["lambda_perf"];
        let id = facts["request_id"].as_str().unwrap();
        let index: usize = id.strip_prefix("load-").unwrap().parse().unwrap();
        if line.get("ColdStart").is_some() {
            cold_starts += 1;
            continue;
        }
        assert!(seen.insert(index), "a second end line for {id}");
        assert_eq!(facts["outcome"], "success", "{line}");
        assert_eq!(line["token"], token(index), "{line}");
        assert_eq!(line["echoed_token"], token(index), "{line}");
        assert_eq!(line["Echoes"], json!([1.0]), "{line}");
        let dimensions = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
        assert!(
            dimensions[0].as_array().unwrap().contains(&json!("token")),
            "{line}"
        );
    }
    assert_eq!(cold_starts, 1);
    assert_eq!(seen.len(), n, "end lines lost");
}

/// One handler subsegment per invocation, in its own trace, with its own token.
fn check_xray(n: usize, documents: &[Value]) {
    let mut seen = BTreeSet::new();
    for document in documents {
        assert_valid_xray(document);
        let root = document["trace_id"].as_str().unwrap();
        let index = usize::from_str_radix(root.strip_prefix("1-6b03e819-").unwrap(), 16).unwrap();
        assert!(seen.insert(index), "a second document for {root}");
        assert_eq!(document["name"], "## orders-fn");
        assert_eq!(document["parent_id"], format!("{:016x}", index + 1));
        assert_eq!(document["annotations"]["token"], token(index), "{document}");
        assert_eq!(
            document["metadata"]["echo"]["token"],
            token(index),
            "{document}"
        );
    }
    assert_eq!(seen.len(), n, "subsegments lost");
}

/// The count of the CI test: `LAMBDA_PERF_LOAD_INVOCATIONS`, or 10,000.
fn ci_invocations() -> usize {
    std::env::var("LAMBDA_PERF_LOAD_INVOCATIONS")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(10_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_invocations_at_concurrency_64_each_recorded_once_as_its_own() {
    load(ci_invocations()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the benchmark size: minutes on 2 cores"]
async fn a_hundred_thousand_invocations_at_concurrency_64() {
    load(100_000).await;
}

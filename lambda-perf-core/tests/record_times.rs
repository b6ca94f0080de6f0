//! The handler subsegment spans the invocation, a child still open at the end is
//! closed within it, the facts record of the subsegment carries init's duration on the first
//! invocation only, and the EMF line of the end is stamped at the end.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::xray;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn leaves_a_child_open(_: LambdaEvent<Value>) -> Result<&'static str, Error> {
    metrics::add_metric("Work", Unit::Count, 1.0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut open = Box::pin(xray::in_subsegment(
        "left_open",
        std::future::pending::<()>(),
    ));
    tokio::select! {
        biased;
        () = &mut open => {}
        () = std::future::ready(()) => {}
    }
    std::mem::forget(open);
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok("done")
}

fn micros(seconds: &Value) -> i128 {
    // The written decimal, exactly (no float rounding).
    let text = seconds.to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "0"));
    let fraction = format!("{fraction:0<6}");
    whole.parse::<i128>().unwrap() * 1_000_000 + fraction[..6].parse::<i128>().unwrap()
}

#[tokio::test]
async fn the_handler_spans_the_invocation_and_the_end_line_is_stamped_at_its_end() {
    let recorder = Recorder::new();
    for round in 1..=2 {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as i128;
        recorder
            .run(service_fn(leaves_a_child_open), event(json!({})))
            .await
            .unwrap();
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as i128;
        let documents = recorder.xray().take();
        let handler = documents
            .iter()
            .find(|d| d["name"] == "## handler")
            .unwrap();
        let child = documents.iter().find(|d| d["name"] == "left_open").unwrap();
        let (h_start, h_end) = (micros(&handler["start_time"]), micros(&handler["end_time"]));
        let (c_start, c_end) = (micros(&child["start_time"]), micros(&child["end_time"]));
        assert!(
            before <= h_start && h_end <= after,
            "{before} {h_start} {h_end} {after}"
        );
        assert!(
            h_start <= c_start && c_start <= c_end && c_end <= h_end,
            "handler {h_start}..{h_end}, child {c_start}..{c_end}"
        );
        assert!(h_end - h_start >= 40_000, "the handler spans both sleeps");
        let facts = &handler["metadata"]["lambda_perf"];
        let duration_us = (facts["duration_ms"].as_f64().unwrap() * 1000.0).round() as i128;
        assert!(
            (h_end - h_start - duration_us).abs() <= 1,
            "{facts} vs {h_start}..{h_end}"
        );
        assert_eq!(
            facts.get("init_duration_ms").is_some(),
            round == 1,
            "{facts}"
        );

        let lines = recorder.emf().take_lines();
        let end = lines
            .iter()
            .find(|l| l["lambda_perf"].get("outcome").is_some())
            .unwrap();
        assert!(end["lambda_perf"].get("init_duration_ms").is_some());
        let timestamp = end["_aws"]["Timestamp"].as_i64().unwrap() as i128;
        assert!(
            (timestamp - h_end / 1000).abs() <= 1,
            "EMF {timestamp} vs end {h_end}"
        );
        // The EMF facts and the subsegment's are the same record (but for init and drops).
        for key in [
            "duration_ms",
            "deadline_headroom_ms",
            "outcome",
            "request_id",
        ] {
            assert_eq!(end["lambda_perf"][key], facts[key], "{key}");
        }
    }
}

//! The shapes CloudWatch and Powertools users expect: the ColdStart line's dimensions,
//! SingleMetric's service, the value range, client names as dimension values, and drops
//! counted where they can be seen.

use lambda_perf_core::lazy::TimedLazy;
use lambda_perf_core::metrics::{self, MetricsError, SingleMetric, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::xray;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

fn dimension_sets(line: &Value) -> &Value {
    &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
}

async fn ok(_: LambdaEvent<Value>) -> Result<(), Error> {
    metrics::add_metric("Calls", Unit::Count, 1.0);
    Ok(())
}

#[tokio::test]
async fn the_cold_start_line_has_the_function_name_and_the_default_dimensions() {
    let recorder = Recorder::with(|layer| {
        layer
            .function_name("orders-alias")
            .default_dimension("environment", "prod")
    });
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let cold = &lines[0];
    assert_eq!(cold["ColdStart"], json!([1.0]));
    assert_eq!(
        dimension_sets(cold),
        &json!([["function_name", "environment", "service"]])
    );
    assert_eq!(cold["function_name"], "orders-alias");
    assert_eq!(cold["environment"], "prod");
}

#[tokio::test]
async fn a_single_metric_carries_the_service() {
    let recorder = Recorder::with(|layer| layer.service("payment"));
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        SingleMetric::new("Refunds", Unit::Count, 1.0)
            .dimension("reason", "late")
            .try_emit()?;
        Ok::<_, Error>(())
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    let single = lines
        .iter()
        .find(|line| line.get("Refunds").is_some())
        .unwrap();
    assert_eq!(dimension_sets(single), &json!([["service", "reason"]]));
    assert_eq!(single["service"], "payment");
    assert_eq!(single["reason"], "late");
}

/// A `service` given to a `SingleMetric` is its line's, in place of the configured one (as
/// Powertools' `single_metric` takes it), checked as any dimension.
#[tokio::test]
async fn a_single_metric_takes_a_service_of_its_own() {
    let recorder = Recorder::with(|layer| layer.service("payment"));
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        SingleMetric::new("Refunds", Unit::Count, 1.0)
            .dimension("reason", "late")
            .dimension("service", "billing")
            .try_emit()?;
        let invalid = SingleMetric::new("Refunds", Unit::Count, 1.0)
            .dimension("service", "")
            .try_emit();
        assert!(
            matches!(invalid, Err(MetricsError::InvalidDimensionValue { .. })),
            "{invalid:?}"
        );
        Ok::<_, Error>(())
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    let singles: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("Refunds").is_some())
        .collect();
    assert_eq!(singles.len(), 1, "{lines:?}");
    assert_eq!(dimension_sets(singles[0]), &json!([["reason", "service"]]));
    assert_eq!(singles[0]["service"], "billing");
    assert_eq!(singles[0]["reason"], "late");
}

#[tokio::test]
async fn values_outside_cloudwatchs_range_are_refused_and_counted() {
    let recorder = Recorder::new();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let refused = metrics::try_add_metric("Huge", Unit::Count, 1e200);
        assert!(
            matches!(refused, Err(MetricsError::ValueOutOfRange { .. })),
            "{refused:?}"
        );
        metrics::add_metric("Tiny", Unit::Count, 1e-200);
        metrics::add_metric("Tiny", Unit::Count, 1e-200);
        metrics::add_metric("Fine", Unit::Count, 1e100);
        Ok::<_, Error>(())
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    let line = lines.last().unwrap();
    assert_eq!(line["Fine"], json!([1e100]));
    assert!(line.get("Huge").is_none() && line.get("Tiny").is_none());
    // The try_ form returned its error to the caller; the plain form's two drops are counted.
    assert_eq!(
        line["lambda_perf"]["dropped"]["metrics.value_out_of_range"], 2,
        "{line}"
    );
    let handler = recorder.xray().named("## handler").unwrap();
    assert_eq!(
        handler["metadata"]["lambda_perf"]["dropped"]["metrics.value_out_of_range"],
        2
    );
}

#[tokio::test]
async fn drops_are_reported_once_by_the_next_record_of_each_kind() {
    let recorder = Recorder::new();
    let dropping = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Calls", Unit::Count, 1.0);
        metrics::add_metric("Calls", Unit::Count, f64::NAN);
        xray::annotate("bad key", 1);
        Ok::<_, Error>(())
    });
    recorder.run(dropping, event(json!({}))).await.unwrap();
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let ends: Vec<&Value> = lines.iter().filter(|l| l.get("Calls").is_some()).collect();
    assert_eq!(
        ends[0]["lambda_perf"]["dropped"],
        json!({ "metrics.non_finite_value": 1, "xray.invalid_annotation_key": 1 })
    );
    assert!(
        ends[1]["lambda_perf"].get("dropped").is_none(),
        "{}",
        ends[1]
    );
    let documents = recorder.xray().documents();
    assert_eq!(
        documents[0]["metadata"]["lambda_perf"]["dropped"],
        json!({ "metrics.non_finite_value": 1, "xray.invalid_annotation_key": 1 })
    );
    assert!(
        documents[1]["metadata"]["lambda_perf"]
            .get("dropped")
            .is_none()
    );
}

#[tokio::test]
async fn a_client_whose_name_is_no_dimension_value_is_not_written_but_counted() {
    static BADLY_NAMED: TimedLazy<u8> = TimedLazy::new("ünïcode client", || 1);
    let recorder = Recorder::new();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Calls", Unit::Count, 1.0);
        Ok::<_, Error>(*BADLY_NAMED)
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    assert!(
        lines
            .iter()
            .all(|line| line.get("ClientInitDuration").is_none()),
        "{lines:#?}"
    );
    assert_eq!(
        lines.last().unwrap()["lambda_perf"]["dropped"]["emf.invalid_client_name"],
        1
    );
}

/// A value whose `Serialize` panics.
struct Explosive;

impl serde::Serialize for Explosive {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("boom in Serialize")
    }
}

#[tokio::test]
async fn a_panicking_serialize_is_a_typed_error_not_a_failed_invocation() {
    let recorder = Recorder::new();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let metric = metrics::try_add_metadata("explosive", Explosive);
        assert!(
            matches!(&metric, Err(MetricsError::MetadataNotSerializable { message, .. }) if message.contains("boom in Serialize")),
            "{metric:?}"
        );
        let trace = xray::try_add_metadata("ns", "explosive", Explosive);
        assert!(
            matches!(&trace, Err(xray::XRayError::MetadataNotSerializable { message, .. }) if message.contains("boom in Serialize")),
            "{trace:?}"
        );
        metrics::add_metric("Calls", Unit::Count, 1.0);
        Ok::<_, Error>("answered")
    });
    let response = recorder.run(handler, event(json!({}))).await.unwrap();
    assert_eq!(response, "answered");
    let lines = recorder.emf().lines();
    assert_eq!(lines.last().unwrap()["lambda_perf"]["outcome"], "success");
}

#[tokio::test]
async fn metadata_without_a_metric_is_not_written_but_counted() {
    let recorder = Recorder::new();
    let metadata_only = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metadata("order", "o-1");
        Ok::<_, Error>(())
    });
    recorder.run(metadata_only, event(json!({}))).await.unwrap();
    assert!(
        recorder
            .emf()
            .lines()
            .iter()
            .all(|line| line.get("order").is_none()),
        "no line carries the metadata"
    );
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let next = lines.iter().find(|l| l.get("Calls").is_some()).unwrap();
    assert_eq!(
        next["lambda_perf"]["dropped"],
        json!({ "emf.metadata_without_metrics": 1 })
    );
}

/// The keys of each top-level member of `line`, in order, duplicates kept (a parsed `Value`
/// keeps only the last of two equal keys).
fn raw_keys(line: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            deserializer.deserialize_map(Visitor)
        }
    }
    serde_json::from_str::<Keys>(line).unwrap().0
}

#[tokio::test]
async fn the_cold_start_line_keeps_its_own_keys_within_thirty_dimensions() {
    for (defaults, left_out) in [
        // A default dimension named like the line's own dimension or metrics.
        (vec!["function_name", "ColdStart", "InitDuration", "env"], 3),
        // 29 default dimensions fit the invocation's line (with service), not the ColdStart
        // line, which has function_name too.
        ((0..29).map(|i| &*format!("d{i}").leak()).collect(), 1),
    ] {
        let recorder = Recorder::with(|mut layer| {
            layer = layer.function_name("orders-fn");
            for name in &defaults {
                layer = layer.default_dimension(*name, "v");
            }
            layer
        });
        recorder
            .run(service_fn(ok), event(json!({})))
            .await
            .unwrap();
        let text = recorder.emf().text();
        let cold_text = text.lines().next().unwrap();
        let keys = raw_keys(cold_text);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(keys.len(), unique.len(), "a key written twice: {cold_text}");
        let lines = recorder.emf().lines();
        let cold = &lines[0];
        assert_eq!(cold["ColdStart"], json!([1.0]), "{cold_text}");
        assert!(cold["InitDuration"].is_array(), "{cold_text}");
        assert_eq!(cold["function_name"], "orders-fn");
        assert_eq!(cold["service"], "test");
        let set = dimension_sets(cold)[0].as_array().unwrap();
        assert!(set.len() <= 30, "{} dimensions: {cold_text}", set.len());
        assert!(set.contains(&json!("function_name")) && set.contains(&json!("service")));
        let invocation = lines.last().unwrap();
        assert_eq!(invocation["Calls"], json!([1.0]));
        assert_eq!(
            invocation["lambda_perf"]["dropped"]["emf.cold_start_dimension_left_out"], left_out,
            "{invocation}"
        );
    }
}

#[tokio::test]
async fn an_invocation_split_over_several_lines_reports_its_drops_once() {
    // More than 100 metrics: CloudWatch takes at most 100 per line, so the invocation's
    // metrics go out in two lines. A drop counted before them is one drop, reported once.
    let recorder = Recorder::new();
    let many = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Calls", Unit::Count, f64::NAN);
        for metric in 0..150 {
            metrics::add_metric(format!("M{metric}"), Unit::Count, 1.0);
        }
        Ok::<_, Error>(())
    });
    recorder.run(many, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    let ends: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("ColdStart").is_none())
        .collect();
    assert_eq!(ends.len(), 2, "{lines:#?}");
    let reported: u64 = ends
        .iter()
        .filter_map(|line| line["lambda_perf"]["dropped"]["metrics.non_finite_value"].as_u64())
        .sum();
    assert_eq!(reported, 1, "{ends:#?}");
}

/// Takes every line but those of its second write (a stdout that was full for a moment).
#[derive(Clone, Default)]
struct FailsOnce(std::sync::Arc<std::sync::Mutex<(usize, Vec<u8>)>>);

impl std::io::Write for FailsOnce {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.0.lock().unwrap();
        state.0 += 1;
        if state.0 == 2 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        state.1.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn drops_reported_by_a_line_that_was_lost_are_reported_by_the_next() {
    // Unsampled: the EMF lines are the only records that report drops.
    let writer = FailsOnce::default();
    let recorder = Recorder::with(|layer| layer.emf_writer(writer.clone()));
    let dropping = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Calls", Unit::Count, 1.0);
        metrics::add_metric("Calls", Unit::Count, f64::NAN);
        Ok::<_, Error>(())
    });
    // The ColdStart line is written; the invocation's line, which reports the drop, is lost.
    recorder
        .run(
            dropping,
            lambda_perf_core::test_util::unsampled_event(json!({})),
        )
        .await
        .unwrap();
    recorder
        .run(
            service_fn(ok),
            lambda_perf_core::test_util::unsampled_event(json!({})),
        )
        .await
        .unwrap();
    let text = String::from_utf8(writer.0.lock().unwrap().1.clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let next = lines.iter().find(|l| l.get("Calls").is_some()).unwrap();
    assert_eq!(
        next["lambda_perf"]["dropped"],
        json!({ "metrics.non_finite_value": 1, "emf.write_failed": 1 }),
        "{lines:#?}"
    );
}

/// An invocation's line over CloudWatch's 256,000 bytes is written without its metadata (its
/// metrics kept), and the metadata left out is counted in the next line.
#[tokio::test]
async fn a_line_too_large_is_written_without_its_metadata_and_counted() {
    let recorder = Recorder::new();
    let large = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Calls", Unit::Count, 1.0);
        metrics::add_metadata("order", "x".repeat(300_000));
        Ok::<_, Error>(())
    });
    recorder.run(large, event(json!({}))).await.unwrap();
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let calls: Vec<&Value> = lines.iter().filter(|l| l.get("Calls").is_some()).collect();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(calls[0].get("order").is_none(), "{}", calls[0]);
    assert_eq!(calls[0]["Calls"], json!([1.0]));
    assert_eq!(
        calls[1]["lambda_perf"]["dropped"],
        json!({ "emf.metadata_trimmed": 1 }),
        "{}",
        calls[1]
    );
}

/// A line that does not fit even without its metadata (a request id of 300,000 bytes in its
/// facts) is not written and is counted; the drops it was to report come back, with it, in
/// the next line.
#[tokio::test]
async fn a_line_that_cannot_fit_is_counted_and_its_drops_are_reported_by_the_next() {
    let recorder = Recorder::new();
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    let mut huge = event(json!({}));
    huge.context.request_id = "r".repeat(300_000);
    let with_a_drop = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Calls", Unit::Count, 1.0);
        metrics::add_metric("Latency", Unit::Milliseconds, f64::NAN);
        Ok::<_, Error>(())
    });
    recorder.run(with_a_drop, huge).await.unwrap();
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let calls: Vec<&Value> = lines.iter().filter(|l| l.get("Calls").is_some()).collect();
    assert_eq!(calls.len(), 2, "the huge one is not written: {calls:#?}");
    assert_eq!(
        calls[1]["lambda_perf"]["dropped"],
        json!({ "metrics.non_finite_value": 1, "emf.line_too_large": 1 }),
        "{}",
        calls[1]
    );
}

/// A function name that is no dimension value (Lambda's are ASCII; one given in code may not
/// be) leaves the `ColdStart` line without `function_name`, counted in the invocation's line.
#[tokio::test]
async fn a_function_name_that_is_no_dimension_value_is_left_out_of_the_cold_start_line() {
    let recorder = Recorder::with(|layer| layer.function_name("commandes-é"));
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let cold = &lines[0];
    assert_eq!(cold["ColdStart"], json!([1.0]));
    assert_eq!(dimension_sets(cold), &json!([["service"]]), "{cold}");
    assert!(cold.get("function_name").is_none(), "{cold}");
    let end = lines.last().unwrap();
    assert_eq!(
        end["lambda_perf"]["dropped"],
        json!({ "emf.invalid_function_name": 1 }),
        "{end}"
    );
}

/// `levels` arrays nested in one another around a string.
fn nested(levels: usize) -> Value {
    (0..levels).fold(Value::from("bottom"), |inner, _| Value::Array(vec![inner]))
}

/// JSON readers stop at some depth (`serde_json` at 128 levels, the whole line's object
/// included): metadata nested deeper would make a line they refuse, and lose its metrics.
#[tokio::test]
async fn metadata_nested_too_deep_is_a_typed_error_and_every_line_stays_readable() {
    let recorder = Recorder::new();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Calls", Unit::Count, 1.0);
        metrics::try_add_metadata("deepest_accepted", nested(100))?;
        let refused = metrics::try_add_metadata("too_deep", nested(101));
        assert!(
            matches!(&refused, Err(MetricsError::MetadataTooDeep { key, limit: 100 }) if key == "too_deep"),
            "{refused:?}"
        );
        metrics::add_metadata("far_too_deep", nested(500));
        metrics::add_metadata("far_too_deep", json!({ "x": nested(200) }));
        Ok::<_, Error>(())
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    // Every line reads back (`lines` fails the test on one that does not).
    let lines = recorder.emf().lines();
    let line = lines.last().unwrap();
    assert_eq!(line["Calls"], json!([1.0]));
    assert_eq!(line["deepest_accepted"], nested(100));
    assert!(line.get("too_deep").is_none() && line.get("far_too_deep").is_none());
    assert_eq!(
        line["lambda_perf"]["dropped"]["metrics.metadata_too_deep"], 2,
        "{line}"
    );
}

/// `service` and the default dimensions keep their configured values: naming one is a
/// collision, not an overwrite (as Powertools would), and the line keeps the configured value.
#[tokio::test]
async fn a_configured_dimension_keeps_its_configured_value() {
    let recorder = Recorder::with(|layer| layer.default_dimension("environment", "prod"));
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Calls", Unit::Count, 1.0);
        for name in ["service", "environment"] {
            let refused = metrics::try_add_dimension(name, "canary");
            assert!(
                matches!(&refused, Err(MetricsError::KeyCollision { key, .. }) if key == name),
                "{refused:?}"
            );
        }
        Ok::<_, Error>(())
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    let line = lines.last().unwrap();
    assert_eq!(dimension_sets(line), &json!([["environment", "service"]]));
    assert_eq!(
        (&line["environment"], &line["service"]),
        (&json!("prod"), &json!("test"))
    );
}

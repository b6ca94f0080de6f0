//! The X-Ray API in-process: a capturing sink receives what the daemon would.

use std::time::Duration;

use lambda_perf_core::test_util::CollectedSubsegments;
use lambda_perf_core::xray::{self, Subsegment, XRayError};
use lambda_perf_core::{PerfLayer, PerfLayerBuilder};
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

fn layer(
    configure: impl FnOnce(PerfLayerBuilder) -> PerfLayerBuilder,
) -> (PerfLayer, CollectedSubsegments) {
    let sink = CollectedSubsegments::new();
    let builder = PerfLayer::builder()
        .service("payment")
        .handler_name("checkout")
        .metrics_disabled(true)
        .trace_disabled(false)
        .capture_response(true)
        .capture_error(true)
        .without_marker()
        .xray_sink(sink.clone());
    (configure(builder).build().unwrap(), sink)
}

fn event(sampled: &str) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = "req-1".into();
    context.xray_trace_id = Some(format!(
        "Root={ROOT};Parent={PARENT};Sampled={sampled};Lineage=a87bd80c:1"
    ));
    LambdaEvent::new(json!({}), context)
}

fn named<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    documents
        .iter()
        .find(|doc| doc["name"] == name)
        .unwrap_or_else(|| panic!("no {name:?} in {documents:#?}"))
}

#[tokio::test]
async fn the_handler_subsegment_carries_names_dashboards_rely_on() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "statusCode": 200 }))
    }));
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    assert_eq!(documents.len(), 1);
    let handler = &documents[0];
    assert_eq!(handler["name"], "## checkout");
    assert_eq!(handler["trace_id"], ROOT);
    assert_eq!(handler["parent_id"], PARENT);
    assert_eq!(handler["type"], "subsegment");
    assert_eq!(handler["annotations"]["Service"], "payment");
    assert!(handler["annotations"]["ColdStart"].is_boolean());
    assert_eq!(
        handler["metadata"]["payment"]["checkout response"],
        json!({ "statusCode": 200 })
    );
}

#[tokio::test]
async fn a_service_too_long_to_annotate_is_counted_not_silently_left_out() {
    // A dimension takes up to 1024 characters, an annotation value up to 1000.
    let service = "s".repeat(1001);
    let (layer, sink) = layer(|b| b.service(&service));
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(Value::Null)
    }));
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    let handler = &documents[0];
    assert!(handler["annotations"]["Service"].is_null(), "{handler}");
    assert_eq!(handler["annotations"]["StartKind"], "cold");
    assert_eq!(
        handler["metadata"]["lambda_perf"]["dropped"]["xray.annotation_value_too_long"], 1,
        "{handler}"
    );
}

/// Warm invocations of one handler, one after another: each handler subsegment carries its
/// own start annotations and those its handler added, whatever the one before did (the start
/// annotations of the one before are kept for it when they are the same).
#[tokio::test]
async fn each_invocation_carries_its_own_start_annotations() {
    let (layer, sink) = layer(|b| b);
    let service = layer.without_response_capture().layer(service_fn(
        |event: LambdaEvent<Value>| async move {
            let mut results = Vec::new();
            match event.payload["do"].as_str() {
                Some("add") => results.push(xray::try_annotate("tier", "gold")),
                Some("replace") => results.push(xray::try_annotate("ColdStart", "replaced")),
                Some("fill") => {
                    // ColdStart, StartKind and Service count: 47 more fit in X-Ray's 50.
                    for i in 0..48 {
                        results.push(xray::try_annotate(format!("key_{i}"), i));
                    }
                }
                _ => {}
            }
            Ok::<_, Error>(results)
        },
    ));
    let start = json!({ "ColdStart": false, "StartKind": "warm", "Service": "payment" });
    let with = |extra: Value| {
        let mut annotations = start.clone();
        annotations
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        annotations
    };
    let steps = [
        (
            "none",
            json!({ "ColdStart": true, "StartKind": "cold", "Service": "payment" }),
        ),
        ("none", start.clone()),
        ("add", with(json!({ "tier": "gold" }))),
        ("none", start.clone()),
        ("replace", with(json!({ "ColdStart": "replaced" }))),
        ("none", start.clone()),
        ("none", start.clone()),
        ("fill", Value::Null),
        ("none", start.clone()),
    ];
    for (round, (action, expected)) in steps.into_iter().enumerate() {
        let mut event = event("1");
        event.payload = json!({ "do": action });
        let results = service.clone().oneshot(event).await.unwrap();
        let handler = &sink.take()[0];
        if action == "fill" {
            assert!(results[..47].iter().all(Result::is_ok), "{results:?}");
            assert!(
                matches!(results[47], Err(XRayError::TooManyAnnotations { .. })),
                "{results:?}"
            );
            assert_eq!(handler["annotations"].as_object().unwrap().len(), 50);
            assert_eq!(handler["annotations"]["StartKind"], "warm");
        } else {
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            assert_eq!(handler["annotations"], expected, "round {round}: {handler}");
        }
    }
}

#[tokio::test]
async fn annotation_rules_are_typed_errors_not_silent_drops() {
    let (layer, sink) = layer(|b| b);
    let service =
        layer
            .without_response_capture()
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                let mut results = vec![
                    xray::try_annotate("bad-key", 1),
                    xray::try_annotate("long", "x".repeat(1001)),
                    xray::try_annotate("nan", f64::NAN),
                    xray::try_add_metadata("AWS.reserved", "x", 1),
                    xray::try_add_metadata("ok", "value", json!({ "a": 1 })),
                ];
                // ColdStart, StartKind and Service already count: 47 more fit in X-Ray's 50.
                for i in 0..47 {
                    results.push(xray::try_annotate(format!("key_{i}"), i));
                }
                results.push(xray::try_annotate("key_47", 47));
                // Replacing the value of an existing annotation is not a new one.
                results.push(xray::try_annotate("key_0", "again"));
                Ok::<_, Error>(results)
            }));
    let results = service.oneshot(event("1")).await.unwrap();
    assert_eq!(
        results[0],
        Err(XRayError::InvalidAnnotationKey {
            key: "bad-key".into()
        })
    );
    assert!(matches!(
        results[1],
        Err(XRayError::AnnotationValueTooLong { length: 1001, .. })
    ));
    assert!(matches!(
        results[2],
        Err(XRayError::NonFiniteAnnotation { .. })
    ));
    assert!(matches!(
        results[3],
        Err(XRayError::ReservedMetadataNamespace { .. })
    ));
    assert_eq!(results[4], Ok(()));
    assert!(results[5..52].iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        results[52],
        Err(XRayError::TooManyAnnotations {
            key: "key_47".into(),
            limit: 50
        })
    );
    assert_eq!(results[53], Ok(()));
    let handler = &sink.take()[0];
    assert_eq!(handler["annotations"].as_object().unwrap().len(), 50);
    assert_eq!(handler["annotations"]["key_0"], "again");
    assert_eq!(handler["metadata"]["ok"]["value"], json!({ "a": 1 }));
    assert!(handler["metadata"].get("AWS.reserved").is_none());
}

#[tokio::test]
async fn a_failure_that_propagates_is_referenced_by_its_ancestors() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let result: Result<(), std::io::Error> = Subsegment::new("outer")
            .instrument_fallible(async {
                Subsegment::new("inner")
                    .instrument_fallible(async { Err(std::io::Error::other("disk full")) })
                    .await
            })
            .await;
        result.map_err(Error::from)?;
        Ok::<Value, Error>(Value::Null)
    }));
    assert!(service.oneshot(event("1")).await.is_err());
    let documents = sink.take();
    assert_eq!(documents.len(), 3);
    let (inner, outer, handler) = (
        named(&documents, "inner"),
        named(&documents, "outer"),
        named(&documents, "## checkout"),
    );
    let exception = &inner["cause"]["exceptions"][0];
    assert_eq!(exception["message"], "disk full");
    assert_eq!(inner["fault"], true);
    assert_eq!(outer["fault"], true);
    assert_eq!(
        outer["cause"], exception["id"],
        "the outer one references the exception"
    );
    assert_eq!(handler["fault"], true);
    assert_eq!(handler["cause"], exception["id"]);
    assert_eq!(
        handler["metadata"]["payment"]["checkout error"],
        json!({ "type": "lambda_runtime::Error", "message": "disk full" })
    );
    assert_eq!(inner["parent_id"], outer["id"]);
    assert_eq!(outer["parent_id"], handler["id"]);
}

/// An error that wraps another, as the AWS SDK's `service error` wraps what the service said.
#[derive(Debug)]
struct ServiceError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("service error")
    }
}

impl std::error::Error for ServiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The same failure propagating out of a nested subsegment is referenced by the handler also
/// when the error has a source: the subsegment describes it by its `Display`, the handler
/// with its sources, and the handler's text beginning with the subsegment's is the same
/// failure (found by review: the handler recorded a second exception).
#[tokio::test]
async fn a_propagated_error_with_a_source_is_still_referenced() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let result: Result<(), ServiceError> = Subsegment::new("s3")
            .instrument_fallible(async { Err(ServiceError("NoSuchKey".into())) })
            .await;
        result.map_err(Error::from)?;
        Ok::<Value, Error>(Value::Null)
    }));
    assert!(service.oneshot(event("1")).await.is_err());
    let documents = sink.take();
    let (s3, handler) = (named(&documents, "s3"), named(&documents, "## checkout"));
    let exception = &s3["cause"]["exceptions"][0];
    assert_eq!(exception["message"], "service error");
    assert_eq!(
        handler["cause"], exception["id"],
        "s3: {s3}\nhandler: {handler}"
    );
    assert_eq!(
        handler["metadata"]["payment"]["checkout error"]["message"],
        "service error: NoSuchKey"
    );
}

/// What a wrapping error's sources say is in the handler's exception and captured error: its
/// own message (`service error`) tells nothing.
#[tokio::test]
async fn a_handler_error_is_described_with_its_sources() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let cause = ServiceError("NoSuchKey: the key does not exist".into());
        Err::<Value, Error>(Box::new(cause))
    }));
    assert!(service.oneshot(event("1")).await.is_err());
    let handler = &sink.take()[0];
    let described = "service error: NoSuchKey: the key does not exist";
    assert_eq!(handler["cause"]["exceptions"][0]["message"], described);
    assert_eq!(
        handler["metadata"]["payment"]["checkout error"],
        json!({ "type": "lambda_runtime::Error", "message": described })
    );
}

#[tokio::test]
async fn closures_and_panics_in_nested_subsegments() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let sum = Subsegment::new("sum").in_scope(|| {
            xray::annotate("inside", true);
            1 + 1
        });
        let parsed = Subsegment::new("parse").in_scope_fallible(|| "x".parse::<u8>());
        let panicked =
            std::panic::catch_unwind(|| Subsegment::new("explodes").in_scope(|| panic!("kaboom")));
        Ok::<_, Error>(
            json!({ "sum": sum, "parsed": parsed.is_ok(), "panicked": panicked.is_err() }),
        )
    }));
    let response = service.oneshot(event("1")).await.unwrap();
    assert_eq!(
        response,
        json!({ "sum": 2, "parsed": false, "panicked": true })
    );
    let documents = sink.take();
    assert_eq!(named(&documents, "sum")["annotations"]["inside"], true);
    assert!(
        named(&documents, "## checkout")["annotations"]
            .get("inside")
            .is_none()
    );
    let parse = named(&documents, "parse");
    assert_eq!(parse["fault"], true);
    assert_eq!(parse["cause"]["exceptions"][0]["type"], "ParseIntError");
    let explodes = named(&documents, "explodes");
    assert_eq!(explodes["cause"]["exceptions"][0]["type"], "panic");
    assert_eq!(explodes["cause"]["exceptions"][0]["message"], "kaboom");
    assert!(named(&documents, "## checkout").get("fault").is_none());
}

#[tokio::test]
async fn concurrent_nested_subsegments_keep_their_own_parents() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let branch = |name: &'static str| {
            xray::in_subsegment(name, async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                xray::annotate("branch", name);
                xray::in_subsegment(format!("{name}_child"), async {}).await;
            })
        };
        tokio::join!(branch("left"), branch("right"));
        Ok::<_, Error>(Value::Null)
    }));
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    let handler = named(&documents, "## checkout");
    for side in ["left", "right"] {
        let branch = named(&documents, side);
        assert_eq!(branch["parent_id"], handler["id"]);
        assert_eq!(branch["annotations"]["branch"], side);
        assert_eq!(
            named(&documents, &format!("{side}_child"))["parent_id"],
            branch["id"]
        );
    }
}

#[tokio::test]
async fn unsampled_invocations_record_nothing_and_accept_every_call() {
    let (layer, sink) = layer(|b| b);
    let service =
        layer
            .without_response_capture()
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                let recording = xray::is_recording();
                let annotated = xray::try_annotate("fine", 1);
                let nested = xray::in_subsegment("nested", async { 5 }).await;
                Ok::<_, Error>((recording, annotated, nested))
            }));
    let (recording, annotated, nested) = service.oneshot(event("0")).await.unwrap();
    assert!(!recording);
    assert_eq!(annotated, Ok(()));
    assert_eq!(nested, 5);
    assert!(sink.take().is_empty());
    assert_eq!(
        xray::try_annotate("outside", 1),
        Err(XRayError::NoInvocation)
    );
}

/// Work on a plain `tokio::spawn` task carries no invocation: a subsegment it opens records
/// nothing, and that is counted as an annotation there is, not dropped silently.
#[tokio::test]
async fn a_subsegment_where_no_invocation_is_current_is_counted_as_an_annotation_is() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        tokio::spawn(async {
            xray::in_subsegment("lost", async {}).await;
            Subsegment::new("lost too").in_scope(|| ());
        })
        .await
        .unwrap();
        Ok::<_, Error>(Value::Null)
    }));
    service.clone().oneshot(event("1")).await.unwrap();
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    assert!(
        documents
            .iter()
            .all(|document| document["name"] == "## checkout"),
        "{documents:#?}"
    );
    assert_eq!(
        documents[1]["metadata"]["lambda_perf"]["dropped"]["xray.no_invocation"], 2,
        "{documents:#?}"
    );
}

#[tokio::test]
async fn capture_switches_and_limit() {
    let (switched, sink) = layer(|b| b.capture_response(false).capture_error(false));
    let service = switched.layer(service_fn(|event: LambdaEvent<Value>| async move {
        if event.payload.is_null() {
            return Err::<Value, Error>("failed".into());
        }
        Ok(json!({ "big": "x" }))
    }));
    service.clone().oneshot(event("1")).await.unwrap();
    let mut failing = event("1");
    failing.payload = Value::Null;
    service.oneshot(failing).await.unwrap_err();
    let documents = sink.take();
    assert!(
        documents[0]["metadata"].get("payment").is_none(),
        "no response"
    );
    assert_eq!(
        documents[1]["fault"], true,
        "fault and cause stay without error capture"
    );
    let exception = &documents[1]["cause"]["exceptions"][0];
    assert!(
        exception.get("message").is_none(),
        "no message without error capture: {exception}"
    );
    assert!(exception["type"].is_string(), "the type stays: {exception}");
    assert!(
        documents[1]["metadata"].get("payment").is_none(),
        "no error metadata"
    );

    let (limited, sink) = layer(|b| b.capture_limit(64));
    let service = limited.layer(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "blob": "y".repeat(500) }))
    }));
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    let captured = &documents[0]["metadata"]["payment"]["checkout response"];
    assert_eq!(captured["lambda_perf_truncated"]["size_bytes"], 511);
    assert!(
        captured["lambda_perf_truncated"]["preview"]
            .as_str()
            .unwrap()
            .len()
            <= 64
    );
}

#[tokio::test]
async fn large_documents_are_trimmed_to_one_datagram() {
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = daemon.local_addr().unwrap();
    let markers = tempfile::tempdir().unwrap();
    let layer = daemon_layer(&markers, |builder| {
        builder.xray_daemon_address(format!("tcp:127.0.0.1:1 udp:{address}"))
    });
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        xray::add_metadata("big", "blob", "z".repeat(100_000));
        xray::annotate("kept", "yes");
        Ok::<_, Error>(Value::Null)
    }));
    service.oneshot(event("1")).await.unwrap();
    let (length, datagram) = received(&daemon);
    assert!(length <= 64_000, "{length}");
    assert_eq!(datagram["annotations"]["kept"], "yes");
    assert!(datagram["metadata"]["lambda_perf"]["trimmed"].is_string());
    assert!(datagram["metadata"].get("big").is_none());
    the_next_handler_subsegment_counts_one_trim(&layer, &daemon).await;
}

/// Many errors recorded on the handler subsegment, too many for a datagram, cost the
/// exceptions past the first ten, not the annotations traces are filtered on; the trim is
/// counted.
#[tokio::test]
async fn many_recorded_errors_keep_the_annotations_and_cut_the_exceptions() {
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = daemon.local_addr().unwrap().to_string();
    let markers = tempfile::tempdir().unwrap();
    let layer = daemon_layer(&markers, |builder| {
        builder
            .service("payment")
            .capture_error(true)
            .xray_daemon_address(address)
    });
    layer
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            xray::annotate("customer_tier", "gold");
            for index in 0..400 {
                xray::record_error(&format!("item {index} failed: {}", "x".repeat(200)));
            }
            Ok::<_, Error>(Value::Null)
        }))
        .oneshot(event("1"))
        .await
        .unwrap();
    let (length, handler) = received(&daemon);
    assert!(length <= 64_000, "{length}");
    // The first nine and the latest, as the record keeps them.
    let messages: Vec<&str> = handler["cause"]["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|exception| exception["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 10);
    assert!(messages[8].starts_with("item 8 failed"), "{messages:?}");
    assert!(messages[9].starts_with("item 399 failed"), "{messages:?}");
    assert_eq!(handler["annotations"]["customer_tier"], "gold", "{handler}");
    assert_eq!(handler["annotations"]["Service"], "payment", "{handler}");
    assert!(
        handler["annotations"]["ColdStart"].is_boolean(),
        "{handler}"
    );
    assert!(handler["metadata"]["lambda_perf"]["trimmed"].is_string());
    the_next_handler_subsegment_counts_one_trim(&layer, &daemon).await;
}

/// A handler subsegment whose datagram could not be sent (the daemon was gone) takes nothing
/// with it: the drops it reported are reported again by the next one that gets out.
#[tokio::test]
async fn drops_reported_by_an_unsent_handler_subsegment_are_reported_by_the_next() {
    unsent_drops_come_back(|builder, address| builder.xray_daemon_address(address)).await;
}

/// The same with the daemon's sink given in code: it is the daemon output the layer would
/// make, which knows whether each datagram went out.
#[tokio::test]
async fn drops_reported_by_a_subsegment_the_daemon_sink_given_in_code_could_not_send_come_back() {
    unsent_drops_come_back(|builder, address| builder.xray_sink(xray::UdpDaemonSink::new(address)))
        .await;
}

/// Sends three handler subsegments to a daemon at an address that `to_daemon` gives the
/// builder: gone for the first two, back for the third, which reports the drops the second
/// reported as well as the failed send.
async fn unsent_drops_come_back(
    to_daemon: impl FnOnce(PerfLayerBuilder, String) -> PerfLayerBuilder,
) {
    let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = gone.local_addr().unwrap();
    drop(gone);
    let markers = tempfile::tempdir().unwrap();
    let layer = daemon_layer(&markers, |builder| to_daemon(builder, address.to_string()));
    let plain = || {
        layer.layer(service_fn(|_: LambdaEvent<Value>| async {
            Ok::<_, Error>(Value::Null)
        }))
    };
    // The first datagram to the closed port goes out and draws the "port unreachable" that
    // fails the next send: the one whose subsegment reports the invalid annotation key.
    plain().oneshot(event("1")).await.unwrap();
    layer
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            xray::annotate("bad key", 1);
            Ok::<_, Error>(Value::Null)
        }))
        .oneshot(event("1"))
        .await
        .unwrap();
    let daemon = std::net::UdpSocket::bind(address).unwrap();
    plain().oneshot(event("1")).await.unwrap();
    let (_, datagram) = received(&daemon);
    assert_eq!(
        datagram["metadata"]["lambda_perf"]["dropped"],
        json!({ "xray.invalid_annotation_key": 1, "xray.send_failed": 1 }),
        "{datagram}"
    );
}

/// A handler subsegment too large for a datagram even shortened, its exceptions and `aws`
/// cut, goes out as a skeleton, without lambda-perf's facts: the drops those facts reported
/// did not get out with it, and the next handler subsegment reports them.
#[tokio::test]
async fn drops_reported_by_a_handler_subsegment_sent_as_a_skeleton_are_reported_by_the_next() {
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = daemon.local_addr().unwrap().to_string();
    let markers = tempfile::tempdir().unwrap();
    let layer = daemon_layer(&markers, |builder| {
        builder.capture_error(true).xray_daemon_address(address)
    });
    // Annotations of the longest keys, with values each character of which is escaped in
    // six bytes: more than a shortened document holds in 64 000 bytes.
    layer
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            xray::annotate("bad key", 1);
            for index in 0..45 {
                xray::annotate(format!("{index:0>500}"), "\u{1}".repeat(1_000));
            }
            Ok::<_, Error>(Value::Null)
        }))
        .oneshot(event("1"))
        .await
        .unwrap();
    let (_, skeleton) = received(&daemon);
    assert!(
        skeleton["metadata"]["lambda_perf"]["trimmed"].is_string(),
        "{skeleton}"
    );
    assert!(
        skeleton["metadata"]["lambda_perf"].get("dropped").is_none(),
        "{skeleton}"
    );
    layer
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            Ok::<_, Error>(Value::Null)
        }))
        .oneshot(event("1"))
        .await
        .unwrap();
    let (_, next) = received(&daemon);
    assert_eq!(
        next["metadata"]["lambda_perf"]["dropped"]["xray.invalid_annotation_key"], 1,
        "{next}"
    );
}

/// Errors recorded in a loop do not grow a subsegment without bound: past 1,000 exceptions,
/// each new one takes the place of the latest before it, so the first ones and the latest are
/// kept, and each one replaced is counted.
#[tokio::test]
async fn errors_recorded_in_a_loop_keep_the_first_and_the_latest_and_count_the_rest() {
    let (layer, sink) = layer(|b| b);
    layer
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            for index in 0..1_005 {
                xray::record_error(&format!("e{index}"));
            }
            Ok::<_, Error>(Value::Null)
        }))
        .oneshot(event("1"))
        .await
        .unwrap();
    let handler = sink.named("## checkout").unwrap();
    let exceptions = handler["cause"]["exceptions"].as_array().unwrap();
    let messages: Vec<&str> = exceptions
        .iter()
        .map(|exception| exception["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 1_000);
    assert_eq!(messages[..2], ["e0", "e1"]);
    assert_eq!(messages[998..], ["e998", "e1004"]);
    assert_eq!(
        handler["metadata"]["lambda_perf"]["dropped"]["xray.exception_replaced"], 5,
        "{}",
        handler["metadata"]
    );
}

/// A layer that traces to the X-Ray daemon, its environment markers in `markers`, set up
/// further (where to send) by `configure`.
fn daemon_layer(
    markers: &tempfile::TempDir,
    configure: impl FnOnce(PerfLayerBuilder) -> PerfLayerBuilder,
) -> PerfLayer {
    let builder = PerfLayer::builder()
        .handler_name("checkout")
        .metrics_disabled(true)
        .trace_disabled(false)
        .marker_dir(markers.path());
    configure(builder).build().unwrap()
}

/// A service named `AWS.…` (a valid `service` dimension) names no metadata namespace: X-Ray
/// reserves those (`xray::try_add_metadata` refuses them). The captured response and error
/// are left out of the handler subsegment, counted there, with a warning at setup.
#[tokio::test]
async fn a_service_x_ray_reserves_as_a_namespace_captures_nothing_and_counts_it() {
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let markers = tempfile::tempdir().unwrap();
    let layer = daemon_layer(&markers, |builder| {
        builder
            .service("AWS.orders")
            .capture_response(true)
            .capture_error(true)
            .xray_daemon_address(daemon.local_addr().unwrap().to_string())
    });
    let mut handlers = Vec::new();
    for _ in 0..2 {
        let answered = layer
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                Ok::<_, Error>(json!({ "statusCode": 200 }))
            }))
            .oneshot(event("1"))
            .await
            .unwrap();
        assert_eq!(answered, json!({ "statusCode": 200 }));
        handlers.push(received(&daemon).1);
    }
    for handler in &handlers {
        let namespaces: Vec<&String> = handler["metadata"].as_object().unwrap().keys().collect();
        assert_eq!(namespaces, ["lambda_perf"], "{handler}");
    }
    let dropped = &handlers[1]["metadata"]["lambda_perf"]["dropped"];
    assert_eq!(dropped["xray.reserved_metadata_namespace"], 1, "{dropped}");
}

/// A trim is counted in the next handler subsegment: one more invocation through `layer`,
/// whose datagram `daemon` receives.
async fn the_next_handler_subsegment_counts_one_trim(
    layer: &PerfLayer,
    daemon: &std::net::UdpSocket,
) {
    layer
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            Ok::<_, Error>(Value::Null)
        }))
        .oneshot(event("1"))
        .await
        .unwrap();
    let (_, next) = received(daemon);
    assert_eq!(
        next["metadata"]["lambda_perf"]["dropped"],
        json!({ "xray.subsegment_trimmed": 1 }),
        "{next}"
    );
}

/// The next datagram `daemon` receives (within 5 s): its length and its document.
fn received(daemon: &std::net::UdpSocket) -> (usize, Value) {
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buffer = vec![0; 70_000];
    let length = daemon.recv(&mut buffer).unwrap();
    (length, lambda_perf_local_parse(&buffer[..length]))
}

/// Header line, then the document.
fn lambda_perf_local_parse(datagram: &[u8]) -> Value {
    let newline = datagram.iter().position(|&b| b == b'\n').unwrap();
    assert_eq!(&datagram[..newline], br#"{"format":"json","version":1}"#);
    serde_json::from_slice(&datagram[newline + 1..]).unwrap()
}

mod spans {
    //! `XRayLayer`: spans as subsegments, with the links a user expects.

    use super::*;
    use lambda_perf_core::InitBuilder;
    use lambda_perf_core::test_util::CapturedLines;
    use lambda_perf_core::xray::{Http, XRayLayer};
    use tracing::Instrument;
    use tracing_subscriber::layer::SubscriberExt;

    fn subscriber() -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::registry().with(XRayLayer::new())
    }

    struct PanickingDebug;

    impl std::fmt::Debug for PanickingDebug {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("this Debug panics")
        }
    }

    struct FailingDebug;

    impl std::fmt::Debug for FailingDebug {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }

    /// `set_http_status` where no HTTP call's subsegment is current — in a span inside it (an
    /// `#[instrument]`ed send function, say), or outside any — records nothing there and
    /// marks no other subsegment, and each such status is counted.
    #[tokio::test]
    async fn an_http_status_that_lands_nowhere_is_counted() {
        let _default = tracing::subscriber::set_default(subscriber());
        let (layer, sink) = layer(|b| b);
        let handler = service_fn(|_: LambdaEvent<Value>| async {
            Subsegment::new("users-api")
                .http(Http::request("GET", "https://users.example/u/1"))
                .instrument(
                    async { xray::set_http_status(503) }.instrument(tracing::info_span!("send")),
                )
                .await;
            xray::set_http_status(500);
            Ok::<_, Error>(json!("answer"))
        });
        layer.layer(handler).oneshot(event("1")).await.unwrap();
        let documents = sink.take();
        assert!(named(&documents, "users-api").get("fault").is_none());
        assert!(named(&documents, "send").get("fault").is_none());
        let counted: u64 = documents
            .iter()
            .filter_map(|document| {
                document["metadata"]["lambda_perf"]["dropped"]["xray.http_status_unrecorded"]
                    .as_u64()
            })
            .sum();
        assert_eq!(counted, 2, "{documents:#?}");
    }

    /// A span field whose `Debug` returns an error is described as that without a panic:
    /// the panic hook does not run (it would print a crash in the function's logs, and
    /// `panic = "abort"` would end the process).
    #[tokio::test]
    async fn a_span_field_whose_debug_returns_an_error_raises_no_panic() {
        static HOOK_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let _default = tracing::subscriber::set_default(subscriber());
        let (layer, sink) = layer(|b| b);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {
            HOOK_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        let response = layer
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                async {}
                    .instrument(tracing::info_span!("fails", detail = ?FailingDebug))
                    .await;
                Ok::<_, Error>(json!("answer"))
            }))
            .oneshot(event("1"))
            .await;
        std::panic::set_hook(previous);
        assert_eq!(response.unwrap(), json!("answer"));
        let documents = sink.take();
        let described = &named(&documents, "fails")["metadata"]["tracing"]["detail"];
        assert_eq!(described, "<formatting failed>");
        assert_eq!(HOOK_CALLS.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    /// A span field (or an `ERROR` event's field) whose `Debug` panics or returns an error
    /// (which `format!` turns into a panic) is described as such: the layer formatting it
    /// does not turn it into a panic of the handler, whose answer stays as it was.
    #[tokio::test]
    async fn a_span_field_whose_debug_fails_is_described_not_a_panic_of_the_handler() {
        let _default = tracing::subscriber::set_default(subscriber());
        let (layer, sink) = layer(|b| b);
        let response = layer
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                async {}
                    .instrument(tracing::info_span!("panics", detail = ?PanickingDebug))
                    .await;
                async {}
                    .instrument(tracing::info_span!("fails", annotation.detail = ?FailingDebug))
                    .await;
                async { tracing::error!(error = ?FailingDebug, "failed") }
                    .instrument(tracing::info_span!("event"))
                    .await;
                Ok::<_, Error>(json!("answer"))
            }))
            .oneshot(event("1"))
            .await;
        assert_eq!(response.unwrap(), json!("answer"));
        let documents = sink.take();
        let described = &named(&documents, "panics")["metadata"]["tracing"]["detail"];
        assert!(
            described.as_str().unwrap().contains("this Debug panics"),
            "{described}"
        );
        assert!(named(&documents, "fails")["annotations"]["detail"].is_string());
        assert_eq!(named(&documents, "event")["fault"], true);
    }

    /// The documents one sampled invocation of `handler` sends, behind the test layer, with
    /// `XRayLayer` the default subscriber while it runs.
    async fn documents_of<F, Fut>(handler: F) -> Vec<Value>
    where
        F: FnMut(LambdaEvent<Value>) -> Fut,
        Fut: std::future::Future<Output = Result<Value, Error>>,
    {
        let _default = tracing::subscriber::set_default(subscriber());
        let (layer, sink) = layer(|b| b);
        layer
            .layer(service_fn(handler))
            .oneshot(event("1"))
            .await
            .unwrap();
        sink.take()
    }

    #[tokio::test]
    async fn spans_nest_in_the_subsegment_around_them_and_call_is_inside_the_invocation() {
        // The span is opened by the service's `call` itself, around the handler's future.
        let documents = documents_of(|_: LambdaEvent<Value>| {
            async {
                Subsegment::new("outer_subsegment")
                    .instrument(async {
                        // Opened inside the subsegment, inside the span around it all.
                        async {
                            xray::annotate("inner", true);
                        }
                        .instrument(tracing::info_span!("inner_span"))
                        .await;
                    })
                    .await;
                tracing::debug_span!("debug_span").in_scope(|| ());
                Ok::<_, Error>(Value::Null)
            }
            .instrument(tracing::info_span!("call_span"))
        })
        .await;
        let handler = named(&documents, "## checkout");
        let call_span = named(&documents, "call_span");
        let outer = named(&documents, "outer_subsegment");
        let inner = named(&documents, "inner_span");
        assert_eq!(call_span["parent_id"], handler["id"]);
        assert_eq!(outer["parent_id"], call_span["id"]);
        assert_eq!(inner["parent_id"], outer["id"], "not the enclosing span");
        assert_eq!(inner["annotations"]["inner"], true);
        assert!(
            documents.iter().all(|doc| doc["name"] != "debug_span"),
            "DEBUG spans are not recorded by default"
        );
    }

    /// `InitBuilder::layer` includes an X-Ray layer; another added by hand beside it (as
    /// `XRayLayer`'s docs show one added to a registry) opens no second subsegment for a span
    /// the first records, and the handler's answer and log lines are kept. The one added by
    /// hand still records the spans only it takes (`DEBUG` ones here).
    #[tokio::test]
    async fn a_second_xray_layer_records_only_the_spans_the_first_leaves() {
        let lines = CapturedLines::new();
        let init_layers = InitBuilder::from_env()
            .log_writer(lines.clone())
            .layer()
            .unwrap();
        let _default = tracing::subscriber::set_default(
            tracing_subscriber::registry()
                .with(init_layers)
                .with(XRayLayer::new().with_max_level(tracing::Level::DEBUG)),
        );
        let (layer, sink) = layer(|b| b);
        let response = layer
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                let work = tracing::info_span!("work", annotation.step = 1);
                let _entered = work.enter();
                tracing::info!("inside");
                tracing::debug_span!("detail").in_scope(|| ());
                Ok::<_, Error>(json!("answer"))
            }))
            .oneshot(event("1"))
            .await
            .unwrap();
        assert_eq!(response, json!("answer"));
        let documents = sink.take();
        let named_work: Vec<_> = documents
            .iter()
            .filter(|doc| doc["name"] == "work")
            .collect();
        assert_eq!(named_work.len(), 1, "{documents:#?}");
        assert_eq!(named_work[0]["annotations"]["step"], 1);
        let detail = named(&documents, "detail");
        assert_eq!(detail["parent_id"], named_work[0]["id"]);
        let written = lines.lines();
        assert_eq!(written.len(), 1, "{}", lines.text());
        assert_eq!(written[0]["message"], "inside");
        assert_eq!(written[0]["function_request_id"], "req-1");
    }

    /// With the log lines at `DEBUG`, a `debug_span!` carries the invocation into a plain
    /// `tokio::spawn`ed future, standing where it was made, yet opens no subsegment of its
    /// own: a span opened inside it nests in the subsegment around the `debug_span!`.
    #[tokio::test]
    async fn a_debug_span_carries_the_invocation_and_opens_no_subsegment() {
        let layers = InitBuilder::from_env()
            .log_level(tracing::Level::DEBUG)
            .log_writer(std::io::sink())
            .layer()
            .unwrap();
        let _default =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(layers));
        let (layer, sink) = layer(|b| b);
        layer
            .layer(service_fn(|_: LambdaEvent<Value>| {
                async {
                    let detail = tracing::debug_span!("detail");
                    tokio::spawn(
                        async { tracing::info_span!("inner").in_scope(|| ()) }.instrument(detail),
                    )
                    .await?;
                    Ok::<_, Error>(Value::Null)
                }
                .instrument(tracing::info_span!("outer"))
            }))
            .oneshot(event("1"))
            .await
            .unwrap();
        let documents = sink.take();
        assert!(
            documents.iter().all(|doc| doc["name"] != "detail"),
            "{documents:#?}"
        );
        let inner = named(&documents, "inner");
        assert_eq!(inner["parent_id"], named(&documents, "outer")["id"]);
    }

    /// With the log lines at `DEBUG`, `InitBuilder::layer`'s X-Ray layer only carries a
    /// `debug_span!`; an X-Ray layer added beside it that records `DEBUG` spans records it,
    /// once, and the span still carries the invocation to the lines inside it.
    #[tokio::test]
    async fn a_second_xray_layer_records_a_span_the_first_only_carries() {
        let lines = CapturedLines::new();
        let init_layers = InitBuilder::from_env()
            .log_level(tracing::Level::DEBUG)
            .log_writer(lines.clone())
            .layer()
            .unwrap();
        let _default = tracing::subscriber::set_default(
            tracing_subscriber::registry()
                .with(init_layers)
                .with(XRayLayer::new().with_max_level(tracing::Level::DEBUG)),
        );
        let (layer, sink) = layer(|b| b);
        layer
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                tokio::spawn(
                    async { tracing::info!("in detail") }
                        .instrument(tracing::debug_span!("detail")),
                )
                .await?;
                Ok::<_, Error>(Value::Null)
            }))
            .oneshot(event("1"))
            .await
            .unwrap();
        let documents = sink.take();
        let details = documents
            .iter()
            .filter(|doc| doc["name"] == "detail")
            .count();
        assert_eq!(details, 1, "{documents:#?}");
        let written = lines.lines();
        assert_eq!(written.len(), 1, "{}", lines.text());
        assert_eq!(written[0]["function_request_id"], "req-1");
    }

    /// A span entered on a thread that runs no invocation's task (work handed to a thread of
    /// its own, in the span) carries the invocation there: what is recorded inside lands on
    /// the span's subsegment.
    #[tokio::test]
    async fn a_span_entered_on_another_thread_carries_its_invocation_there() {
        let documents = documents_of(|_: LambdaEvent<Value>| async {
            let span = tracing::info_span!("offloaded_work");
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    let _entered = span.enter();
                    xray::try_annotate("on_the_thread", true).expect("the span carries it");
                });
            });
            drop(span);
            Ok::<_, Error>(Value::Null)
        })
        .await;
        let offloaded = named(&documents, "offloaded_work");
        assert_eq!(offloaded["annotations"]["on_the_thread"], true);
    }

    /// An `ERROR` event in a span the layer does not record (below its level) faults the
    /// nearest recorded span around it, where a span made there nests: the work failed
    /// inside that subsegment.
    #[tokio::test]
    async fn an_error_in_a_span_not_recorded_faults_its_nearest_recorded_ancestor() {
        let documents = documents_of(|_: LambdaEvent<Value>| async {
            async {
                tracing::debug_span!("debug_detail").in_scope(|| {
                    tracing::error!(error = "card declined", "charging failed");
                });
            }
            .instrument(tracing::info_span!("charge"))
            .await;
            Ok::<_, Error>(Value::Null)
        })
        .await;
        let charge = named(&documents, "charge");
        assert_eq!(charge["fault"], true, "the error is lost: {charge}");
        assert_eq!(
            charge["cause"]["exceptions"][0]["message"], "card declined",
            "{charge}"
        );
    }

    /// An error given as an error (`error = &err as &dyn Error`) to an `ERROR` event or a
    /// span field is its message and its sources'.
    #[tokio::test]
    async fn an_error_field_gives_the_sources_of_its_error() {
        let documents = documents_of(|_: LambdaEvent<Value>| async {
            let error = super::ServiceError("throttled".into());
            async {
                tracing::error!(error = &error as &dyn std::error::Error, "charging failed");
            }
            .instrument(tracing::info_span!(
                "charge",
                last = &error as &dyn std::error::Error
            ))
            .await;
            Ok::<_, Error>(Value::Null)
        })
        .await;
        let charge = named(&documents, "charge");
        assert_eq!(
            charge["cause"]["exceptions"][0]["message"], "service error: throttled",
            "{charge}"
        );
        assert_eq!(
            charge["metadata"]["tracing"]["last"], "service error: throttled",
            "{charge}"
        );
    }

    /// A subsegment name X-Ray refuses goes out cleaned to the schema's pattern, and each such
    /// name is counted, in the handler subsegment's drops.
    #[tokio::test]
    async fn a_subsegment_name_x_ray_refuses_is_cleaned_and_counted() {
        let documents = documents_of(|_: LambdaEvent<Value>| async {
            Subsegment::new("GET /users?id=1")
                .instrument(async {})
                .await;
            tracing::info_span!("a;b").in_scope(|| ());
            Subsegment::new("fine name").instrument(async {}).await;
            Ok::<_, Error>(Value::Null)
        })
        .await;
        named(&documents, "GET /usersid=1");
        named(&documents, "ab");
        named(&documents, "fine name");
        let handler = named(&documents, "## checkout");
        assert_eq!(
            handler["metadata"]["lambda_perf"]["dropped"]["xray.subsegment_renamed"], 2,
            "{handler}"
        );
    }

    /// A span's other fields are its subsegment's metadata in the `tracing` namespace, each
    /// with its JSON type. NaN and the infinities, which JSON has no number for, are kept as
    /// their text, as log lines keep them, not made `null`.
    #[tokio::test]
    async fn span_fields_are_metadata_with_non_finite_floats_as_text() {
        let documents = documents_of(|_: LambdaEvent<Value>| async {
            tracing::info_span!(
                "score",
                ratio = 0.5,
                whole = 2.0,
                nan = f64::NAN,
                up = f64::INFINITY,
                down = f64::NEG_INFINITY,
                count = 3_u64,
                name = "gold",
                ok = true,
            )
            .in_scope(|| ());
            Ok::<_, Error>(Value::Null)
        })
        .await;
        let score = named(&documents, "score");
        assert_eq!(
            score["metadata"]["tracing"],
            serde_json::json!({
                "ratio": 0.5,
                "whole": 2.0,
                "nan": "NaN",
                "up": "inf",
                "down": "-inf",
                "count": 3,
                "name": "gold",
                "ok": true,
            }),
            "{score}"
        );
    }

    /// `xray.namespace` takes `aws` or `remote`, the values X-Ray documents: another is left
    /// out, counted and warned of once, rather than ignored.
    #[tokio::test]
    async fn a_span_namespace_x_ray_does_not_know_is_counted_not_ignored() {
        let documents = documents_of(|_: LambdaEvent<Value>| async {
            tracing::info_span!("catalog", xray.namespace = "Remote").in_scope(|| ());
            tracing::info_span!("users", xray.namespace = "remote").in_scope(|| ());
            Ok::<_, Error>(Value::Null)
        })
        .await;
        assert!(named(&documents, "catalog").get("namespace").is_none());
        assert_eq!(named(&documents, "users")["namespace"], "remote");
        let handler = named(&documents, "## checkout");
        assert_eq!(
            handler["metadata"]["lambda_perf"]["dropped"]["xray.unknown_namespace"], 1,
            "{handler}"
        );
    }

    #[tokio::test]
    async fn spans_exited_out_of_order_leave_the_innermost_still_entered_current() {
        // `tracing` allows guards dropped out of order: `a` exited while `b` (entered inside
        // it) is still entered leaves `b` the current span; `b` exited then leaves none.
        let _default = tracing::subscriber::set_default(subscriber());
        let (layer, sink) = layer(|b| b);
        let service =
            layer
                .without_response_capture()
                .layer(service_fn(|_: LambdaEvent<Value>| async {
                    let a = tracing::info_span!("a").entered();
                    let b = tracing::info_span!("b").entered();
                    drop(a);
                    tracing::info_span!("in_b").in_scope(|| xray::annotate("in_b", true));
                    drop(b);
                    tracing::info_span!("after_both").in_scope(|| ());
                    xray::annotate("after_both", true);
                    Ok::<_, Error>(())
                }));
        service.oneshot(event("1")).await.unwrap();
        let documents = sink.take();
        let handler = named(&documents, "## checkout");
        let b = named(&documents, "b");
        assert_eq!(
            named(&documents, "in_b")["parent_id"],
            b["id"],
            "{documents:#?}"
        );
        assert_eq!(
            named(&documents, "after_both")["parent_id"],
            handler["id"],
            "{documents:#?}"
        );
        assert_eq!(handler["annotations"]["after_both"], true, "{documents:#?}");
    }

    #[tokio::test]
    async fn a_span_whose_explicit_parent_is_not_recorded_nests_in_its_nearest_recorded_ancestor() {
        let _default = tracing::subscriber::set_default(subscriber());
        let (layer, sink) = layer(|b| b);
        // Made at init, outside any invocation: recorded nowhere.
        let app = tracing::info_span!("app");
        let service =
            layer
                .without_response_capture()
                .layer(service_fn(move |_: LambdaEvent<Value>| {
                    let app = app.clone();
                    async move {
                        tracing::info_span!(parent: &app, "request").in_scope(|| {
                            let outer = tracing::info_span!("outer");
                            // Below the level recorded (INFO): not a subsegment of its own.
                            let detail = tracing::debug_span!(parent: &outer, "detail");
                            tracing::info_span!(parent: &detail, "leaf").in_scope(|| ());
                        });
                        Ok::<_, Error>(())
                    }
                }));
        service.oneshot(event("1")).await.unwrap();
        let documents = sink.take();
        let handler = named(&documents, "## checkout");
        let request = named(&documents, "request");
        assert_eq!(request["parent_id"], handler["id"], "{documents:#?}");
        let outer = named(&documents, "outer");
        assert_eq!(outer["parent_id"], request["id"], "{documents:#?}");
        assert_eq!(
            named(&documents, "leaf")["parent_id"],
            outer["id"],
            "{documents:#?}"
        );
        assert!(documents.iter().all(|doc| doc["name"] != "detail"));
    }

    /// A span whose explicit parent is `tracing::Span::current()` in a handler (its
    /// invocation's own span) nests in the handler's subsegment, as one whose parent is a span
    /// the handler made nests in that span's: also where it is made inside another span, and
    /// where it is made on a task of its own.
    #[tokio::test]
    async fn a_span_whose_explicit_parent_is_the_handlers_current_span_nests_in_the_handler() {
        let _default = tracing::subscriber::set_default(subscriber());
        let (layer, sink) = layer(|b| b);
        let service =
            layer
                .without_response_capture()
                .layer(service_fn(|_: LambdaEvent<Value>| async {
                    let invocation = tracing::Span::current();
                    tracing::info_span!("outer").in_scope(|| {
                        tracing::info_span!(parent: &invocation, "sibling").in_scope(|| ());
                    });
                    let parent = invocation.clone();
                    let dispatch = tracing::dispatcher::get_default(Clone::clone);
                    std::thread::spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            tracing::info_span!(parent: &parent, "elsewhere")
                                .in_scope(|| xray::try_annotate("elsewhere", true).unwrap());
                        });
                    })
                    .join()
                    .unwrap();
                    Ok::<_, Error>(())
                }));
        service.oneshot(event("1")).await.unwrap();
        let documents = sink.take();
        let handler = named(&documents, "## checkout");
        assert_eq!(
            named(&documents, "sibling")["parent_id"],
            handler["id"],
            "{documents:#?}"
        );
        let elsewhere = named(&documents, "elsewhere");
        assert_eq!(elsewhere["parent_id"], handler["id"], "{documents:#?}");
        assert_eq!(
            elsewhere["annotations"]["elsewhere"], true,
            "{documents:#?}"
        );
    }

    #[tokio::test]
    async fn a_span_entered_elsewhere_does_not_move_the_current_subsegment() {
        let _default = tracing::subscriber::set_default(subscriber());
        let (layer, sink) = layer(|b| b);
        let service =
            layer
                .without_response_capture()
                .layer(service_fn(|_: LambdaEvent<Value>| async {
                    let shared = tracing::info_span!("shared");
                    let _entered = shared.enter();
                    let elsewhere = shared.clone();
                    std::thread::spawn(move || {
                        let _inside = elsewhere.enter();
                    })
                    .join()
                    .unwrap();
                    drop(_entered);
                    xray::annotate("after_shared", true);
                    Ok::<_, Error>(())
                }));
        service.oneshot(event("1")).await.unwrap();
        let documents = sink.take();
        let handler = named(&documents, "## checkout");
        assert_eq!(
            handler["annotations"]["after_shared"], true,
            "{documents:#?}"
        );
        assert!(
            named(&documents, "shared")["annotations"]
                .get("after_shared")
                .is_none()
        );
    }
}

/// Serializes by panicking.
struct Explosive;

impl serde::Serialize for Explosive {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("cannot serialize this")
    }
}

#[tokio::test]
async fn a_panicking_serialize_does_not_change_the_answer() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(Explosive)
    }));
    let answer = tokio::spawn(service.oneshot(event("1"))).await;
    assert!(
        matches!(answer, Ok(Ok(Explosive))),
        "the handler's Ok reaches the runtime"
    );
    let documents = sink.take();
    assert_eq!(documents.len(), 1, "the subsegment is still sent");
    assert!(
        documents[0]["metadata"]["payment"]
            .get("checkout response")
            .is_none()
    );
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct PanickingDisplay;

impl std::fmt::Display for PanickingDisplay {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("cannot display this")
    }
}

/// The subsegment `name` among `documents`, faulted by an error whose description panicked.
fn faulted_by_a_panicking_description<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    let call = named(documents, name);
    assert_eq!(call["fault"], true, "{call}");
    let exception = &call["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "unknown", "{call}");
    assert!(
        exception["message"]
            .as_str()
            .unwrap()
            .contains("cannot display this"),
        "{call}"
    );
    call
}

/// A fallible future's `Err` whose `Display` panics reaches the handler as it is, and the
/// subsegment closes when the future does, faulted by a description saying so.
#[tokio::test]
async fn a_fallible_future_whose_error_display_panics_returns_the_error() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let result = Subsegment::new("call")
            .instrument_fallible(async { Err::<(), _>(PanickingDisplay) })
            .await;
        let handled = matches!(result, Err(PanickingDisplay));
        // Work after the call, outside its subsegment.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok::<_, Error>(json!({ "handled": handled }))
    }));
    let answer = tokio::spawn(service.oneshot(event("1"))).await;
    assert_eq!(answer.unwrap().unwrap(), json!({ "handled": true }));
    let documents = sink.take();
    let call = faulted_by_a_panicking_description(&documents, "call");
    let handler = named(&documents, "## checkout");
    let (call_end, handler_end) = (
        call["end_time"].as_f64().unwrap(),
        handler["end_time"].as_f64().unwrap(),
    );
    assert!(
        handler_end - call_end >= 0.04,
        "the call ended with the handler: {call_end} {handler_end}"
    );
}

/// The same with a closure.
#[tokio::test]
async fn a_fallible_closure_whose_error_display_panics_returns_the_error() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let result = Subsegment::new("call").in_scope_fallible(|| Err::<(), _>(PanickingDisplay));
        Ok::<_, Error>(json!({ "handled": matches!(result, Err(PanickingDisplay)) }))
    }));
    let answer = tokio::spawn(service.oneshot(event("1"))).await;
    assert_eq!(answer.unwrap().unwrap(), json!({ "handled": true }));
    faulted_by_a_panicking_description(&sink.take(), "call");
}

/// `xray::record_error` of an error whose `Display` panics records a description saying so,
/// and the handler goes on to its answer.
#[tokio::test]
async fn recording_an_error_whose_display_panics_records_that_and_goes_on() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        Subsegment::new("call").in_scope(|| xray::record_error(&PanickingDisplay));
        Ok::<_, Error>(json!({ "recovered": true }))
    }));
    let answer = tokio::spawn(service.oneshot(event("1"))).await;
    assert_eq!(answer.unwrap().unwrap(), json!({ "recovered": true }));
    faulted_by_a_panicking_description(&sink.take(), "call");
}

#[tokio::test]
async fn an_http_status_lands_on_the_http_call_and_nowhere_else() {
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        Subsegment::new("outer")
            .instrument(async {
                Subsegment::new("users-api")
                    .http(xray::Http::request("GET", "https://users.example.com/1"))
                    .instrument(async { xray::set_http_status(503) })
                    .await;
                // After the call closed: no subsegment of the call is current any more.
                xray::set_http_status(404);
            })
            .await;
        Ok::<_, Error>(Value::Null)
    }));
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    let call = named(&documents, "users-api");
    assert_eq!(call["http"]["response"]["status"], 503);
    assert_eq!(call["fault"], true);
    let outer = named(&documents, "outer");
    assert!(
        outer.get("http").is_none() && outer.get("fault").is_none() && outer.get("error").is_none()
    );
}

/// A response status given with the call (`Http::status`) marks the subsegment as one set
/// inside it (`set_http_status`) does: 4xx `error`, 429 also `throttle`, 5xx `fault`.
#[tokio::test]
async fn an_http_status_given_with_the_call_sets_the_flags_set_http_status_sets() {
    let (layer, sink) = layer(|b| b);
    let statuses = [200, 404, 429, 503];
    let service = layer.layer(service_fn(move |_: LambdaEvent<Value>| async move {
        for status in statuses {
            let http = xray::Http::request("GET", "https://users.example.com/1");
            Subsegment::new(format!("given {status}"))
                .http(http.clone().status(status))
                .instrument(async {})
                .await;
            Subsegment::new(format!("set {status}"))
                .http(http)
                .instrument(async { xray::set_http_status(status) })
                .await;
        }
        Ok::<_, Error>(Value::Null)
    }));
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    let flags = |name: String| {
        let call = named(&documents, &name);
        assert!(call["http"]["response"]["status"].is_u64(), "{call}");
        ["error", "throttle", "fault"].map(|flag| call.get(flag).cloned())
    };
    for status in statuses {
        assert_eq!(
            flags(format!("given {status}")),
            flags(format!("set {status}")),
            "{status}"
        );
    }
    let t = Some(json!(true));
    assert_eq!(flags("given 200".into()), [None, None, None]);
    assert_eq!(flags("given 404".into()), [t.clone(), None, None]);
    assert_eq!(flags("given 429".into()), [t.clone(), t.clone(), None]);
    assert_eq!(flags("given 503".into()), [None, None, t]);
}

#[tokio::test]
async fn a_url_longer_than_x_ray_takes_is_cut_and_counted() {
    let (layer, sink) = layer(|b| b);
    let url = format!("https://search.example.com/?q={}", "ü".repeat(400));
    let service = layer.layer(service_fn(move |_: LambdaEvent<Value>| {
        let url = url.clone();
        async move {
            Subsegment::new("search-api")
                .http(xray::Http::request("GET", url))
                .instrument(async {})
                .await;
            Ok::<_, Error>(Value::Null)
        }
    }));
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    let sent = named(&documents, "search-api")["http"]["request"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sent.chars().count(), 250, "{sent}");
    assert!(
        sent.starts_with("https://search.example.com/?q=üü"),
        "{sent}"
    );
    let handler = named(&documents, "## checkout");
    assert_eq!(
        handler["metadata"]["lambda_perf"]["dropped"]["xray.http_value_cut"], 1,
        "{handler}"
    );
}

#[tokio::test]
async fn an_instrumented_future_whose_drop_panics_closes_its_subsegment_when_dropped() {
    use lambda_perf_core::test_util::{Recorder, event};

    struct Check;
    impl Drop for Check {
        fn drop(&mut self) {
            panic!("a guard's check failed as it was dropped");
        }
    }
    let recorder = Recorder::new();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let check = Check;
        let mut work = Box::pin(Subsegment::new("guarded").instrument(async move {
            let _check = check;
            std::future::pending::<()>().await;
        }));
        let _ = tokio::time::timeout(Duration::from_millis(5), work.as_mut()).await;
        let panicked =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(work))).is_err();
        let dropped_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<_, Error>((panicked, dropped_at))
    });
    let (panicked, dropped_at) = recorder.run(handler, event(json!({}))).await.unwrap();
    assert!(panicked);
    let guarded = recorder.xray().named("guarded").unwrap();
    let end = guarded["end_time"].as_f64().unwrap();
    assert!(
        end <= dropped_at + 0.1,
        "closed when dropped ({dropped_at}), not when the invocation ended: {guarded:#}"
    );
}

/// The segment document schema types the `aws` members X-Ray knows (`operation`, `region`,
/// `table_name`, …) as strings: an `Option` left `None` is left out, as absent, and a value of
/// another type (an account id kept as a number) is written as its JSON text, counted and
/// warned of once, rather than making the whole document one X-Ray refuses.
#[tokio::test]
async fn the_aws_members_x_ray_knows_are_written_as_strings() {
    #[derive(serde::Serialize)]
    struct Call {
        operation: &'static str,
        table_name: Option<&'static str>,
        account_id: u64,
        retries: u32,
    }
    let (layer, sink) = layer(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        Subsegment::new("DynamoDB")
            .namespace(xray::Namespace::Aws)
            .aws(Call {
                operation: "GetItem",
                table_name: None,
                account_id: 123_456_789_012,
                retries: 2,
            })
            .instrument(async {})
            .await;
        // A value that is no object: left out.
        Subsegment::new("S3")
            .namespace(xray::Namespace::Aws)
            .aws(["GetObject"])
            .instrument(async {})
            .await;
        Ok::<_, Error>(Value::Null)
    }));
    service.oneshot(event("1")).await.unwrap();
    let documents = sink.take();
    let call = named(&documents, "DynamoDB");
    assert_eq!(
        call["aws"],
        json!({ "operation": "GetItem", "account_id": "123456789012", "retries": 2 }),
        "{call}"
    );
    let not_an_object = named(&documents, "S3");
    assert!(not_an_object.get("aws").is_none(), "{not_an_object}");
    let handler = named(&documents, "## checkout");
    assert_eq!(
        handler["metadata"]["lambda_perf"]["dropped"],
        json!({ "xray.aws_value_not_a_string": 1, "xray.aws_not_an_object": 1 }),
        "{handler}"
    );
}

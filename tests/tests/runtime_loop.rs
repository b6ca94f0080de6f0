//! The examples under the real `lambda_runtime` loop, served by a loopback Runtime API:
//! start classification across restarts and environments, EMF lines, responses and errors.

mod support;

use lambda_perf_local::emulator::{
    Answer, ExecutionEnvironment, FunctionProcess, InvokeRequest, RuntimeApi,
};
use serde_json::{Value, json};
use support::*;

/// Invokes once, checks the response is exactly what the handler returned, and returns the
/// request id.
async fn order(api: &RuntimeApi, process: &FunctionProcess, quantity: u32) -> String {
    let event = json!({ "order_id": format!("o-{quantity}"), "quantity": quantity });
    let result = process
        .invoke(api, InvokeRequest::json(event))
        .await
        .unwrap();
    let request_id = result.request_id.clone();
    let body = result.into_response().unwrap().to_vec();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        format!(r#"{{"order_id":"o-{quantity}","quantity":{quantity},"status":"accepted"}}"#),
        "the response is exactly what the handler returned"
    );
    request_id
}

/// No stdout line that mentions `_aws` is anything but a well-formed EMF line.
fn assert_no_broken_emf(process: &FunctionProcess) {
    for line in process.output() {
        if line.text.contains("_aws") {
            assert!(line.is_emf(), "a broken EMF line: {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_warm_restart_and_fresh_environment() {
    let api = RuntimeApi::start().await.unwrap();
    let command = workspace_function("basic-layer");
    let config = function_config();
    let environment = ExecutionEnvironment::new().unwrap();

    let mut requests = Vec::new();
    let mut processes = Vec::new();

    // Three invocations, then the runtime process dies abruptly.
    let first = FunctionProcess::spawn(&command, &config, &environment, &api).unwrap();
    for quantity in 1..=3 {
        let id = order(&api, &first, quantity).await;
        end_line(&first, &id).await;
        requests.push(id);
    }
    first.kill().await.unwrap();
    // Its leftover poll must not take the next process's invocations.
    api.retire_connections();
    processes.push((first, 3));

    // The same environment (same TMPDIR): a restart, then warm.
    let second = FunctionProcess::spawn(&command, &config, &environment, &api).unwrap();
    for quantity in 4..=5 {
        let id = order(&api, &second, quantity).await;
        end_line(&second, &id).await;
        requests.push(id);
    }
    second.kill().await.unwrap();
    api.retire_connections();
    processes.push((second, 2));

    // A fresh environment.
    let fresh = ExecutionEnvironment::new().unwrap();
    let third = FunctionProcess::spawn(&command, &config, &fresh, &api).unwrap();
    let id = order(&api, &third, 6).await;
    end_line(&third, &id).await;
    requests.push(id);
    processes.push((third, 1));

    let mut kinds = Vec::new();
    let mut requests = requests.iter();
    for (process, count) in &processes {
        let all = process.emf_lines();
        all.iter().for_each(assert_valid_emf);
        assert_no_broken_emf(process);
        for index in 1..=*count {
            let id = requests.next().unwrap();
            let lines = lines_of(process, id);
            let end = lines.last().unwrap();
            assert_eq!(end["lambda_perf"]["outcome"], "success");
            assert_eq!(end["lambda_perf"]["invocation"], index);
            assert_eq!(end["OrdersPlaced"], json!([1.0]));
            let kind = end["lambda_perf"]["start_kind"]
                .as_str()
                .unwrap()
                .to_owned();
            // A ColdStart line exactly on cold and restart, written before the handler ran.
            let cold_lines: Vec<&Value> = lines.iter().filter(|l| is_cold_start_line(l)).collect();
            let expected_lines = if kind == "cold" || kind == "restart" {
                2
            } else {
                1
            };
            assert_eq!(lines.len(), expected_lines, "{lines:#?}");
            if kind == "cold" || kind == "restart" {
                assert_eq!(cold_lines.len(), 1, "{lines:#?}");
                assert!(is_cold_start_line(&lines[0]), "ColdStart comes first");
                let cold = cold_lines[0];
                assert_eq!(cold["function_name"], "orders-fn");
                assert_eq!(cold["service"], "orders");
                assert_eq!(cold["ColdStart"], json!([1.0]));
                assert!(cold["InitDuration"][0].as_f64().unwrap() > 0.0);
            } else {
                assert!(cold_lines.is_empty(), "{lines:#?}");
            }
            kinds.push(kind);
        }
    }
    assert_eq!(kinds, ["cold", "warm", "warm", "restart", "warm", "cold"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restarted_process_knows_the_environment_age() {
    let api = RuntimeApi::start().await.unwrap();
    let command = workspace_function("basic-layer");
    let environment = ExecutionEnvironment::new().unwrap();
    let first = FunctionProcess::spawn(&command, &function_config(), &environment, &api).unwrap();
    let id = order(&api, &first, 1).await;
    let cold = end_line(&first, &id).await;
    first.kill().await.unwrap();
    api.retire_connections();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let second = FunctionProcess::spawn(&command, &function_config(), &environment, &api).unwrap();
    let id = order(&api, &second, 1).await;
    let restart = end_line(&second, &id).await;
    let facts = &restart["lambda_perf"];
    assert_eq!(facts["start_kind"], "restart");
    let age = facts["environment_age_ms"].as_f64().unwrap();
    let first_age = cold["lambda_perf"]["environment_age_ms"].as_f64().unwrap();
    assert!(
        age >= first_age + 300.0,
        "age {age} after a first age of {first_age}"
    );
    assert!(facts["init_duration_ms"].as_f64().unwrap() < age);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_invocations_report_the_idle_gap() {
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&workspace_function("basic-layer"), &function_config()).await;
    order(&api, &process, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let id = order(&api, &process, 2).await;
    let facts = end_line(&process, &id).await["lambda_perf"].clone();
    let gap = facts["idle_gap_ms"].as_f64().unwrap();
    assert!((250.0..5_000.0).contains(&gap), "idle gap {gap}");
    let headroom = facts["deadline_headroom_ms"].as_f64().unwrap();
    assert!(
        (20_000.0..=30_000.0).contains(&headroom),
        "headroom {headroom}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_flushes_its_metrics_and_reaches_the_runtime() {
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&workspace_function("basic-layer"), &function_config()).await;
    let event = json!({ "order_id": "o-empty", "quantity": 0 });
    let result = process
        .invoke(&api, InvokeRequest::json(event))
        .await
        .unwrap();
    let id = result.request_id.clone();
    match result.answer {
        Answer::Error { error, .. } => {
            assert_eq!(
                error.error_message.as_deref(),
                Some("order o-empty has no items")
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let end = end_line(&process, &id).await;
    assert_valid_emf(&end);
    assert_eq!(end["RejectedOrders"], json!([1.0]));
    assert_eq!(end["lambda_perf"]["outcome"], "error");
    // The cold start was counted although the handler failed.
    assert!(lines_of(&process, &id).iter().any(is_cold_start_line));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_panic_flushes_its_metrics_and_the_runtime_reports_it() {
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&scenario_function(), &function_config()).await;

    let result = process
        .invoke(&api, InvokeRequest::json(json!({ "action": "panic" })))
        .await
        .unwrap();
    let id = result.request_id.clone();
    match &result.answer {
        Answer::Error { error, .. } => {
            let message = error.error_message.as_deref().unwrap_or_default();
            assert!(
                message.contains("the scenario asked for a panic"),
                "{error:?}"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let end = end_line(&process, &id).await;
    assert_valid_emf(&end);
    assert_eq!(end["Attempts"], json!([1.0]));
    assert_eq!(end["lambda_perf"]["outcome"], "panic");

    // The runtime survives the panic: the next invocation is warm and succeeds.
    let result = process
        .invoke(&api, InvokeRequest::json(json!({ "action": "ok" })))
        .await
        .unwrap();
    let id = result.request_id.clone();
    assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
    let end = end_line(&process, &id).await;
    assert_eq!(end["lambda_perf"]["start_kind"], "warm");
    assert_eq!(end["lambda_perf"]["outcome"], "success");

    // An Err from the handler is reported as a function error, with its metrics.
    let result = process
        .invoke(&api, InvokeRequest::json(json!({ "action": "error" })))
        .await
        .unwrap();
    let id = result.request_id.clone();
    assert!(matches!(result.answer, Answer::Error { .. }));
    assert_eq!(
        end_line(&process, &id).await["lambda_perf"]["outcome"],
        "error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_concurrency_is_prewarmed_without_a_cold_start_line() {
    let config = function_config().with_initialization_type("provisioned-concurrency");
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&workspace_function("basic-layer"), &config).await;
    let mut kinds = Vec::new();
    for quantity in 1..=2 {
        let id = order(&api, &process, quantity).await;
        let end = end_line(&process, &id).await;
        kinds.push(
            end["lambda_perf"]["start_kind"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(kinds, ["prewarmed", "warm"]);
    assert!(!process.emf_lines().iter().any(is_cold_start_line));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cargo_lambda_style_deadline_is_handled_quietly() {
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&workspace_function("basic-layer"), &function_config()).await;
    let event = json!({ "order_id": "o-1", "quantity": 1 });
    let result = process
        .invoke(&api, InvokeRequest::json(event).with_deadline_ms(600_000))
        .await
        .unwrap();
    let id = result.request_id.clone();
    assert_eq!(
        result.into_json().unwrap(),
        json!({ "order_id": "o-1", "quantity": 1, "status": "accepted" })
    );
    let end = end_line(&process, &id).await;
    assert!(end["lambda_perf"].get("deadline_headroom_ms").is_none());
    assert!(
        !process
            .output()
            .iter()
            .any(|line| line.text.contains("lambda-perf: warning")),
        "no warning for a deadline in the past"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_lines_high_resolution_and_metadata_are_all_schema_valid() {
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&scenario_function(), &function_config()).await;
    let result = process
        .invoke(&api, InvokeRequest::json(json!({ "action": "many" })))
        .await
        .unwrap();
    let id = result.request_id.clone();
    // The three lines come in one write, but are read one by one: wait for the last, the one
    // with Metric0's last value alone.
    process
        .wait_for_line(
            |line| {
                line.emf().is_some_and(|emf| {
                    emf["lambda_perf"]["request_id"] == id.as_str()
                        && !is_cold_start_line(emf)
                        && metric_names(emf).len() == 1
                })
            },
            WAIT,
        )
        .await
        .unwrap();
    let lines: Vec<Value> = lines_of(&process, &id)
        .into_iter()
        .filter(|line| !is_cold_start_line(line))
        .collect();
    lines.iter().for_each(assert_valid_emf);
    let counts: Vec<usize> = lines.iter().map(|line| metric_names(line).len()).collect();
    // 152 metrics (Attempts, Metric0..149, Latency) and 121 values of Metric0.
    assert_eq!(counts, [100, 52, 1], "{lines:#?}");
    let values: usize = lines
        .iter()
        .map(|line| line["Metric0"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(values, 121);
    for line in &lines {
        assert_eq!(line["detail"], json!({ "nested": [1, 2, 3] }));
        assert_eq!(line["service"], "orders");
    }
    let latency = lines[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|metric| metric["Name"] == "Latency")
        .unwrap()
        .clone();
    assert_eq!(
        latency,
        json!({ "Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_in_one_process_keep_their_metrics_apart() {
    let config = function_config().with_max_concurrency(2);
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&scenario_function(), &config).await;
    let invoke = |tag: &str| {
        let event = json!({ "action": "ok", "tag": tag, "sleep_ms": 300 });
        process.invoke(&api, InvokeRequest::json(event))
    };
    let (a, b) = tokio::join!(invoke("a"), invoke("b"));
    let (a, b) = (a.unwrap(), b.unwrap());
    for (result, tag) in [(&a, "a"), (&b, "b")] {
        let end = end_line(&process, &result.request_id).await;
        assert_valid_emf(&end);
        assert_eq!(end["tag"], tag);
        assert_eq!(end["Attempts"], json!([1.0, 1.0]));
        assert_eq!(end["lambda_perf"]["request_id"], result.request_id.as_str());
    }
    let facts: Vec<Value> = [&a, &b]
        .iter()
        .map(|r| lines_of(&process, &r.request_id).last().unwrap()["lambda_perf"].clone())
        .collect();
    let kinds: Vec<&Value> = facts.iter().map(|f| &f["start_kind"]).collect();
    assert!(
        kinds.contains(&&json!("cold")) && kinds.contains(&&json!("warm")),
        "exactly one of two simultaneous first invocations is cold: {kinds:?}"
    );
    // They overlapped: when the second began, no invocation had ended yet.
    assert!(
        facts.iter().all(|f| f.get("idle_gap_ms").is_none()),
        "{facts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cold_start_line_is_written_before_the_handler_runs() {
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&scenario_function(), &function_config()).await;
    let slow = InvokeRequest::json(json!({ "action": "ok", "sleep_ms": 1_000 }));
    let invocation = async { process.invoke(&api, slow).await };
    let observer = async {
        let cold = process
            .wait_for_line(|line| line.emf().is_some_and(is_cold_start_line), WAIT)
            .await
            .unwrap();
        // The handler is still sleeping: nothing else was written, the API has no answer.
        let seen_at = cold.received_at;
        let emf = process.emf_lines();
        (seen_at, emf.len(), api.pending_invocations())
    };
    let (result, (cold_seen_at, emf_lines, _)) = tokio::join!(invocation, observer);
    let result = result.unwrap();
    assert_eq!(
        emf_lines, 1,
        "only the ColdStart line while the handler runs"
    );
    assert!(
        result.resolved_at.duration_since(cold_seen_at) >= std::time::Duration::from_millis(900),
        "the ColdStart line came a whole handler run before the response"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_and_data_problems_warn_once_each() {
    // No namespace, and a bad setting.
    let config = lambda_perf_local::emulator::FunctionConfig::new()
        .with_function_name("orders-fn")
        .with_env("POWERTOOLS_METRICS_DISABLED", "maybe");
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&scenario_function(), &config).await;
    for _ in 0..3 {
        let result = process
            .invoke(
                &api,
                InvokeRequest::json(json!({ "action": "bad_metrics" })).unsampled(),
            )
            .await
            .unwrap();
        let id = result.request_id.clone();
        assert_eq!(
            result.into_json().unwrap(),
            json!({ "done": "bad_metrics" })
        );
        let end = end_line(&process, &id).await;
        assert_eq!(end["Attempts"], json!([1.0]), "the good data point is kept");
        assert_eq!(
            end["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "default_namespace"
        );
    }
    let warnings: Vec<String> = process
        .output()
        .into_iter()
        .filter(|line| line.text.starts_with("lambda-perf: warning"))
        .map(|line| line.text)
        .collect();
    let count = |needle: &str| warnings.iter().filter(|w| w.contains(needle)).count();
    assert_eq!(
        count("POWERTOOLS_METRICS_NAMESPACE is not set"),
        1,
        "{warnings:#?}"
    );
    assert_eq!(
        count("POWERTOOLS_METRICS_DISABLED=\"maybe\""),
        1,
        "{warnings:#?}"
    );
    assert_eq!(count("non-finite value"), 1, "{warnings:#?}");
    assert_eq!(count("invalid dimension name"), 1, "{warnings:#?}");
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cold_start_line_takes_the_powertools_function_name_and_the_default_dimensions() {
    let config = function_config()
        .with_env("POWERTOOLS_METRICS_FUNCTION_NAME", "orders-alias")
        .with_env("LAMBDA_PERF_DEFAULT_DIMENSIONS", "environment=prod");
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&workspace_function("basic-layer"), &config).await;
    let id = order(&api, &process, 1).await;
    end_line(&process, &id).await;
    let lines = lines_of(&process, &id);
    let cold = lines.iter().find(|line| is_cold_start_line(line)).unwrap();
    assert_valid_emf(cold);
    assert_eq!(cold["function_name"], "orders-alias");
    assert_eq!(cold["environment"], "prod");
    assert_eq!(
        cold["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function_name", "environment", "service"]])
    );
}

/// Text a handler prints without its newline (`print!`) waits in std's stdout buffer for the
/// rest of its line; the invocation's EMF line, written meanwhile, stays a line of its own
/// (were it written through that buffer, the text would be written first, before it on the
/// same line, and CloudWatch would not read it as EMF); the printed line goes out whole once
/// the handler ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_printed_without_its_newline_does_not_break_the_emf_line() {
    let command =
        lambda_perf_local::emulator::FunctionCommand::new(env!("CARGO_BIN_EXE_echo-function"));
    let started = start(&command, &function_config()).await;
    let (api, process) = (&started.api, &started.process);
    for (token, print) in [("t-1", "half of a line, "), ("t-2", "the other half\n")] {
        let event = json!({ "token": token, "print": print });
        let reply = process
            .invoke(api, InvokeRequest::json(event))
            .await
            .unwrap();
        let line = end_line(process, &reply.request_id).await;
        assert_eq!(line["token"], token, "{line}");
    }
    let printed = process
        .wait_for_line(|line| line.text.contains("the other half"), WAIT)
        .await
        .unwrap();
    assert_eq!(printed.text, "half of a line, the other half");
    assert_no_broken_emf(process);
}

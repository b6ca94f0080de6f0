//! A client that failed to initialize at init, before the first invocation, is reported with
//! that invocation — and its error message follows the error capture setting, as a client
//! that failed inside an invocation does. Its own process under nextest: the records kept for
//! the first invocation are per process.

use lambda_perf_core::lazy::TimedAsyncLazy;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

static SECRETS: TimedAsyncLazy<u8, std::io::Error> = TimedAsyncLazy::new("secrets", || {
    Box::pin(async { Err(std::io::Error::other("password=hunter2 rejected")) })
});

#[tokio::test]
async fn an_init_failure_keeps_its_message_out_of_the_trace_without_error_capture() {
    // At init, before the runtime serves.
    assert!(SECRETS.init_now().await.is_err());

    let recorder = Recorder::with(|builder| builder.capture_error(false));
    let handler =
        lambda_runtime::service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({})) });
    recorder.run(handler, event(json!({}))).await.unwrap();

    let handler = recorder
        .xray()
        .named("## handler")
        .expect("the handler subsegment");
    let init_clients = &handler["metadata"]["lambda_perf"]["init_clients"];
    assert_eq!(init_clients[0]["client"], "secrets", "{handler:#}");
    assert!(
        !handler.to_string().contains("hunter2"),
        "the error message reached the trace with error capture off: {init_clients:#}"
    );
    // As for a client that fails inside an invocation: the failure is kept, its message not.
    assert_eq!(init_clients[0]["error"], "", "{init_clients:#}");
}

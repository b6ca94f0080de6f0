//! Drives the embedded Runtime API with a real HTTP client over loopback.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_perf_local::emulator::{
    Answer, AnswerSummary, ApiEventKind, HarnessError, InvokeRequest, RuntimeApi, Stage,
    TraceHeader,
};
use serde_json::{Value, json};

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn call(
    client: &HttpClient,
    api: &RuntimeApi,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", api.addr()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into())).expect("valid request");
    let response = client.request(request).await.expect("HTTP exchange");
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.expect("response body").to_bytes(),
    }
}

async fn next(client: &HttpClient, api: &RuntimeApi) -> Reply {
    call(
        client,
        api,
        Method::GET,
        "/2018-06-01/runtime/invocation/next",
        &[],
        Bytes::new(),
    )
    .await
}

async fn respond(client: &HttpClient, api: &RuntimeApi, id: &str, body: &'static [u8]) -> Reply {
    call(
        client,
        api,
        Method::POST,
        &format!("/2018-06-01/runtime/invocation/{id}/response"),
        &[],
        body,
    )
    .await
}

/// `POST /init/error`, its type in the error type header.
async fn init_error(
    client: &HttpClient,
    api: &RuntimeApi,
    error_type: &str,
    body: &'static str,
) -> Reply {
    call(
        client,
        api,
        Method::POST,
        "/2018-06-01/runtime/init/error",
        &[("lambda-runtime-function-error-type", error_type)],
        body,
    )
    .await
}

fn request_id(reply: &Reply) -> String {
    reply
        .header("lambda-runtime-aws-request-id")
        .expect("request id header")
        .to_owned()
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("fits u64")
}

#[tokio::test]
async fn next_hands_out_the_event_with_every_header_and_response_resolves_invoke() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let invocation = InvokeRequest::json(json!({"hello": "world"}))
        .with_client_context(r#"{"custom":{"k":"v"}}"#);
    let function = async {
        let reply = next(&http, &api).await;
        let id = request_id(&reply);
        let ack = respond(&http, &api, &id, b"\x00exact bytes\xff\n").await;
        (reply, ack)
    };
    let (result, (reply, ack)) = tokio::join!(api.invoke(invocation), function);
    let result = result.expect("invoke resolves");

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, Bytes::from_static(br#"{"hello":"world"}"#));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let id = request_id(&reply);
    assert_eq!(id, result.request_id);
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(id.as_bytes()[14], b'4', "UUID v4 shape: {id}");
    let deadline: u64 = reply
        .header("lambda-runtime-deadline-ms")
        .expect("deadline header")
        .parse()
        .expect("numeric deadline");
    let expected = now_ms() + 30_000;
    assert!(
        deadline.abs_diff(expected) < 2_000,
        "deadline {deadline} vs ~{expected}"
    );
    assert_eq!(deadline, result.deadline_ms);
    assert_eq!(
        reply.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:us-east-1:123456789012:function:lambda-perf-local-fn")
    );
    let trace = reply
        .header("lambda-runtime-trace-id")
        .expect("trace header");
    assert_eq!(Some(trace), result.trace_header.as_deref());
    let parsed = TraceHeader::parse(trace).expect("trace header parses");
    assert!(parsed.is_well_formed() && parsed.sampled, "{trace}");
    let root_secs = u64::from_str_radix(&parsed.root[2..10], 16).expect("hex epoch");
    assert!(root_secs.abs_diff(now_ms() / 1000) < 5, "{trace}");
    assert_eq!(
        reply.header("lambda-runtime-client-context"),
        Some(r#"{"custom":{"k":"v"}}"#)
    );
    assert_eq!(reply.header("lambda-runtime-cognito-identity"), None);

    assert_eq!(ack.status, StatusCode::ACCEPTED);
    assert_eq!(
        result.answer,
        Answer::Response {
            body: Bytes::from_static(b"\x00exact bytes\xff\n")
        }
    );
    assert!(
        result
            .handed_out_at
            .is_some_and(|at| at >= result.queued_at)
    );
    assert!(result.duration().is_some());

    let records = api.invocations();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].request_id, id);
    // The log keeps the response's length; the body went to the caller alone.
    assert_eq!(
        records[0].stage,
        Stage::Resolved(AnswerSummary::Response { bytes: 14 })
    );
    let kinds: Vec<_> = api.events().into_iter().map(|e| e.kind).collect();
    assert!(matches!(kinds[0], ApiEventKind::Queued { .. }));
    assert!(matches!(kinds[1], ApiEventKind::HandedOut { .. }));
    assert!(matches!(kinds[2], ApiEventKind::Response { bytes: 14, .. }));
    assert_eq!(api.pending_invocations(), 0);
}

#[tokio::test]
async fn overrides_are_sent_verbatim_and_optional_headers_omitted() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let invocation = InvokeRequest::new("raw event")
        .with_request_id("req-123")
        .with_deadline_ms(600_000)
        .without_trace_header()
        .with_function_arn("arn:aws:lambda:eu-west-1:1:function:f:live")
        .with_cognito_identity(r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#)
        .with_timeout(Duration::from_secs(2));
    let function = async {
        let reply = next(&http, &api).await;
        respond(&http, &api, "req-123", b"ok").await;
        reply
    };
    let (result, reply) = tokio::join!(api.invoke(invocation), function);
    let result = result.expect("invoke resolves");
    assert_eq!(reply.body, Bytes::from_static(b"raw event"));
    assert_eq!(
        reply.header("lambda-runtime-aws-request-id"),
        Some("req-123")
    );
    assert_eq!(reply.header("lambda-runtime-deadline-ms"), Some("600000"));
    assert_eq!(reply.header("lambda-runtime-trace-id"), None);
    assert_eq!(result.trace_header, None);
    assert_eq!(reply.header("lambda-runtime-client-context"), None);
    assert_eq!(
        reply.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:eu-west-1:1:function:f:live")
    );
    assert!(
        reply
            .header("lambda-runtime-cognito-identity")
            .is_some_and(|v| v.contains("pool"))
    );
    assert_eq!(result.into_response().expect("response"), "ok");
}

#[tokio::test]
async fn error_resolves_with_error_type_and_report() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let function = async {
        let first = request_id(&next(&http, &api).await);
        let ack = call(
            &http,
            &api,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{first}/error"),
            &[("Lambda-Runtime-Function-Error-Type", "Unhandled")],
            r#"{"errorType":"MyError","errorMessage":"it broke","stackTrace":["frame 1","frame 2"]}"#,
        )
        .await;
        assert_eq!(ack.status, StatusCode::ACCEPTED);
        let second = request_id(&next(&http, &api).await);
        let ack = call(
            &http,
            &api,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{second}/error"),
            &[],
            &b"\xffnot json"[..],
        )
        .await;
        assert_eq!(ack.status, StatusCode::ACCEPTED);
    };
    let invocations = async {
        let first = api.invoke(InvokeRequest::default()).await;
        let second = api.invoke(InvokeRequest::default()).await;
        (first, second)
    };
    let ((first, second), ()) = tokio::join!(invocations, function);

    let Answer::Error { error_type, error } = first.expect("first resolves").answer else {
        panic!("expected an error outcome");
    };
    assert_eq!(error_type.as_deref(), Some("Unhandled"));
    assert_eq!(error.error_type.as_deref(), Some("MyError"));
    assert_eq!(error.error_message.as_deref(), Some("it broke"));
    assert_eq!(
        error.stack_trace,
        Some(vec!["frame 1".to_owned(), "frame 2".to_owned()])
    );

    let second = second.expect("second resolves");
    let request_id = second.request_id.clone();
    let Answer::Error { error_type, error } = second.answer.clone() else {
        panic!("expected an error outcome");
    };
    assert_eq!(error_type, None);
    assert_eq!(error.error_type, None);
    assert_eq!(error.raw, Bytes::from_static(b"\xffnot json"));
    match second.into_response() {
        Err(HarnessError::FunctionError {
            request_id: failed, ..
        }) => assert_eq!(failed, request_id),
        other => panic!("expected FunctionError, got {other:?}"),
    }
}

#[tokio::test]
async fn init_error_is_recorded_and_fails_pending_invocations() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let function = async {
        // Report an init error (before asking for work) while two invocations wait: both
        // must fail instead of hanging.
        while api.pending_invocations() < 2 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        init_error(
            &http,
            &api,
            "Runtime.InitError",
            r#"{"errorType":"ConfigError","errorMessage":"missing TABLE_NAME"}"#,
        )
        .await
    };
    let invocations = async {
        tokio::join!(
            api.invoke(InvokeRequest::new("1")),
            api.invoke(InvokeRequest::new("2"))
        )
    };
    let ((first, second), ack) = tokio::join!(invocations, function);
    assert_eq!(ack.status, StatusCode::ACCEPTED);
    for result in [first, second] {
        let result = result.expect("invoke resolves");
        let Answer::InitError {
            error_type,
            error: report,
        } = &result.answer
        else {
            panic!("expected an init error, got {:?}", result.answer);
        };
        assert_eq!(error_type.as_deref(), Some("Runtime.InitError"));
        assert_eq!(report.error_type.as_deref(), Some("ConfigError"));
        assert_eq!(report.error_message.as_deref(), Some("missing TABLE_NAME"));
    }
    let init_errors = api.init_errors();
    assert_eq!(init_errors.len(), 1);
    assert_eq!(
        init_errors[0].error_type.as_deref(),
        Some("Runtime.InitError")
    );

    // Until a new process is attached, invocations fail at once.
    let later = api
        .invoke(InvokeRequest::new("3"))
        .await
        .expect("resolves at once");
    assert!(matches!(
        later.answer,
        Answer::InitError { ref error_type, .. } if error_type.as_deref() == Some("Runtime.InitError")
    ));
    assert_eq!(later.handed_out_at, None);
    assert!(matches!(
        later.into_response(),
        Err(HarnessError::InitError(_))
    ));

    api.clear_init_error();
    let queued = api
        .invoke(InvokeRequest::new("4").with_timeout(Duration::from_millis(100)))
        .await;
    assert!(
        matches!(queued, Err(HarnessError::Timeout { .. })),
        "{queued:?}"
    );
}

#[tokio::test]
async fn an_init_error_after_asking_for_work_is_refused_and_the_invocation_goes_on() {
    // On Lambda a runtime is out of its init once it has asked for work: an init error then
    // gets 403 (`InvalidStateTransition`), and the invocation it holds is still its to
    // answer, not failed as an init error.
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let function = async {
        let reply = next(&http, &api).await;
        let id = request_id(&reply);
        let refused = init_error(
            &http,
            &api,
            "Runtime.Late",
            r#"{"errorType":"Late","errorMessage":"too late"}"#,
        )
        .await;
        let ack = respond(&http, &api, &id, b"\"ok\"").await;
        (refused, ack)
    };
    let (result, (refused, ack)) = tokio::join!(api.invoke(InvokeRequest::new("1")), function);
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["errorType"], "InvalidStateTransition");
    assert_eq!(ack.status, StatusCode::ACCEPTED);
    let result = result.expect("invoke resolves");
    assert!(
        matches!(&result.answer, Answer::Response { body } if &body[..] == b"\"ok\""),
        "{:?}",
        result.answer
    );
    assert!(api.init_errors().is_empty());
    // Later invocations are queued as usual, not failed at once.
    let queued = api
        .invoke(InvokeRequest::new("2").with_timeout(Duration::from_millis(100)))
        .await;
    assert!(
        matches!(queued, Err(HarnessError::Timeout { .. })),
        "{queued:?}"
    );
}

#[tokio::test]
async fn concurrent_next_polls_get_different_invocations() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let worker = || async {
        let reply = next(&http, &api).await;
        let id = request_id(&reply);
        let body = format!("handled {}", String::from_utf8_lossy(&reply.body));
        let ack = call(
            &http,
            &api,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{id}/response"),
            &[],
            body,
        )
        .await;
        assert_eq!(ack.status, StatusCode::ACCEPTED);
        id
    };
    let invocations = async {
        // Let both long-polls start waiting before anything is queued.
        tokio::time::sleep(Duration::from_millis(50)).await;
        tokio::join!(
            api.invoke(InvokeRequest::new("a")),
            api.invoke(InvokeRequest::new("b"))
        )
    };
    let ((a, b), id1, id2) = tokio::join!(invocations, worker(), worker());
    let (a, b) = (a.expect("a resolves"), b.expect("b resolves"));
    assert_ne!(id1, id2);
    assert_ne!(a.request_id, b.request_id);
    let mut ids = vec![a.request_id.clone(), b.request_id.clone()];
    ids.sort();
    let mut seen = vec![id1, id2];
    seen.sort();
    assert_eq!(ids, seen);
    assert_eq!(a.into_response().expect("a ok"), "handled a");
    assert_eq!(b.into_response().expect("b ok"), "handled b");
}

/// Lambda's invocation ends when its runtime asks for the next event, after whatever it did
/// once it had answered: the log records that request as the invocation's release.
#[tokio::test]
async fn an_invocation_lasts_until_its_runtime_asks_for_work_again() {
    const AFTER_ANSWER: Duration = Duration::from_millis(100);
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let runtime = async {
        let reply = next(&http, &api).await;
        let ack = respond(&http, &api, &request_id(&reply), b"done").await;
        assert_eq!(ack.status, StatusCode::ACCEPTED);
        let answered = api.invocations()[0].clone();
        assert_eq!(answered.released_at, None, "answered, not yet released");
        // Its telemetry, written after the answer.
        tokio::time::sleep(AFTER_ANSWER).await;
        // The next request, which waits: the server's shutdown ends it.
        tokio::spawn({
            let http = http.clone();
            let addr = api.addr();
            async move {
                let request =
                    Request::get(format!("http://{addr}/2018-06-01/runtime/invocation/next"))
                        .body(Full::new(Bytes::new()))
                        .expect("valid request");
                let _ = http.request(request).await;
            }
        });
    };
    let (invoked, ()) = tokio::join!(api.invoke(InvokeRequest::new("event")), runtime);
    invoked.expect("answered");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let released = loop {
        let logged = api.invocations()[0].clone();
        if let Some(released) = logged.released_at {
            break (logged, released);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never released: {logged:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let (logged, released_at) = released;
    let answered_at = logged.finished_at.expect("answered");
    assert!(
        released_at >= answered_at + AFTER_ANSWER,
        "released {:?} after its answer, though the runtime asked again only {AFTER_ANSWER:?} later",
        released_at - answered_at
    );
    api.shutdown();
}

/// Invokes with `event`, which the runtime behind `http` takes (`/next`) and answers.
async fn invoke_answered(api: &RuntimeApi, http: &HttpClient, event: &'static str) {
    let runtime = async {
        let reply = next(http, api).await;
        let ack = respond(http, api, &request_id(&reply), b"done").await;
        assert_eq!(ack.status, StatusCode::ACCEPTED);
    };
    let (invoked, ()) = tokio::join!(api.invoke(InvokeRequest::new(event)), runtime);
    invoked.expect("answered");
}

/// A process the harness stopped after its answer never asks for work again: neither a poll
/// it left on its connection nor its replacement's first poll ends that invocation.
#[tokio::test]
async fn a_replacements_poll_does_not_release_the_stopped_process_invocation() {
    let api = RuntimeApi::start().await.expect("server starts");
    let stopped = client();
    invoke_answered(&api, &stopped, "event").await;
    api.retire_connections();
    // The stopped process's poll, on its retired connection, and the replacement's.
    let left = next(&stopped, &api).await;
    assert_eq!(left.status, StatusCode::GONE);
    invoke_answered(&api, &client(), "second").await;
    let logged = api.invocations();
    assert_eq!(logged[0].released_at, None, "{:?}", logged[0]);
    assert_eq!(
        logged[1].released_at, None,
        "not asked for work since: {:?}",
        logged[1]
    );
    api.shutdown();
}

#[tokio::test]
async fn a_poll_left_by_a_stopped_process_never_takes_its_replacements_invocation() {
    let api = RuntimeApi::start().await.expect("server starts");
    // The stopped process's runtime: its poll waits on a connection the server still holds.
    let stopped = client();
    let left_waiting = async {
        let reply = next(&stopped, &api).await;
        // Its connection serves no more polls either.
        let again = next(&stopped, &api).await;
        (reply, again)
    };
    // The harness retires the connections, then starts the replacement and invokes.
    let harness = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        api.retire_connections();
        let replacement = client();
        let invoked = async {
            // The replacement's poll is waiting before the invocation is queued.
            tokio::time::sleep(Duration::from_millis(50)).await;
            api.invoke(InvokeRequest::new("meant for the replacement"))
                .await
        };
        let served = async {
            let reply = next(&replacement, &api).await;
            assert_eq!(reply.status, StatusCode::OK);
            let ack = respond(&replacement, &api, &request_id(&reply), b"done").await;
            assert_eq!(ack.status, StatusCode::ACCEPTED);
            reply.body
        };
        tokio::join!(invoked, served)
    };
    let ((reply, again), (invoked, body)) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(left_waiting, harness)
    })
    .await
    .expect("the replacement is served, and the stopped process's polls end");
    assert_eq!(reply.status, StatusCode::GONE);
    assert_eq!(reply.json()["errorType"], "ConnectionRetired");
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(body, Bytes::from_static(b"meant for the replacement"));
    let invoked = invoked.expect("resolved by the replacement");
    assert_eq!(invoked.into_response().expect("a response"), "done");
}

#[tokio::test]
async fn bad_requests_get_http_errors() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();

    let unknown = respond(&http, &api, "no-such-id", b"{}").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json()["errorType"], "InvalidRequestID");
    assert!(
        unknown.json()["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-id"))
    );
    let unknown_error = call(
        &http,
        &api,
        Method::POST,
        "/2018-06-01/runtime/invocation/no-such-id/error",
        &[],
        "garbage",
    )
    .await;
    assert_eq!(unknown_error.status, StatusCode::BAD_REQUEST);

    let not_found = call(
        &http,
        &api,
        Method::GET,
        "/2018-06-01/runtime/nope",
        &[],
        "",
    )
    .await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    let not_found = call(&http, &api, Method::GET, "/", &[], "").await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    let wrong_method = call(
        &http,
        &api,
        Method::POST,
        "/2018-06-01/runtime/invocation/next",
        &[],
        "",
    )
    .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);

    // A queued invocation cannot be answered before `/next` hands it out: as on Lambda, the
    // runtime that has not received it is in no state to answer it.
    let invocation = InvokeRequest::new("x")
        .with_request_id("queued-1")
        .with_timeout(Duration::from_millis(300));
    let early = async { respond(&http, &api, "queued-1", b"too early").await };
    let (result, early) = tokio::join!(api.invoke(invocation), early);
    assert_eq!(early.status, StatusCode::FORBIDDEN);
    assert_eq!(
        early.json(),
        json!({
            "errorType": "InvalidStateTransition",
            "errorMessage": "State transition from Started to InvocationResponse failed for \
                             runtime. Error: State transition is not allowed",
        })
    );
    assert!(matches!(result, Err(HarnessError::Timeout { .. })));

    let rejected = api
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, ApiEventKind::Rejected { .. }))
        .count();
    assert_eq!(rejected, 6);
}

/// As on Lambda (its Runtime API checks the request id, then the runtime's state): an answer
/// to the invocation a runtime has answered already, before it asks for work again, is
/// `403 InvalidStateTransition`, and the first answer stands; once it has asked again, the
/// finished invocation's id is unknown (`400 InvalidRequestID`).
#[tokio::test]
async fn a_second_answer_is_an_invalid_state_transition() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let function = async {
        let id = request_id(&next(&http, &api).await);
        let first = respond(&http, &api, &id, b"\"first\"").await;
        let second = respond(&http, &api, &id, b"\"second\"").await;
        let error = call(
            &http,
            &api,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{id}/error"),
            &[],
            "{}",
        )
        .await;
        (id, first, second, error)
    };
    let (result, (id, first, second, error)) =
        tokio::join!(api.invoke(InvokeRequest::new("1")), function);
    assert_eq!(first.status, StatusCode::ACCEPTED);
    for (reply, target) in [
        (&second, "InvocationResponse"),
        (&error, "InvocationErrorResponse"),
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.json(),
            json!({
                "errorType": "InvalidStateTransition",
                "errorMessage": format!(
                    "State transition from RuntimeResponseSentState to {target} failed for \
                     runtime. Error: State transition is not allowed"
                ),
            })
        );
    }
    let result = result.expect("invoke resolves");
    assert_eq!(result.into_response().expect("a response"), "\"first\"");

    // Asking for work again ends the invocation: its id is then unknown.
    let poll = tokio::spawn({
        let http = http.clone();
        let addr = api.addr();
        async move {
            let uri = format!("http://{addr}/2018-06-01/runtime/invocation/next");
            let request = Request::get(uri).body(Full::new(Bytes::new())).unwrap();
            http.request(request).await
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while api.invocations()[0].released_at.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the poll was not seen"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let late = respond(&http, &api, &id, b"\"late\"").await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert_eq!(late.json()["errorType"], "InvalidRequestID");
    poll.abort();
}

#[tokio::test]
async fn timed_out_and_abandoned_invocations_are_withdrawn() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();

    let timed_out = api
        .invoke(
            InvokeRequest::new("slow")
                .with_request_id("slow-1")
                .with_timeout(Duration::from_millis(50)),
        )
        .await;
    assert!(
        matches!(&timed_out, Err(HarnessError::Timeout { what, .. }) if what.contains("slow-1")),
        "{timed_out:?}"
    );

    // Dropping the `invoke` future withdraws the invocation as well.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(50),
        api.invoke(InvokeRequest::new("gone").with_request_id("gone-1")),
    )
    .await;
    assert!(abandoned.is_err());
    assert_eq!(api.pending_invocations(), 0);

    // Neither is handed out any more: the next poll gets the next invocation.
    let function = async {
        let reply = next(&http, &api).await;
        respond(&http, &api, &request_id(&reply), b"fresh").await;
        reply
    };
    let (result, reply) = tokio::join!(api.invoke(InvokeRequest::new("fresh")), function);
    assert_eq!(reply.body, "fresh");
    assert_eq!(
        result.expect("resolves").into_response().expect("ok"),
        "fresh"
    );
    // A late answer to a withdrawn invocation is refused.
    assert_eq!(
        respond(&http, &api, "slow-1", b"late").await.status,
        StatusCode::BAD_REQUEST
    );

    let stages: Vec<_> = api.invocations().into_iter().map(|r| r.stage).collect();
    assert_eq!(stages[0], Stage::TimedOut);
    assert_eq!(stages[1], Stage::Abandoned);
    assert!(matches!(stages[2], Stage::Resolved(_)));
}

#[tokio::test]
async fn invalid_invocations_are_refused_and_shutdown_fails_pending_ones() {
    let api = RuntimeApi::start().await.expect("server starts");
    let bad_header = api
        .invoke(InvokeRequest::default().with_trace_header("line\nbreak"))
        .await;
    assert!(matches!(
        bad_header,
        Err(HarnessError::InvalidInvocation(_))
    ));
    let bad_id = api
        .invoke(InvokeRequest::default().with_request_id("a/b"))
        .await;
    assert!(matches!(bad_id, Err(HarnessError::InvalidInvocation(_))));

    let duplicate = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let duplicate = api
            .invoke(InvokeRequest::default().with_request_id("dup"))
            .await;
        assert!(matches!(duplicate, Err(HarnessError::InvalidInvocation(_))));
        api.shutdown();
    };
    let (pending, ()) = tokio::join!(
        api.invoke(InvokeRequest::default().with_request_id("dup")),
        duplicate
    );
    assert!(
        matches!(pending, Err(HarnessError::Shutdown)),
        "{pending:?}"
    );
    assert!(matches!(
        api.invoke(InvokeRequest::default()).await,
        Err(HarnessError::Shutdown)
    ));
    assert_eq!(api.invocations()[0].stage, Stage::Shutdown);
}

#[tokio::test]
async fn a_poll_pending_at_shutdown_is_closed_unanswered() {
    // Lambda never answers `/next` at shutdown. An answer without an invocation's headers
    // would make a runtime still polling fail on them (`lambda_runtime` panics).
    let api = RuntimeApi::start().await.expect("server starts");
    let request = Request::builder()
        .uri(format!(
            "http://{}/2018-06-01/runtime/invocation/next",
            api.addr()
        ))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let http = client();
    let poll = tokio::spawn(async move { http.request(request).await });
    // The poll is waiting for an invocation when the API shuts down.
    while api.first_poll_at().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    api.shutdown();
    let polled = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the connection ends")
        .expect("the poll's task ran");
    if let Ok(response) = polled {
        panic!("answered with {}", response.status());
    }
}

#[tokio::test]
async fn a_response_over_lambdas_payload_limit_fails_the_invocation() {
    // Lambda accepts at most 6,291,556 bytes on `/response`: the runtime gets 413, and the
    // invocation fails with `Function.ResponseSizeTooLarge` instead of returning the body.
    const LIMIT: usize = 6 * 1024 * 1024 + 100;
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let function = async {
        let at_limit = request_id(&next(&http, &api).await);
        let body = vec![b'a'; LIMIT];
        let ack = call(
            &http,
            &api,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{at_limit}/response"),
            &[],
            body,
        )
        .await;
        assert_eq!(ack.status, StatusCode::ACCEPTED);
        let over = request_id(&next(&http, &api).await);
        let ack = call(
            &http,
            &api,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{over}/response"),
            &[],
            vec![b'a'; LIMIT + 1],
        )
        .await;
        assert_eq!(ack.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(ack.json()["errorType"], "RequestEntityTooLarge");
        assert_eq!(
            ack.json()["errorMessage"],
            "Exceeded maximum allowed payload size (6291556 bytes)."
        );
    };
    let invocations = async {
        let first = api.invoke(InvokeRequest::default()).await;
        let second = api
            .invoke(InvokeRequest::default().with_timeout(Duration::from_secs(5)))
            .await;
        (first, second)
    };
    let ((first, second), ()) = tokio::join!(invocations, function);
    let first = first
        .expect("resolves")
        .into_response()
        .expect("a response");
    assert_eq!(first.len(), LIMIT);
    let second = second.expect("the oversized response resolves the invocation");
    let Answer::Error { error_type, error } = second.answer else {
        panic!("expected an error, got {:?}", second.answer.kind());
    };
    assert_eq!(error_type.as_deref(), Some("Function.ResponseSizeTooLarge"));
    assert_eq!(
        error.error_type.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    assert_eq!(
        error.error_message.as_deref(),
        Some(
            "Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes)."
        )
    );
    assert_eq!(api.pending_invocations(), 0);
}

#[tokio::test]
async fn a_deadline_counted_from_the_hand_out_starts_when_next_hands_it_out() {
    // As Lambda counts a function's timeout: a runtime that asks for work 600 ms after the
    // invocation was queued (a slow init) still gets 1 s, and `invoke` waits for its answer
    // past the deadline counted from queueing.
    let api = RuntimeApi::start_with(
        lambda_perf_local::emulator::RuntimeApiOptions::default()
            .with_grace_period(Duration::from_millis(100)),
    )
    .await
    .expect("server starts");
    let http = client();
    let invocation =
        InvokeRequest::json(json!({})).with_deadline_after_hand_out(Duration::from_secs(1));
    let function = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let reply = next(&http, &api).await;
        let handed_out_ms = now_ms();
        tokio::time::sleep(Duration::from_millis(700)).await;
        let id = request_id(&reply);
        let ack = respond(&http, &api, &id, b"\"ok\"").await;
        (reply, handed_out_ms, ack)
    };
    let (result, (reply, handed_out_ms, ack)) = tokio::join!(api.invoke(invocation), function);
    let result = result.expect("answered before its deadline");
    assert_eq!(ack.status, StatusCode::ACCEPTED);
    let deadline: u64 = reply
        .header("lambda-runtime-deadline-ms")
        .expect("deadline header")
        .parse()
        .expect("numeric deadline");
    assert!(
        deadline.abs_diff(handed_out_ms + 1_000) < 100,
        "deadline {deadline}, handed out at {handed_out_ms}"
    );
    assert_eq!(result.deadline_ms, deadline);
    assert_eq!(api.invocations()[0].deadline_ms, deadline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_past_what_a_time_holds_is_sent_saturated_not_a_panic() {
    // `Duration::MAX` past now is past what `SystemTime` holds: the invocation is queued
    // and handed out with the latest deadline there is, counted from queueing or from the
    // hand-out alike.
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    for invocation in [
        InvokeRequest::json(json!({})).with_deadline_in(Duration::MAX),
        InvokeRequest::json(json!({})).with_deadline_after_hand_out(Duration::MAX),
    ] {
        let function = async {
            let reply = next(&http, &api).await;
            let ack = respond(&http, &api, &request_id(&reply), b"\"ok\"").await;
            (reply, ack)
        };
        let (result, (reply, ack)) = tokio::join!(api.invoke(invocation), function);
        let result = result.expect("answered");
        assert_eq!(ack.status, StatusCode::ACCEPTED);
        let max = u64::MAX.to_string();
        assert_eq!(
            reply.header("lambda-runtime-deadline-ms"),
            Some(max.as_str())
        );
        assert_eq!(result.deadline_ms, u64::MAX);
    }
}

/// On Lambda a runtime that reported an init error is in its `InitError` state (its Runtime
/// API's state machine allows no transition out of it): a second init error is
/// `403 InvalidStateTransition`, the first standing.
#[tokio::test]
async fn a_second_init_error_is_an_invalid_state_transition() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let report = || {
        init_error(
            &http,
            &api,
            "Runtime.InitError",
            r#"{"errorType":"ConfigError","errorMessage":"missing TABLE_NAME"}"#,
        )
    };
    assert_eq!(report().await.status, StatusCode::ACCEPTED);
    let second = report().await;
    assert_eq!(second.status, StatusCode::FORBIDDEN);
    assert_eq!(second.json()["errorType"], "InvalidStateTransition");
    assert_eq!(api.init_errors().len(), 1);
}

/// Lambda holds a *streamed* response (`Lambda-Runtime-Function-Response-Mode: streaming`,
/// chunked, as `lambda_runtime` sends a `StreamResponse`) to the streaming limit (20 MB soft
/// limit; 200 MB since 2025), not to the 6 MB of a buffered one: a 7 MB stream is accepted
/// and reaches the caller.
#[tokio::test]
async fn a_streamed_response_over_6_mb_is_not_held_to_the_buffered_limit() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let size = 7 * 1024 * 1024;
    let function = async {
        let id = request_id(&next(&http, &api).await);
        call(
            &http,
            &api,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{id}/response"),
            &[
                ("Lambda-Runtime-Function-Response-Mode", "streaming"),
                ("Transfer-Encoding", "chunked"),
                (
                    "Content-Type",
                    "application/vnd.awslambda.http-integration-response",
                ),
            ],
            vec![b'a'; size],
        )
        .await
    };
    let (result, ack) = tokio::join!(
        api.invoke(InvokeRequest::default().with_timeout(Duration::from_secs(10))),
        function
    );
    assert_eq!(
        ack.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&ack.body)
    );
    let result = result.expect("resolves");
    assert!(
        matches!(&result.answer, Answer::Response { body } if body.len() == size),
        "{:?}",
        result.answer.kind()
    );
}

/// A runtime reports an error that happens after it began streaming in HTTP trailers
/// (`Lambda-Runtime-Function-Error-Type`, `Lambda-Runtime-Function-Error-Body`, base64), as
/// Lambda's custom-runtime docs say: the invocation is an error of that type, not a success.
#[tokio::test]
async fn a_streamed_responses_error_trailers_make_it_an_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let addr = api.addr();
    let function = async {
        let id = request_id(&next(&http, &api).await);
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        // base64("boom mid-stream")
        let request = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n\
             Host: {addr}\r\n\
             Lambda-Runtime-Function-Response-Mode: streaming\r\n\
             Transfer-Encoding: chunked\r\n\
             Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\
             Connection: close\r\n\r\n\
             5\r\nhello\r\n\
             0\r\n\
             Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n\
             Lambda-Runtime-Function-Error-Body: Ym9vbSBtaWQtc3RyZWFt\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("sent");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer
    };
    let (result, answer) = tokio::join!(
        api.invoke(InvokeRequest::default().with_timeout(Duration::from_secs(5))),
        function
    );
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let result = result.expect("resolves");
    let Answer::Error { error_type, error } = &result.answer else {
        panic!(
            "a stream that ended with error trailers was recorded as a {}: {:?}",
            result.answer.kind(),
            result.answer
        );
    };
    assert_eq!(error_type.as_deref(), Some("Runtime.StreamError"));
    assert_eq!(
        &error.raw[..],
        b"boom mid-stream",
        "the error body, base64 decoded"
    );
}

/// A request for work after an init error: Lambda answers it at once with
/// `403 InvalidStateTransition` ("State transition from InitError to Ready failed"), and the
/// runtime has not left its init.
#[tokio::test]
async fn next_after_an_init_error_is_refused_not_left_hanging() {
    let api = RuntimeApi::start().await.expect("server starts");
    let http = client();
    let ack = init_error(
        &http,
        &api,
        "Runtime.InitError",
        r#"{"errorType":"ConfigError","errorMessage":"missing TABLE_NAME"}"#,
    )
    .await;
    assert_eq!(ack.status, StatusCode::ACCEPTED);
    let poll = tokio::time::timeout(Duration::from_secs(2), next(&http, &api))
        .await
        .expect("/next after an init error is answered at once, not left hanging");
    assert_eq!(poll.status, StatusCode::FORBIDDEN);
    assert_eq!(poll.json()["errorType"], "InvalidStateTransition");
}

/// A request the HTTP layer cannot parse (garbage from a broken runtime) gets hyper's bare
/// `400`, and is logged as refused (`ApiEventKind::Rejected`), as every other refused request
/// is, for the run to report.
#[tokio::test]
async fn a_request_that_is_not_http_is_logged_as_rejected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = RuntimeApi::start().await.expect("server starts");
    let mut stream = tokio::net::TcpStream::connect(api.addr())
        .await
        .expect("connects");
    stream
        .write_all(b"NOT HTTP AT ALL\r\n\r\n")
        .await
        .expect("sent");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // Logged as the connection ends, which the runtime may see first.
    let rejected = || {
        api.events()
            .into_iter()
            .filter(|e| matches!(e.kind, ApiEventKind::Rejected { .. }))
            .count()
    };
    let waited_since = std::time::Instant::now();
    while rejected() == 0 && waited_since.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(rejected(), 1, "{:?}", api.events());
}

/// A request whose head is too large gets hyper's `431` (not `400`): the rejection logged
/// says the status the runtime got.
#[tokio::test]
async fn a_request_head_too_large_is_logged_with_the_status_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = RuntimeApi::start().await.expect("server starts");
    let mut stream = tokio::net::TcpStream::connect(api.addr())
        .await
        .expect("connects");
    let request = format!(
        "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(600 * 1024)
    );
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let sent: u16 = answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
    let rejected = || {
        api.events()
            .into_iter()
            .filter_map(|e| match e.kind {
                ApiEventKind::Rejected { status, .. } => Some(status),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let waited_since = std::time::Instant::now();
    while rejected().is_empty() && waited_since.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(rejected(), vec![sent], "{answer}");
}

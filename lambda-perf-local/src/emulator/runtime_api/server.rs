//! The HTTP side: accept loop, routing and the Runtime API endpoints.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::state::{InitErrorRefused, Next, ResolveError, Shared};
use crate::emulator::error_document::ErrorDocument;
use crate::emulator::invoke_reply::Answer;

/// Path prefix of every Runtime API route.
const PREFIX: &str = "/2018-06-01/runtime/";

/// Largest request body read (past Lambda's own limits, so that a body over them is still
/// told apart from a broken one).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The largest response Lambda accepts on `/response`: 6 MB and 100 bytes (6,291,556).
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// The largest streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`, as
/// `lambda_runtime` sends a `StreamResponse`): 200 MB since July 2025 (20 MB before), where a
/// buffered one has [`MAX_RESPONSE_BYTES`].
const MAX_STREAMED_RESPONSE_BYTES: usize = 200 * 1024 * 1024;

/// Header saying how a response comes: `streaming` for a streamed one.
const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";

/// Trailer carrying, base64, the error body of a stream that failed once it had begun (its
/// type in the trailer [`ERROR_TYPE_HEADER`]).
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// The error type an invocation fails with when its response is over [`MAX_RESPONSE_BYTES`].
const RESPONSE_TOO_LARGE_ERROR_TYPE: &str = "Function.ResponseSizeTooLarge";

/// Header carrying the error type on `/error` and `/init/error`.
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

type HttpResponse = Response<Full<Bytes>>;

/// Accepts connections until the task is aborted; aborting it also drops (and so closes)
/// every connection it serves.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    snapshot_stored_for: Duration,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let generation = shared.generation();
                    connections.spawn(serve_connection(
                        stream,
                        Arc::clone(&shared),
                        generation,
                        snapshot_stored_for,
                    ));
                }
                // E.g. out of file descriptors: back off briefly instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves one connection, opened in `generation` (see [`Shared::retire_connections`]).
async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    generation: u64,
    snapshot_stored_for: Duration,
) {
    let _ = stream.set_nodelay(true);
    let served = Arc::clone(&shared);
    let service = service_fn(move |request| {
        let shared = Arc::clone(&served);
        async move {
            Ok::<_, Infallible>(route(&shared, request, generation, snapshot_stored_for).await)
        }
    });
    // Connection errors (client hung up mid-request, …) only end this connection; a request
    // that is not HTTP (answered `400` by hyper) is also logged as refused, as every other
    // refused request is.
    if let Err(error) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        if error.is_parse() {
            // hyper's answer: `431` for a head too large, `400` for anything else it cannot
            // parse (a URI too long is `is_parse_too_large` too, and answered `414`).
            let status = if error.is_parse_too_large() {
                if error.to_string().contains("URI") {
                    StatusCode::URI_TOO_LONG
                } else {
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
                }
            } else {
                StatusCode::BAD_REQUEST
            };
            shared.rejected(
                "",
                "",
                status.as_u16(),
                &format!("not an HTTP request: {error}"),
            );
        }
    }
}

async fn route(
    shared: &Shared,
    request: Request<Incoming>,
    generation: u64,
    snapshot_stored_for: Duration,
) -> HttpResponse {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let segments: Option<Vec<&str>> = path.strip_prefix(PREFIX).map(|p| p.split('/').collect());
    let response = match (segments.as_deref(), &method) {
        (Some(["invocation", "next"]), &Method::GET) => next(shared, generation).await,
        (Some(["invocation", id, "response"]), &Method::POST) => {
            let id = (*id).to_owned();
            resolve(shared, request, &id, false).await
        }
        (Some(["invocation", id, "error"]), &Method::POST) => {
            let id = (*id).to_owned();
            resolve(shared, request, &id, true).await
        }
        // A SnapStart snapshot is taken, stored and restored while this request waits.
        (Some(["restore", "next"]), &Method::GET) => {
            tokio::time::sleep(snapshot_stored_for).await;
            shared.restored();
            Ok(json_response(StatusCode::OK, serde_json::json!({})))
        }
        (Some(["init" | "restore", "error"]), &Method::POST) => init_error(shared, request).await,
        (
            Some(
                ["invocation", "next"]
                | ["invocation", _, "response" | "error"]
                | ["init" | "restore", "error"]
                | ["restore", "next"],
            ),
            _,
        ) => Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not allowed on {path}"),
        )),
        _ => Err((
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no such route: {path}"),
        )),
    };
    response.unwrap_or_else(|(status, error_type, message)| {
        shared.rejected(method.as_str(), &path, status.as_u16(), &message);
        error_response(status, error_type, &message)
    })
}

type Rejection = (StatusCode, &'static str, String);

async fn next(shared: &Shared, generation: u64) -> Result<HttpResponse, Rejection> {
    let hand_out = match shared.next_invocation(generation).await {
        Next::HandOut(hand_out) => hand_out,
        // Lambda never answers a poll at shutdown; it ends the process. Aborting the server
        // (which follows at once) closes this connection unanswered, so a runtime still
        // polling sees its connection end, not an answer without an invocation's headers.
        Next::Stopped => std::future::pending().await,
        Next::Retired => {
            return Err((
                StatusCode::GONE,
                "ConnectionRetired",
                "this connection belongs to a function process the harness stopped".to_owned(),
            ));
        }
        // Lambda's words for it.
        Next::AfterInitError => {
            return Err((
                StatusCode::FORBIDDEN,
                "InvalidStateTransition",
                "State transition from InitError to Ready failed for runtime. Error: State \
                 transition is not allowed"
                    .to_owned(),
            ));
        }
    };
    let mut response = Response::new(Full::new(hand_out.prepared.event.clone()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in hand_out.prepared.header_pairs() {
        // Values were validated when the invocation was queued; skip rather than panic.
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    Ok(response)
}

async fn read_body(request: Request<Incoming>) -> Result<(hyper::HeaderMap, Bytes), Rejection> {
    read_body_within(request, MAX_BODY_BYTES)
        .await
        .map(|(headers, body, _)| (headers, body))
}

/// A request's headers, body (at most `limit` bytes) and trailers.
async fn read_body_within(
    request: Request<Incoming>,
    limit: usize,
) -> Result<(hyper::HeaderMap, Bytes, Option<hyper::HeaderMap>), Rejection> {
    let (parts, body) = request.into_parts();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned();
            Ok((parts.headers, collected.to_bytes(), trailers))
        }
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("request body exceeds {limit} bytes"),
        )),
        Err(err) => Err((
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            format!("could not read request body: {err}"),
        )),
    }
}

fn error_type_header(headers: &hyper::HeaderMap) -> Option<String> {
    headers
        .get(ERROR_TYPE_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

async fn resolve(
    shared: &Shared,
    request: Request<Incoming>,
    request_id: &str,
    is_error: bool,
) -> Result<HttpResponse, Rejection> {
    let streamed = !is_error
        && request
            .headers()
            .get(RESPONSE_MODE_HEADER)
            .is_some_and(|mode| mode.as_bytes().eq_ignore_ascii_case(b"streaming"));
    let (limit, read_limit) = if streamed {
        (MAX_STREAMED_RESPONSE_BYTES, MAX_STREAMED_RESPONSE_BYTES)
    } else {
        (MAX_RESPONSE_BYTES, MAX_BODY_BYTES)
    };
    let (headers, body, trailers) = match read_body_within(request, read_limit).await {
        Ok(read) => read,
        Err((StatusCode::PAYLOAD_TOO_LARGE, ..)) if !is_error => {
            return response_too_large(shared, request_id, limit, None);
        }
        Err(rejection) => return Err(rejection),
    };
    if !is_error && body.len() > limit {
        return response_too_large(shared, request_id, limit, Some(body.len()));
    }
    let stream_error = trailers
        .filter(|_| streamed)
        .and_then(|trailers| stream_error(&trailers));
    let answer = if is_error {
        Answer::Error {
            error_type: error_type_header(&headers),
            error: ErrorDocument::from_body(body),
        }
    } else if let Some(answer) = stream_error {
        answer
    } else {
        Answer::Response { body }
    };
    shared
        .resolve(request_id, answer)
        .map(|()| accepted())
        .map_err(|error| refused(request_id, is_error, &error))
}

/// How a streamed response that failed once it had begun ended, from its trailers: an error
/// of the type in [`ERROR_TYPE_HEADER`], its body base64 in [`ERROR_BODY_TRAILER`] (kept as
/// it came when it is not base64). `None` when the trailers name no error.
fn stream_error(trailers: &hyper::HeaderMap) -> Option<Answer> {
    let error_type = error_type_header(trailers)?;
    let body = trailers
        .get(ERROR_BODY_TRAILER)
        .map(|body| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .unwrap_or_else(|_| body.as_bytes().to_vec())
        })
        .unwrap_or_default();
    Some(Answer::Error {
        error_type: Some(error_type),
        error: ErrorDocument::from_body(Bytes::from(body)),
    })
}

/// A response over Lambda's `limit` (a buffered one's, or a streamed one's): as on Lambda,
/// the runtime gets `413` and the invocation fails with `Function.ResponseSizeTooLarge`
/// (`size`: the body's, when it was read whole).
fn response_too_large(
    shared: &Shared,
    request_id: &str,
    limit: usize,
    size: Option<usize>,
) -> Result<HttpResponse, Rejection> {
    let message = match size {
        Some(size) => format!(
            "Response payload size ({size} bytes) exceeded maximum allowed payload size \
             ({limit} bytes)."
        ),
        None => {
            format!("Response payload size exceeded maximum allowed payload size ({limit} bytes).")
        }
    };
    let document = serde_json::json!({
        "errorMessage": message,
        "errorType": RESPONSE_TOO_LARGE_ERROR_TYPE,
    });
    let answer = Answer::Error {
        error_type: Some(RESPONSE_TOO_LARGE_ERROR_TYPE.to_owned()),
        error: ErrorDocument::from_body(Bytes::from(document.to_string())),
    };
    shared
        .resolve(request_id, answer)
        .map_err(|error| refused(request_id, false, &error))?;
    Err((
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("Exceeded maximum allowed payload size ({limit} bytes)."),
    ))
}

/// An answer refused, in Lambda's words: its Runtime API checks the request id first (`400
/// InvalidRequestID` unless it is the invocation's the runtime holds or was just handed),
/// then the runtime's state (`403 InvalidStateTransition` for an invocation it has answered
/// already, or has not received yet).
fn refused(request_id: &str, is_error: bool, error: &ResolveError) -> Rejection {
    let from = match error {
        ResolveError::UnknownRequestId => {
            return (
                StatusCode::BAD_REQUEST,
                "InvalidRequestID",
                format!("unknown or already finished request id: {request_id}"),
            );
        }
        ResolveError::NotHandedOut {
            handed_out_before: false,
        } => "Started",
        ResolveError::NotHandedOut {
            handed_out_before: true,
        }
        | ResolveError::AlreadyAnswered => "RuntimeResponseSentState",
    };
    let to = if is_error {
        "InvocationErrorResponse"
    } else {
        "InvocationResponse"
    };
    (
        StatusCode::FORBIDDEN,
        "InvalidStateTransition",
        format!(
            "State transition from {from} to {to} failed for runtime. Error: State transition \
             is not allowed"
        ),
    )
}

async fn init_error(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<HttpResponse, Rejection> {
    let (headers, body) = read_body(request).await?;
    match shared.init_error(error_type_header(&headers), ErrorDocument::from_body(body)) {
        Ok(()) => Ok(accepted()),
        // Lambda's words for it: its runtime is `Ready` once it has asked for work,
        // `InitError` once it has reported one.
        Err(InitErrorRefused(from)) => Err((
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            format!(
                "State transition from {from} to InitError failed for runtime. Error: State \
                 transition is not allowed"
            ),
        )),
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn accepted() -> HttpResponse {
    json_response(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
}

fn error_response(status: StatusCode, error_type: &str, message: &str) -> HttpResponse {
    json_response(
        status,
        serde_json::json!({"errorType": error_type, "errorMessage": message}),
    )
}
